"""What running a comparison's columns side by side costs: the whole comparison / the sum of its runs alone.

    .venv/bin/python benchmarks/compare_schedule.py [--server URL] [--repeats 2] [--tokens 64]
                                                    [--seed 11] [--parts local,vllm] [--json OUT]

Four columns, ``vanilla,bon-4,stars,specrej:n=8``, on one prompt with a fixed
base seed, on the bundled model and the default reward (in this process). For
each backend, in one run, the wall seconds of the whole comparison
(``Comparison.events``) under each of its schedules, their order alternating
from repeat to repeat: in-process ``in turn`` and ``interleaved``, through vLLM
(``--server``) ``at once`` and ``in turn``. In turn, each column runs alone on
the model: the sum of those columns' own wall seconds (``RunStats.wall_seconds``)
is that repeat's "sum of the four runs alone".

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
from stars_engine.params import Params

SPECS = "vanilla,bon-4,stars,specrej:n=8"
PROMPT = [{"role": "user", "content": "Give me three tips for sleeping well, and say why each one works."}]
SCHEDULES = {"local": (IN_TURN, INTERLEAVED), "vllm": (AT_ONCE, IN_TURN)}


def load() -> float:
    return os.getloadavg()[0]


def whole(policy: Any, reward: Any, tokens: int, seed: int, schedule: str) -> dict[str, Any]:
    """The whole comparison under ``schedule``: its wall seconds, each column's own, and the replies."""
    comparison = Comparison(plan(SPECS, Params(max_new_tokens=tokens), seed), PROMPT)
    started, cpu = time.perf_counter(), time.process_time()
    for _ in comparison.events(policy, reward, threading.Event(), schedule=schedule):
        pass
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    failed = [o.error for o in comparison.outcomes if o.error or o.stats is None]
    if failed:
        raise SystemExit(f"a column failed under {schedule}: {failed}")
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "texts": [o.text for o in comparison.outcomes],
            "columns": [round(o.stats.wall_seconds, 2) for o in comparison.outcomes if o.stats is not None],
            "load": load()}


def measure(name: str, policy: Any, reward: Any, repeats: int, tokens: int, seed: int) -> dict[str, Any]:
    """Every schedule of ``name``, their order alternating per repeat; "alone" is the in-turn columns' sum."""
    list(run(policy, reward, PROMPT, Params(max_new_tokens=4)))  # warm up: first torch calls, the server's caches
    sides = SCHEDULES[name]
    rows: list[dict[str, Any]] = []
    for repeat in range(repeats):
        order = list(sides[repeat % 2:] + sides[:repeat % 2])
        row: dict[str, Any] = {"repeat": repeat, "order": order, "load_before": load()}
        for side in order:
            row[side] = whole(policy, reward, tokens, seed, side)
        row["alone"] = round(sum(row[IN_TURN]["columns"]), 2)
        for side in sides:
            row[side]["ratio"] = round(row[side]["seconds"] / row["alone"], 3)
            row[side]["same_replies"] = row[side]["texts"] == row[IN_TURN]["texts"]
        rows.append(row)
        print(f"{name} repeat {repeat} ({' then '.join(order)}): sum alone {row['alone']:.1f} s; " + "; ".join(
            f"{s} {row[s]['seconds']:.1f} s = {row[s]['ratio']:.2f}x (same replies: {row[s]['same_replies']})"
            for s in sides) + f"; load average {row['load_before']:.1f} -> "
            + " -> ".join(f"{row[s]['load']:.1f}" for s in order), flush=True)
    medians = {s: statistics.median(r[s]["ratio"] for r in rows) for s in sides}
    other = next(s for s in sides if s != IN_TURN)
    cpu = statistics.median(r[other]["cpu_seconds"] / r[IN_TURN]["cpu_seconds"] for r in rows)
    loads = [r["load_before"] for r in rows] + [r[s]["load"] for r in rows for s in sides]
    return {"rows": rows, "median_ratio": medians, "load_range": [min(loads), max(loads)],
            f"cpu_seconds_{other}_over_in_turn": round(cpu, 3)}


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
        cpu = next((k, v) for k, v in report[name].items() if k.startswith("cpu_seconds_"))
        print(f"{name}: whole / sum alone, median of {args.repeats}: " + ", ".join(
            f"{s} {r:.2f}x" for s, r in report[name]["median_ratio"].items())
            + f"; this process's CPU seconds, {cpu[0].removeprefix('cpu_seconds_').replace('_', ' ')}: {cpu[1]:.2f}x"
            + f" (load average {low:.1f}-{high:.1f} on {os.cpu_count()} cores)", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
