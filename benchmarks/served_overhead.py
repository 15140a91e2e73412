"""What a request to vLLM costs beside its tokens, and STARS' wall seconds per reply against Best-of-N's.

    .venv/bin/python benchmarks/served_overhead.py [--server URL] [--parts ab] [--requests 40]
                                                   [--prompts 6] [--seeds 0,1] [--tokens 128]
                                                   [--concurrency 12] [--modes fresh,pooled] [--json OUT]

Without ``--server`` it starts vLLM on the bundled model from ``.venv-vllm`` (the
``stars serve`` settings) and stops it at the end.

(a) per request, medians over ``--requests`` alternating calls: ``GET /v1/models``
    (HTTP alone, no engine work) and a 1-token completion, each with a new
    connection per request (the client before keep-alive) and with the pooled
    client; and the fixed cost of a completion beside its tokens, as the
    intercept of 1- and 9-token requests (t1 - (t9 - t1) / 8).
(b) ``stars bench`` through the server with ``--concurrency`` cells in flight,
    S2 (``stars:seg=8:tau=0.25:mode=fixed:k=1``) and ``bon-2`` mixed: one bench per
    client mode of ``--modes``, all at once with the same cells and an equal share of
    the policies (the client before and after, side by side under the same load, cell
    for cell): mean wall seconds per reply, S2's over bon-2's (issue 20's target:
    <= 2), S2's against the first mode's cell by cell, and where a reply's seconds go
    (waiting on the server, scoring, the rest), summed per reply in the cell's own thread.

Machine load moves every figure; only the ratios taken in one run mean anything.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stars_engine.backends.local.load import load_reward
from stars_engine.backends.served.client import ServerClient
from stars_engine.backends.served.connect import served_policies
from stars_engine.backends.served.launch import free_port, start_vllm
from stars_engine.backends.served.policy import ServedPolicy
from stars_engine.bench import BenchPlan, load_prompts, parse_specs, run_bench, take
from stars_engine.bench.strategies import parse_seeds
from stars_engine.events import Event, RunFinished, RunStarted
from stars_engine.params import Params
from stars_engine.weights.convert import default_policy_dir

S2 = "stars:seg=8:tau=0.25:mode=fixed:k=1"
SPECS = f"{S2},bon-2"
PROMPT_IDS = list(range(1000, 1100))  # 100 token ids: a prompt of a chat turn's size, no tokenizer needed


def per_request(url: str, served: str, requests: int) -> dict[str, Any]:
    """(a): medians in ms, both clients alternating call by call."""
    clients = {"fresh": ServerClient(url, keep_alive=False), "pooled": ServerClient(url)}

    def completion(client: ServerClient, tokens: int) -> float:
        payload = {"model": served, "prompt": PROMPT_IDS, "max_tokens": tokens, "temperature": 0.8, "seed": 1,
                   "ignore_eos": True, "return_token_ids": True}
        started = time.perf_counter()
        client.post("/v1/completions", payload)
        return time.perf_counter() - started

    def models(client: ServerClient) -> float:
        started = time.perf_counter()
        client.get("/v1/models")
        return time.perf_counter() - started

    times: dict[str, list[float]] = {}
    for mode in clients:  # warm up: the server's first requests compile and allocate
        completion(clients[mode], 9)
    for _ in range(requests):
        for mode, client in clients.items():
            times.setdefault(f"models_{mode}", []).append(models(client))
            times.setdefault(f"complete1_{mode}", []).append(completion(client, 1))
            times.setdefault(f"complete9_{mode}", []).append(completion(client, 9))
    ms = {name: round(1000 * statistics.median(values), 2) for name, values in times.items()}
    for mode in clients:
        one, nine = ms[f"complete1_{mode}"], ms[f"complete9_{mode}"]
        ms[f"fixed_{mode}"] = round(one - (nine - one) / 8, 2)
    return {"ms": ms, "requests": requests}


class _Clock:
    """Seconds a cell's own thread spends in the policy and in the reward, per reply, by client mode."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.replies: dict[tuple[str, str], list[dict[str, float]]] = {}
        self.lock = threading.Lock()

    def add(self, part: str, seconds: float) -> None:
        spent = getattr(self.local, "spent", None)
        if spent is not None:
            spent[part] = spent.get(part, 0.0) + seconds

    def timed(self, part: str, method):
        def call(*args, **kwargs):
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.add(part, time.perf_counter() - started)
        return call

    def wrap(self, stream: Iterator[Event]) -> Iterator[Event]:
        label = cell = ""
        for event in stream:
            if isinstance(event, RunStarted):
                self.local.spent = {}
                label = _strategy_key(event.params)
                cell = f"{event.messages[-1]['content']}|{event.seed}"
            if isinstance(event, RunFinished):
                spent = dict(self.local.spent, wall=event.stats.wall_seconds, cell=cell)
                with self.lock:
                    self.replies.setdefault((label, self.local.mode), []).append(spent)
            yield event


def _strategy_key(params: dict[str, Any]) -> str:
    """A cell's strategy from its params: everything but the seed."""
    return json.dumps({k: v for k, v in params.items() if k != "seed"}, sort_keys=True)


class _Timed:
    """A policy or reward whose named methods are timed into ``clock``; everything else passes through.
    A policy's ``start`` tells the clock which client mode the cell runs with."""

    def __init__(self, inner: Any, clock: _Clock, part: str, methods: tuple[str, ...], mode: str = ""):
        self._inner, self._clock, self._part, self._methods, self._mode = inner, clock, part, methods, mode

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name == "start":
            self._clock.local.mode = self._mode
        return self._clock.timed(self._part, value) if name in self._methods else value


def in_flight(url: str, modes: list[str], prompts: int, seeds: list[int], tokens: int, concurrency: int,
              out: Path) -> dict[str, Any]:
    """(b): one bench per client mode, all at once, each with the same cells and an equal share of the
    ``concurrency`` policies, so every cell runs once per mode under the same load. Per mode, each
    strategy's mean wall seconds per reply and where they went, S2's over that mode's bon-2, and S2's
    seconds against the first mode's cell by cell (same prompt and seed)."""
    clock = _Clock()
    reward = _Timed(load_reward(), clock, "reward", ("score",))
    base = Params(max_new_tokens=tokens)
    specs = parse_specs(SPECS, base)
    share = max(1, concurrency // len(modes))
    benches: dict[str, list[ServedPolicy]] = {}
    for mode in modes:
        benches[mode] = served_policies([url], count=share)
        for policy in benches[mode]:
            policy.client = ServerClient(url, keep_alive=mode != "fresh")
            policy.ahead = mode == "ahead"
    summaries: dict[str, dict[str, Any]] = {}
    failures: list[BaseException] = []

    def bench(mode: str) -> None:
        timed = [_Timed(p, clock, "server", ("sample", "grow"), mode) for p in benches[mode]]
        plan = BenchPlan(take(load_prompts(None), prompts), specs, seeds, base, out / mode)
        try:
            summaries[mode] = run_bench(timed[0], reward, None, plan, workers=timed[1:], wrap=clock.wrap)
        except BaseException as exc:  # raised below, in the main thread
            failures.append(exc)

    started = time.perf_counter()
    threads = [threading.Thread(target=bench, args=(mode,)) for mode in modes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise failures[0]
    for summary in summaries.values():
        for s in summary["strategies"]:
            if s["errors"]:
                raise SystemExit(f"bench cells failed: {s['errors']}")
    labels = {s.label: _strategy_key(s.params(base, 0).to_dict()) for s in specs}

    def replies(label: str, mode: str) -> list[dict[str, Any]]:
        return clock.replies.get((labels[label], mode), [])

    def mean(label: str, mode: str) -> dict[str, Any]:
        spent = replies(label, mode)
        part = {k: round(statistics.fmean(r.get(k, 0.0) for r in spent), 2) for k in ("wall", "server", "reward")}
        return {"replies": len(spent), **part, "other": round(part["wall"] - part["server"] - part["reward"], 2)}

    first = {r["cell"]: r["wall"] for r in replies(S2, modes[0])}
    per_mode = {}
    for mode in modes:
        row: dict[str, Any] = {"s2": mean(S2, mode), "bon-2": mean("bon-2", mode)}
        row["s2_over_bon2"] = round(row["s2"]["wall"] / row["bon-2"]["wall"], 3)
        row[f"s2_cell_by_cell_over_{modes[0]}"] = round(statistics.median(
            r["wall"] / first[r["cell"]] for r in replies(S2, mode)), 3)
        row["ahead_used"] = sum(p.ahead_used for p in benches[mode])
        row["ahead_wasted_tokens"] = sum(p.ahead_wasted for p in benches[mode])
        row["tokens_generated"] = {s["strategy"]: s["tokens_generated"] for s in summaries[mode]["strategies"]}
        per_mode[mode] = row
    return {"modes": per_mode, "policies_per_mode": share, "bench_seconds": round(elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", help="an already running vLLM server on the bundled model")
    parser.add_argument("--served-model", default="smollm2")
    parser.add_argument("--parts", default="ab", help="which figures: a, b or ab")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--prompts", type=int, default=6)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--concurrency", type=int, default=12)
    parser.add_argument("--modes", default="fresh,ahead",
                        help="for (b), one bench each: fresh (a new connection per request, the client "
                             "before), pooled (keep-alive), ahead (keep-alive, and a one-candidate round's next "
                             "request sent ahead)")
    parser.add_argument("--json", type=Path, help="also write the figures here (merged into what is there)")
    args = parser.parse_args()
    result = json.loads(args.json.read_text()) if args.json and args.json.is_file() else {}

    def save() -> None:
        if args.json:
            args.json.write_text(json.dumps(result, indent=2) + "\n")

    with contextlib.ExitStack() as stack:
        url = args.server or stack.enter_context(
            start_vllm(default_policy_dir(), port=free_port(), served_name=args.served_model)
        )
        if "a" in args.parts:
            result["a_per_request"] = per_request(url, args.served_model, args.requests)
            print(f"(a) per request, ms: {result['a_per_request']['ms']}")
            save()
        if "b" in args.parts:
            with tempfile.TemporaryDirectory() as tmp:
                b = in_flight(url, args.modes.split(","), args.prompts, parse_seeds(args.seeds), args.tokens,
                              args.concurrency, Path(tmp))
            result["b_in_flight"] = b
            for mode, row in b["modes"].items():
                print(f"(b) {mode}: S2 / bon-2 wall s per reply = {row['s2_over_bon2']} {row}")
            save()


if __name__ == "__main__":
    main()
