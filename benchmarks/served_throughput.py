"""The served backend (vLLM) against the in-process engine, as ratios measured in one run.

    .venv/bin/python benchmarks/served_throughput.py [--repeats 3] [--parts ab] [--bench-prompts 8]
                                                     [--server URL] [--json OUT]

Without ``--server`` it starts vLLM on the bundled model from ``.venv-vllm``
(``scripts/setup-vllm.sh``) and stops it at the end.

(a) generated tok/s of STARS (k=4, 16-token segments) through vLLM
    / the same runs in-process (same prompts, seeds, reward); target >= 2
(b) bench cells per minute with 8 cells in flight / one at a time, against
    the same server (same cells); target >= 1.5

The two sides of each ratio alternate and the medians are kept, so drift in
machine load hits both alike.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from stars_engine.backends.local.load import load_policy, load_reward
from stars_engine.backends.served.connect import served_policies
from stars_engine.backends.served.launch import free_port, start_vllm
from stars_engine.bench import BenchPlan, load_prompts, parse_specs, run_bench, take
from stars_engine.engine import run
from stars_engine.events import RunFinished
from stars_engine.params import Params
from stars_engine.weights.convert import default_policy_dir

STARS = Params(strategy="stars", segment_tokens=16, candidates_per_round=4, max_new_tokens=64)
PROMPTS = [
    "Write a long, detailed story about a lighthouse keeper and a storm.",
    "Explain how to plan a week of healthy meals on a budget.",
    "Give advice to someone starting their first job.",
]
BENCH_SPECS = "stars:seg=16:k=4,bon-4"


def stars_tok_s(policy, reward, seed: int) -> float:
    """tokens generated / wall seconds over the prompts, one STARS run each."""
    tokens = seconds = 0.0
    for i, prompt in enumerate(PROMPTS):
        events = list(run(policy, reward, [{"role": "user", "content": prompt}], STARS.with_changes(seed=seed + i)))
        end = events[-1]
        if not isinstance(end, RunFinished):
            raise SystemExit(f"a run failed: {end}")
        tokens += end.stats.tokens_generated
        seconds += end.stats.wall_seconds
    return tokens / seconds


def cells_per_minute(policies, reward, prompts: int, out: Path) -> float:
    base = Params(max_new_tokens=48)
    plan = BenchPlan(take(load_prompts(None), prompts), parse_specs(BENCH_SPECS, base), [0], base, out)
    started = time.perf_counter()
    summary = run_bench(policies[0], reward, None, plan, workers=policies[1:])
    elapsed = time.perf_counter() - started
    cells = len(plan.cells())
    errors = [e for strategy in summary["strategies"] for e in strategy["errors"]]
    if errors:
        raise SystemExit(f"bench cells failed: {errors}")
    return cells / (elapsed / 60)


def measure_a(url: str, repeats: int) -> dict:
    reward = load_reward()
    local = load_policy()
    [served] = served_policies([url])
    a_served, a_local = [], []
    stars_tok_s(served, reward, 999)  # warm both sides up (server compile caches, first torch calls)
    stars_tok_s(local, reward, 999)
    for r in range(repeats):
        a_served.append(stars_tok_s(served, reward, 100 * r))
        a_local.append(stars_tok_s(local, reward, 100 * r))
        print(f"(a) repeat {r}: vLLM {a_served[-1]:.1f} tok/s, in-process {a_local[-1]:.1f} tok/s", file=sys.stderr)
    ratio = statistics.median(a_served) / statistics.median(a_local)
    return {"vllm": a_served, "in_process": a_local, "ratio_of_medians": round(ratio, 3), "params": STARS.to_dict()}


def measure_b(url: str, repeats: int, bench_prompts: int) -> dict:
    reward = load_reward()
    [served] = served_policies([url])
    eight = served_policies([url], count=8)
    b_one, b_eight = [], []
    for r in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            b_one.append(cells_per_minute([served], reward, bench_prompts, Path(tmp) / "c1"))
            b_eight.append(cells_per_minute(eight, reward, bench_prompts, Path(tmp) / "c8"))
        print(f"(b) repeat {r}: concurrency 1 {b_one[-1]:.1f} cells/min, 8 {b_eight[-1]:.1f}", file=sys.stderr)
    ratio = statistics.median(b_eight) / statistics.median(b_one)
    return {
        "concurrency_8": b_eight, "concurrency_1": b_one, "ratio_of_medians": round(ratio, 3),
        "bench": {"strategies": BENCH_SPECS, "prompts": bench_prompts, "seeds": [0], "max_new_tokens": 48},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bench-prompts", type=int, default=8)
    parser.add_argument("--server", help="an already running vLLM server on the bundled model")
    parser.add_argument("--parts", default="ab", help="which figures: a, b or ab")
    parser.add_argument("--json", type=Path, help="also write the figures here (merged into what is there)")
    args = parser.parse_args()
    result = json.loads(args.json.read_text()) if args.json and args.json.is_file() else {}
    with contextlib.ExitStack() as stack:
        url = args.server or stack.enter_context(
            start_vllm(default_policy_dir(), port=free_port(), served_name="smollm2")
        )
        if "a" in args.parts:
            result["a_stars_tok_s"] = measure_a(url, args.repeats)
            print(f"(a) STARS tok/s, vLLM / in-process: {result['a_stars_tok_s']['ratio_of_medians']:.2f} (>= 2)")
            if args.json:
                args.json.write_text(json.dumps(result, indent=2) + "\n")
        if "b" in args.parts:
            result["b_cells_per_min"] = measure_b(url, args.repeats, args.bench_prompts)
            print(f"(b) cells/min, concurrency 8 / 1: {result['b_cells_per_min']['ratio_of_medians']:.2f} (>= 1.5)")
            if args.json:
                args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
