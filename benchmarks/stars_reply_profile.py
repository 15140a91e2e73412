"""Where the seconds of one default STARS reply go, in-process and through the worker process.

A default ``stars run`` reply (the bundled chat model and rubric reward, default
params, 128 tokens) is decoded for a few prompts and seeds with timers wrapped
around the engine's parts; whatever no timer covers is the engine's own Python
(the segment loop, events, params). The same replies are then decoded through
the worker process the workbench uses, alternating with in-process runs, and the
difference per reply is the pipe (pickling, the round trips, the worker's loop).

    .venv/bin/python benchmarks/stars_reply_profile.py --prompts 3 --seeds 0,1
    .venv/bin/python benchmarks/stars_reply_profile.py --set candidates_per_round=2 --no-worker
    .venv/bin/python benchmarks/stars_reply_profile.py --no-worker --prompts 6 --seeds 0,1 \
        --side candidates_per_round=4 --side candidates_per_round=2 --side candidates_per_round=auto

With ``--side`` (repeated) the sides run alternating, in a rotating order, on the
same prompts and seeds: seconds per reply, the guide reward (the run's final
reward, what ``stars bench`` reports as guide_reward) and tokens, side by side.
``--probe`` times the two things the worker and an overlap would change: one
pipe round trip, and a round's reward scoring run beside the next round's
drafting (two threads) against one after the other.

Parts (seconds per reply, and their share of the in-process wall time):
  prefill        the prompt's forward (``start``) and any re-encoded exhausted segment
  decode         the per-token forwards of the policy's sampling rounds
  sampling       ``sampler.draw``: temperature, top-k, top-p, the multinomial draw
  token loop     the rest of ``sample``: EOS tests, writing the drawn column
  detokenize     cutting rows at EOS and decoding them to text
  cache          commit / discard: selecting and cropping KV-cache rows
  reward         ``reward.score`` (embedding the candidates, the rubric's dot products)
  store          writing the events to a SQLite session file (``Recorder``)
  engine         the remainder: the segment loop, events, params, the generators
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

PARTS = ("prefill", "decode", "sampling", "token loop", "detokenize", "cache", "reward", "store", "engine")


class Timers:
    """Seconds per named part; ``wrap`` times a method or function, nested parts subtracted from their parent."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[list[float]] = []  # per open timer: the child seconds to subtract

    def timed(self, name: str | Callable[..., str], fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self._stack.append([0.0])
            began = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.perf_counter() - began
                children = self._stack.pop()[0]
                label = name(*args, **kwargs) if callable(name) else name
                self.seconds[label] += spent - children
                self.calls[label] += 1
                if self._stack:
                    self._stack[-1][0] += spent

        return wrapper

    def wrap(self, owner: Any, attr: str, name: str | Callable[..., str]) -> None:
        setattr(owner, attr, self.timed(name, getattr(owner, attr)))

    def take(self) -> dict[str, float]:
        out = dict(self.seconds)
        self.seconds.clear()
        self.calls.clear()
        return out


def instrument(policy, reward, timers: Timers) -> None:
    """Wrap the policy's and reward's parts (this instance only; the sampler module-wide)."""
    from stars_engine.backends.local import policy as policy_module
    from stars_engine.store import recorder

    timers.wrap(policy, "_forward", lambda ids: "prefill" if ids.shape[1] > 1 else "decode")
    timers.wrap(policy_module, "draw", "sampling")
    timers.wrap(policy, "sample", "token loop")
    timers.wrap(policy, "start", "token loop")  # its remainder is encoding the chat template: small
    timers.wrap(policy, "_candidate", "detokenize")
    timers.wrap(policy, "commit", "cache")
    timers.wrap(policy, "discard", "cache")
    timers.wrap(reward, "score", "reward")
    timers.wrap(recorder.RunWriter, "write_many", "store")


def machine() -> dict[str, Any]:
    import torch

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    flags = Path("/proc/cpuinfo").read_text()
    return {"cpu": model, "cores": os.cpu_count(), "avx512_bf16": "avx512_bf16" in flags,
            "torch": torch.__version__, "torch_threads": torch.get_num_threads()}


def one_reply(
    policy, reward, prompt: str, params, db: Path | None, cpu: list[float] | None = None
) -> tuple[float, Any]:
    """Decode one reply (recorded into ``db`` when given); its wall seconds and last event.

    ``cpu`` gets this process's CPU seconds for the reply appended: on a shared
    machine they move less with the load than wall seconds do."""
    from stars_engine.engine import run
    from stars_engine.events import RunFailed, RunFinished

    messages = [{"role": "user", "content": prompt}]
    began, began_cpu = time.perf_counter(), time.process_time()
    events = run(policy, reward, messages, params)
    if db is not None:
        from stars_engine.store import Recorder

        events = Recorder(db).record(events)
    last = None
    for event in events:
        last = event
    wall = time.perf_counter() - began
    if cpu is not None:
        cpu.append(time.process_time() - began_cpu)
    if isinstance(last, RunFailed):
        raise SystemExit(f"run failed: {last.message}")
    assert isinstance(last, RunFinished)
    return wall, last


def side_changes(text: str) -> dict[str, Any]:
    from stars_engine.params import parse_value

    pairs = [item.split("=", 1) for item in text.split(",") if item]
    return {k.strip(): parse_value(k.strip(), v) for k, v in pairs}


def compare(policy, reward, timers: Timers, sides: list[str], prompts: list[str], seeds: list[int],
            db: Path) -> dict[str, Any]:
    """Each side on every prompt and seed, alternating (the order rotates), with its breakdown."""
    from stars_engine.params import Params

    figures: dict[str, dict[str, Any]] = {
        s: {"wall": [], "cpu": [], "reward": [], "generated": [], "parts": defaultdict(float)} for s in sides}
    turn = 0
    for prompt in prompts:
        for seed in seeds:
            order = sides[turn % len(sides):] + sides[: turn % len(sides)]
            turn += 1
            for side in order:
                f = figures[side]
                params = Params(seed=seed, **side_changes(side))
                wall, finished = one_reply(policy, reward, prompt, params, db, f["cpu"])
                parts = timers.take()
                parts["engine"] = wall - sum(parts.values())
                f["wall"].append(wall)
                f["reward"].append(finished.stats.final_reward)
                f["generated"].append(finished.stats.tokens_generated)
                for k, v in parts.items():
                    f["parts"][k] += v
            print(f"{prompt[:30]!r} seed {seed}: " + ", ".join(
                f"{s} {figures[s]['wall'][-1]:.2f} s r={figures[s]['reward'][-1]:.3f}" for s in sides), flush=True)
    first = sides[0]
    base_wall, base_cpu = sum(figures[first]["wall"]), sum(figures[first]["cpu"])
    print(f"\n{'side':<32} {'s/reply':>8} {'÷ first':>8} {'CPU s':>7} {'÷ first':>8} {'guide reward':>13} "
          f"{'generated':>10}")
    out = {}
    for side in sides:
        f = figures[side]
        n = len(f["wall"])
        mean = {"s_per_reply": sum(f["wall"]) / n, "ratio_to_first": sum(f["wall"]) / base_wall,
                "cpu_s_per_reply": sum(f["cpu"]) / n, "cpu_ratio_to_first": sum(f["cpu"]) / base_cpu,
                "guide_reward": sum(f["reward"]) / n, "generated": sum(f["generated"]) / n,
                "parts_s_per_reply": {k: f["parts"].get(k, 0.0) / n for k in PARTS}, "walls": f["wall"],
                "rewards": f["reward"]}
        out[side] = mean
        print(f"{side:<32} {mean['s_per_reply']:8.2f} {mean['ratio_to_first']:8.3f} {mean['cpu_s_per_reply']:7.2f} "
              f"{mean['cpu_ratio_to_first']:8.3f} {mean['guide_reward']:13.4f} "
              f"{mean['generated']:10.0f}")
    print(f"\n{'part (s/reply)':<12} " + " ".join(f"{s[-14:]:>14}" for s in sides))
    for k in PARTS:
        print(f"{k:<12} " + " ".join(f"{out[s]['parts_s_per_reply'][k]:14.3f}" for s in sides))
    return out


def probe(policy, reward, worker, repeats: int = 5) -> dict[str, float]:
    """One pipe round trip; a round's scoring beside the next round's drafting against one after the other."""
    import threading

    from stars_engine.params import Params

    figures: dict[str, float] = {}
    if worker is not None:
        w = worker[0].worker
        w.call("reward", "get_rubric")
        began = time.perf_counter()
        for _ in range(200):
            w.call("reward", "get_rubric")
        figures["pipe_round_trip_ms"] = (time.perf_counter() - began) * 1000 / 200
    p = Params()
    from stars_engine.policy.base import Sampling

    sampling = Sampling(temperature=p.temperature, top_p=p.top_p, top_k=p.top_k)
    prompt = "Why is the sky blue during the day?"
    policy.start([{"role": "user", "content": prompt}], 0)
    reply = policy.sample(4, 16, sampling)[0]
    policy.commit(reply)
    texts = [reply.text + c.text for c in policy.sample(4, 16, sampling)]
    policy.discard()

    def draft() -> None:
        policy.sample(4, 16, sampling)
        policy.discard()

    def score() -> None:
        reward.score(prompt, texts)

    serial, overlapped, alone = [], [], []
    for _ in range(repeats):
        began = time.perf_counter()
        draft()
        alone.append(time.perf_counter() - began)
        began = time.perf_counter()
        score()
        draft()
        serial.append(time.perf_counter() - began)
        began = time.perf_counter()
        thread = threading.Thread(target=score)
        thread.start()
        draft()
        thread.join()
        overlapped.append(time.perf_counter() - began)
    figures.update(draft_s=sorted(alone)[repeats // 2], score_then_draft_s=sorted(serial)[repeats // 2],
                   score_beside_draft_s=sorted(overlapped)[repeats // 2])
    figures["overlap_ratio"] = figures["score_beside_draft_s"] / figures["score_then_draft_s"]
    print(f"probe: {json.dumps({k: round(v, 4) for k, v in figures.items()})}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=3, help="the first N shipped bench prompts (round-robin)")
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds, each prompt runs once per seed")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="a Params field")
    parser.add_argument("--no-worker", action="store_true", help="skip the worker-process side")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--side", action="append", default=[], metavar="F=V,F=V",
                        help="compare sides (Params changes), alternating")
    parser.add_argument("--probe", action="store_true", help="time a pipe round trip and scoring beside drafting")
    args = parser.parse_args()

    from stars_engine.backends.local.load import load_policy, load_reward
    from stars_engine.bench.prompts import load_prompts, take
    from stars_engine.params import Params, parse_value

    changes = {k: parse_value(k, v) for k, v in (s.split("=", 1) for s in args.set)}
    seeds = [int(s) for s in args.seeds.split(",")]
    prompts = [p.prompt for p in take(load_prompts(), args.prompts)]
    load_before = os.getloadavg()
    policy, reward = load_policy(), load_reward()
    timers = Timers()
    instrument(policy, reward, timers)
    worker = None
    if not args.no_worker:
        from stars_engine.backends.spec import ModelSpec
        from stars_engine.backends.worker.process import start

        worker = start(ModelSpec())
        timers.wrap(worker[0].worker, "call", "pipe calls")  # counted only; its seconds include the worker's work
    db = Path(tempfile.mkdtemp(prefix="stars-profile-")) / "profile.db"
    one_reply(policy, reward, "Warm up.", Params(max_new_tokens=16, seed=0), db)  # first-call costs out
    if worker is not None:
        one_reply(*worker, "Warm up.", Params(max_new_tokens=16, seed=0), None)
    timers.take()
    if args.probe:
        report = {"machine": machine(), "load": os.getloadavg(), "probe": probe(policy, reward, worker)}
        timers.take()
        if not args.side:
            print(f"machine: {report['machine']}; load average {report['load'][0]:.2f}")
            if args.json:
                args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
            return
    if args.side:
        out = compare(policy, reward, timers, args.side, prompts, seeds, db)
        print(f"machine: {machine()}; load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after; "
              f"{len(prompts)} prompts x {len(seeds)} seeds")
        if args.json:
            args.json.write_text(json.dumps({"machine": machine(), "load_before": load_before,
                                             "load_after": os.getloadavg(), "sides": out}, indent=2) + "\n",
                                 encoding="utf-8")
        return

    rows, totals, worker_walls, loads = [], defaultdict(float), [], []
    for prompt in prompts:
        for seed in seeds:
            params = Params(seed=seed, **changes)
            wall, finished = one_reply(policy, reward, prompt, params, db)
            parts = timers.take()
            parts["engine"] = wall - sum(parts.values())
            for k, v in parts.items():
                totals[k] += v
            row = {"seed": seed, "prompt": prompt[:40], "wall_s": wall, "tokens": finished.stats.tokens_accepted,
                   "generated": finished.stats.tokens_generated, "attempts": finished.stats.attempts,
                   "reward": finished.stats.final_reward}
            if worker is not None:  # the app's way: the same seed, so the same reply, through the pipe
                row["worker_wall_s"], again = one_reply(*worker, prompt, params, None)
                row["same_text"] = again.text == finished.text
                row["pipe_calls"] = timers.calls["pipe calls"]
                timers.take()
                worker_walls.append(row["worker_wall_s"])
            loads.append(os.getloadavg()[0])
            rows.append(row)
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), flush=True)

    n = len(rows)
    wall = sum(r["wall_s"] for r in rows) / n
    per_reply = {k: totals.get(k, 0.0) / n for k in PARTS}
    print(f"\nmachine: {machine()}; load average {load_before[0]:.2f} before, "
          f"{min(loads):.2f}-{max(loads):.2f} during (on {os.cpu_count()} cores)")
    print(f"params: {Params(**changes).to_dict()}")
    print(f"{n} replies ({len(prompts)} prompts x {len(seeds)} seeds), mean in-process wall {wall:.2f} s, "
          f"{sum(r['tokens'] for r in rows) / n:.0f} tokens accepted, "
          f"{sum(r['generated'] for r in rows) / n:.0f} generated, {sum(r['attempts'] for r in rows) / n:.1f} attempts")
    print(f"{'part':<12} {'s/reply':>8} {'share':>7}")
    for k in PARTS:
        print(f"{k:<12} {per_reply[k]:8.3f} {per_reply[k] / wall:7.1%}")
    report: dict[str, Any] = {"machine": machine(), "load_before": load_before, "load_during": [min(loads), max(loads)],
                              "params": Params(**changes).to_dict(), "rows": rows, "mean_wall_s": wall,
                              "parts_s_per_reply": per_reply}
    if worker is not None:
        mean_worker = sum(worker_walls) / n
        same = all(r["same_text"] for r in rows)
        calls = sum(r["pipe_calls"] for r in rows) / n
        print(f"{'worker pipe':<12} {mean_worker - wall:8.3f} {(mean_worker - wall) / wall:7.1%}   "
              f"(worker-process wall {mean_worker:.2f} s minus in-process; same replies: {same}; "
              f"{calls:.0f} pipe calls per reply)")
        report.update(mean_worker_wall_s=mean_worker, worker_pipe_s=mean_worker - wall, worker_same_text=same,
                      pipe_calls_per_reply=calls)
        worker[0].close()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
