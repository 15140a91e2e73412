"""What running a comparison's columns side by side costs: the whole comparison / the sum of its runs alone.

    .venv/bin/python benchmarks/compare_schedule.py [--server URL] [--repeats 2] [--tokens 64]
                                                    [--seed 11] [--parts local,vllm] [--json OUT]

Four columns, ``vanilla,bon-4,stars,specrej:n=8``, on one prompt with a fixed
base seed, on the bundled model and the default reward (in this process). For
each backend, in one run and alternating the sides within every repeat:

- alone: each column's run by itself (``engine.run``), wall seconds summed;
- each schedule: the wall seconds of the whole comparison (``Comparison.events``);
  in-process ``in turn`` and ``interleaved``, through vLLM (``--server``) ``at once``
  and ``in turn``.

The figure is whole / sum alone: 1.0 costs nothing extra, below 1 the schedule
shares work (the server batching the columns), above 1 it costs. Each
schedule's replies are checked equal to the in-turn ones (the same seed gives
the same reply per column whatever the schedule). The 1-minute load average is
printed with every figure: on a shared machine only ratios of sides measured
side by side mean anything.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from stars_engine.compare import AT_ONCE, IN_TURN, INTERLEAVED, Comparison, plan
from stars_engine.engine import run
from stars_engine.events import RunFinished
from stars_engine.params import Params

SPECS = "vanilla,bon-4,stars,specrej:n=8"
PROMPT = [{"role": "user", "content": "Give me three tips for sleeping well, and say why each one works."}]
SCHEDULES = {"local": (IN_TURN, INTERLEAVED), "vllm": (AT_ONCE, IN_TURN)}


def load() -> float:
    return os.getloadavg()[0]


def alone(policy: Any, reward: Any, tokens: int, seed: int) -> tuple[float, list[str]]:
    """Each column's run by itself, one after another: the summed wall seconds and the replies."""
    total, texts = 0.0, []
    for column in plan(SPECS, Params(max_new_tokens=tokens), seed):
        started = time.perf_counter()
        end = list(run(policy, reward, PROMPT, column.params))[-1]
        total += time.perf_counter() - started
        if not isinstance(end, RunFinished):
            raise SystemExit(f"column {column.spec.label} failed alone: {end}")
        texts.append(end.text)
    return total, texts


def whole(policy: Any, reward: Any, tokens: int, seed: int, schedule: str) -> tuple[float, list[str]]:
    """The whole comparison under ``schedule``: its wall seconds and the columns' replies."""
    comparison = Comparison(plan(SPECS, Params(max_new_tokens=tokens), seed), PROMPT)
    started = time.perf_counter()
    for _ in comparison.events(policy, reward, threading.Event(), schedule=schedule):
        pass
    seconds = time.perf_counter() - started
    failed = [o.error for o in comparison.outcomes if o.error]
    if failed:
        raise SystemExit(f"a column failed under {schedule}: {failed}")
    return seconds, [o.text for o in comparison.outcomes]


def measure(name: str, policy: Any, reward: Any, repeats: int, tokens: int, seed: int) -> dict[str, Any]:
    """Alone and every schedule of ``name``, alternating their order per repeat."""
    whole(policy, reward, 8, seed + 1000, IN_TURN)  # warm up: first torch calls, the server's caches
    sides = ["alone", *SCHEDULES[name]]
    rows: list[dict[str, Any]] = []
    for repeat in range(repeats):
        order = sides[repeat % len(sides):] + sides[:repeat % len(sides)]
        row: dict[str, Any] = {"repeat": repeat, "order": order, "load_before": load()}
        for side in order:
            seconds, texts = (alone(policy, reward, tokens, seed) if side == "alone"
                              else whole(policy, reward, tokens, seed, side))
            row[side] = {"seconds": round(seconds, 2), "texts": texts, "load": load()}
        for schedule in SCHEDULES[name]:
            row[schedule]["ratio"] = round(row[schedule]["seconds"] / row["alone"]["seconds"], 3)
            row[schedule]["same_replies"] = row[schedule]["texts"] == row[IN_TURN]["texts"]
        rows.append(row)
        print(f"{name} repeat {repeat}: alone {row['alone']['seconds']:.1f} s; " + "; ".join(
            f"{s} {row[s]['seconds']:.1f} s = {row[s]['ratio']:.2f}x (same replies: {row[s]['same_replies']})"
            for s in SCHEDULES[name]) + f"; load {row['load_before']:.1f}-{max(row[s]['load'] for s in sides):.1f}",
            flush=True)
    medians = {s: statistics.median(r[s]["ratio"] for r in rows) for s in SCHEDULES[name]}
    loads = [r["load_before"] for r in rows] + [r[s]["load"] for r in rows for s in sides]
    return {"rows": rows, "median_ratio": medians, "load_range": [min(loads), max(loads)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", help="a vLLM server on the bundled model (stars serve), for the vllm part")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--parts", default="local,vllm", help="local, vllm or both (vllm needs --server)")
    parser.add_argument("--json", type=Path, help="write every measurement here")
    args = parser.parse_args()
    from stars_engine.backends.local.load import load_policy, load_reward

    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if "vllm" in parts and not args.server:
        parts.remove("vllm")
        print("no --server: the vllm part is left out")
    reward = load_reward()
    report: dict[str, Any] = {"specs": SPECS, "tokens": args.tokens, "seed": args.seed, "cpus": os.cpu_count()}
    for name in parts:
        if name == "local":
            policy = load_policy()
        else:
            from stars_engine.backends.served.connect import served_policies

            [policy] = served_policies([args.server])
        report[name] = measure(name, policy, reward, args.repeats, args.tokens, args.seed)
        low, high = report[name]["load_range"]
        print(f"{name}: whole / sum alone, median of {args.repeats}: " + ", ".join(
            f"{s} {r:.2f}x" for s, r in report[name]["median_ratio"].items()) + f" (load average {low:.1f}-{high:.1f}"
            f" on {os.cpu_count()} cores)", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
