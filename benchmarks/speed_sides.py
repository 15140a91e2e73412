"""Side-by-side speed comparisons of ways to run the engine, on the real default models.

``speedup``: four sides in one process, alternating run by run: the code
before this work (``git archive REF stars_engine``, imported as
``stars_before``: its imports are relative), this code with the old defaults
(fp32, torch's default thread count), this code with the weights expanded
(``--weights dense``: bf16 where native, 1 thread for a small model), and this
code as it chooses (the same, with exactly-4-bit weights packed). One process means one OpenMP wait policy
(PASSIVE, the default of both) and seconds, not minutes, between the sides.

``threads``: 1 and 2 threads under sleeping (PASSIVE) and spinning (ACTIVE)
OpenMP waits. The wait policy is read once when torch loads, so each side is
its own process; the sides alternate per repeat.

Each side measures the engine's ``vanilla`` over ``tokens`` tokens (reward
scoring at segment boundaries included) and one default STARS reply
(``Params()``: 16-token segments, 4 candidates per round, up to 8 attempts) of
``reply_tokens`` tokens: wall seconds, tokens per second, and CPU seconds per
generated token (``time.process_time``, every thread of the process: on a
shared machine the work done, where wall time also counts waiting for a core).
Medians over repeats are reported.
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMPT = [{"role": "user", "content": "Write a long, detailed story about a lighthouse keeper and a storm."}]
KEYS = ("vanilla_tok_s", "vanilla_cpu_ms_per_token", "stars_reply_s", "stars_generated_tok_s",
        "stars_cpu_ms_per_token", "stars_kept_tokens")


@dataclass
class Engine:
    """One side: how to run a params object, and with how many threads."""

    name: str
    run: Callable  # (messages, params) -> RunFinished
    params: type
    threads: int
    runtime: dict


def checkout(ref: str) -> Path:
    """``stars_engine`` as of ``ref``, unpacked into a temporary folder as the package ``stars_before``."""
    folder = Path(tempfile.mkdtemp(prefix="stars-before-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "stars_engine"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    (folder / "stars_engine").rename(folder / "stars_before")
    return folder


def measure(engine: Engine, tokens: int, reply_tokens: int, seed: int) -> dict:
    """One vanilla reply and one default STARS reply with ``engine``."""
    import torch

    torch.set_num_threads(engine.threads)
    figures = {}
    for label, params in (
        ("vanilla", engine.params(strategy="vanilla", segment_tokens=16, max_new_tokens=tokens, seed=seed)),
        ("stars", engine.params(max_new_tokens=reply_tokens, seed=seed)),
    ):
        wall, cpu = time.perf_counter(), time.process_time()
        stats = engine.run(PROMPT, params).stats
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        figures[f"{label}_cpu_ms_per_token"] = 1000 * cpu / stats.tokens_generated
        if label == "vanilla":
            figures["vanilla_tok_s"] = stats.tokens_generated / wall
        else:
            figures |= {"stars_reply_s": wall, "stars_generated_tok_s": stats.tokens_generated / wall,
                        "stars_kept_tokens": stats.tokens_accepted}
    return figures


def medians(runs: dict[str, list[dict]], runtimes: dict[str, dict]) -> dict:
    return {name: {k: round(statistics.median(r[k] for r in rs), 3) for k in KEYS} | {"runtime": runtimes[name]}
            for name, rs in runs.items()}


def alternate(names: list[str], repeats: int, one: Callable[[str, int], dict]) -> dict[str, list[dict]]:
    """Every side once per repeat, the order rotated each repeat."""
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for i in range(repeats):
        for name in names[i % len(names):] + names[: i % len(names)]:
            runs[name].append(one(name, i))
            print(f"  repeat {i} {name}: {json.dumps(runs[name][-1])}", file=sys.stderr, flush=True)
    return runs


def engines(before: str, cores: int) -> list[Engine]:
    """before / old-defaults / after, loaded once in this process; one reward shared by all."""
    from stars_engine.backends.local.load import load_policy, load_reward
    from stars_engine.engine import run
    from stars_engine.params import Params

    sys.path.insert(0, str(checkout(before)))
    old = {m: importlib.import_module(f"stars_before.{m}") for m in ("engine", "loading", "params")}
    reward = load_reward()

    def runner(engine_run, policy):
        # by name: the old code's RunFinished is its own class
        return lambda messages, params: [e for e in engine_run(policy, reward, messages, params)
                                         if type(e).__name__ == "RunFinished"][-1]

    old_policy = old["loading"].load_policy()
    fp32 = load_policy(dtype="fp32", threads=cores)
    dense = load_policy(weights="dense")
    chosen = load_policy()
    return [
        Engine("before", runner(old["engine"].run, old_policy), old["params"].Params, cores,
               {"dtype": "fp32", "threads": cores, "code": before}),
        Engine("old-defaults", runner(run, fp32), Params, cores, fp32.runtime),
        Engine("dense", runner(run, dense), Params, dense.runtime["threads"] or cores, dense.runtime),
        Engine("after", runner(run, chosen), Params, chosen.runtime["threads"] or cores, chosen.runtime),
    ]


def speedup(before: str, cores: int, repeats: int, tokens: int, reply_tokens: int) -> dict:
    sides = {e.name: e for e in engines(before, cores)}
    for engine in sides.values():  # warm-up
        measure(engine, 8, 8, 0)
    runs = alternate(list(sides), repeats, lambda name, i: measure(sides[name], tokens, reply_tokens, i))
    return medians(runs, {n: e.runtime for n, e in sides.items()})


THREAD_SIDES = {  # name -> (threads, OMP_WAIT_POLICY)
    "1 thread, PASSIVE": (1, "PASSIVE"),
    "2 threads, PASSIVE": (2, "PASSIVE"),
    "2 threads, ACTIVE": (2, "ACTIVE"),
}


def threads(repeats: int, tokens: int, reply_tokens: int) -> dict:
    """Each side in its own process (the wait policy is fixed when torch loads)."""
    runtimes: dict[str, dict] = {}

    def one(name: str, seed: int) -> dict:
        count, wait = THREAD_SIDES[name]
        command = [sys.executable, str(Path(__file__).resolve()), str(tokens), str(reply_tokens), str(seed),
                   str(count)]
        done = subprocess.run(command, env={**os.environ, "OMP_WAIT_POLICY": wait}, capture_output=True,
                              text=True, timeout=1800)
        if done.returncode != 0:
            raise RuntimeError(f"{name} failed: {done.stderr.strip().splitlines()[-1:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        runtimes[name] = result.pop("runtime")
        return result

    return medians(alternate(list(THREAD_SIDES), repeats, one), runtimes)


if __name__ == "__main__":  # one side of ``threads``: TOKENS REPLY_TOKENS SEED THREADS
    from stars_engine.backends.local.load import load_policy, load_reward
    from stars_engine.engine import run as engine_run
    from stars_engine.events import RunFinished
    from stars_engine.params import Params

    tokens, reply_tokens, seed, count = (int(x) for x in sys.argv[1:5])
    policy, reward = load_policy(threads=count), load_reward()
    engine = Engine("side", lambda m, p: [e for e in engine_run(policy, reward, m, p)
                                          if isinstance(e, RunFinished)][-1], Params, count, policy.runtime)
    measure(engine, 8, 8, seed)  # warm-up
    print(json.dumps(measure(engine, tokens, reply_tokens, seed) | {"runtime": policy.runtime}))
