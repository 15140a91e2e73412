"""Side-by-side speed comparisons where each side needs its own process.

A side is one way of running the engine: older code (``git archive`` of a
ref, put first on ``PYTHONPATH``), other ``--dtype`` / ``--threads``, or another
``OMP_WAIT_POLICY`` (read once when torch loads, so never comparable inside one
process). Every repeat runs every side once, in a rotated order, each in a
fresh process that loads the real default models and measures:

- the engine's ``vanilla`` tok/s over ``tokens`` tokens (reward scoring at
  segment boundaries included), and
- one default STARS reply (``Params()``: 16-token segments, 4 candidates per
  round, up to 8 attempts) of ``reply_tokens`` tokens: its wall seconds and its
  generated tokens per second (rejected candidates included).

The medians over repeats are reported; drift in the machine's load hits every
side alike because the sides alternate.
"""

from __future__ import annotations

import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMPT = [{"role": "user", "content": "Write a long, detailed story about a lighthouse keeper and a storm."}]


@dataclass(frozen=True)
class Side:
    name: str
    args: tuple[str, ...] = ()  # --dtype / --threads for load_policy
    env: dict[str, str] = field(default_factory=dict)
    ref: str | None = None  # run stars_engine as of this git ref


def speedup_sides(before: str, cores: int) -> list[Side]:
    """(a) and (c): the code before this work, this code with the old defaults, this code as it chooses."""
    return [
        Side("before", ref=before),
        Side("old-defaults", ("--dtype", "fp32", "--threads", str(cores))),
        Side("after"),
    ]


def thread_sides() -> list[Side]:
    """Threads 1 and 2, sleeping (PASSIVE) or spinning (ACTIVE) OpenMP waits, in bf16."""
    return [
        Side("1 thread, PASSIVE", ("--threads", "1"), {"OMP_WAIT_POLICY": "PASSIVE"}),
        Side("2 threads, PASSIVE", ("--threads", "2"), {"OMP_WAIT_POLICY": "PASSIVE"}),
        Side("2 threads, ACTIVE", ("--threads", "2"), {"OMP_WAIT_POLICY": "ACTIVE"}),
        Side("1 thread, ACTIVE", ("--threads", "1"), {"OMP_WAIT_POLICY": "ACTIVE"}),
    ]


def checkout(ref: str) -> Path:
    """``stars_engine`` as of ``ref``, unpacked into a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="stars-before-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "stars_engine"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def run_side(side: Side, tokens: int, reply_tokens: int, seed: int, code: dict[str, Path]) -> dict:
    env = {**os.environ, **side.env}
    if side.ref:
        env["PYTHONPATH"] = str(code[side.ref])
    command = [sys.executable, str(Path(__file__).resolve()), "--tokens", str(tokens),
               "--reply-tokens", str(reply_tokens), "--seed", str(seed), *side.args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"side {side.name} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(sides: list[Side], repeats: int, tokens: int, reply_tokens: int) -> dict:
    """Every side once per repeat, rotated; medians per side."""
    code = {s.ref: checkout(s.ref) for s in sides if s.ref}
    runs: dict[str, list[dict]] = {s.name: [] for s in sides}
    for i in range(repeats):
        for side in sides[i % len(sides):] + sides[: i % len(sides)]:
            result = run_side(side, tokens, reply_tokens, i, code)
            runs[side.name].append(result)
            print(f"  repeat {i} {side.name}: {json.dumps(result)}", file=sys.stderr, flush=True)
    keys = ("vanilla_tok_s", "stars_reply_s", "stars_generated_tok_s", "stars_kept_tokens")
    return {name: {k: round(statistics.median(r[k] for r in rs), 3) for k in keys} | {"runtime": rs[0]["runtime"]}
            for name, rs in runs.items()}


def measure(tokens: int, reply_tokens: int, seed: int, dtype: str | None, threads: int | None) -> dict:
    """One side's figures, in this process (whatever ``stars_engine`` is first on the path)."""
    from stars_engine.engine import run
    from stars_engine.events import RunFinished
    from stars_engine.loading import load_policy, load_reward
    from stars_engine.params import Params

    overrides = {"dtype": dtype, "threads": threads}
    accepted = inspect.signature(load_policy).parameters
    policy = load_policy(**{k: v for k, v in overrides.items() if k in accepted and v is not None})
    reward = load_reward()

    def finished(params: Params) -> RunFinished:
        return [e for e in run(policy, reward, PROMPT, params) if isinstance(e, RunFinished)][0]

    finished(Params(strategy="vanilla", max_new_tokens=8, seed=seed))  # warm-up
    vanilla = finished(Params(strategy="vanilla", segment_tokens=16, max_new_tokens=tokens, seed=seed)).stats
    started = time.perf_counter()
    stars = finished(Params(max_new_tokens=reply_tokens, seed=seed)).stats
    import torch

    return {
        "vanilla_tok_s": vanilla.tokens_generated / vanilla.wall_seconds,
        "stars_reply_s": time.perf_counter() - started,
        "stars_generated_tok_s": stars.tokens_generated / stars.wall_seconds,
        "stars_kept_tokens": stars.tokens_accepted,
        "runtime": getattr(policy, "runtime", None) or {
            "dtype": str(next(policy.model.parameters()).dtype), "threads": torch.get_num_threads(),
            "wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        },
    }


if __name__ == "__main__":  # one side, as run by ``run_side``
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, required=True)
    parser.add_argument("--reply-tokens", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--dtype")
    parser.add_argument("--threads", type=int)
    a = parser.parse_args()
    print(json.dumps(measure(a.tokens, a.reply_tokens, a.seed, a.dtype, a.threads)))
