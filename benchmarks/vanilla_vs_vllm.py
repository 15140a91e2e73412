"""The engine's ``vanilla`` tok/s ÷ vLLM's CPU build at ``n=1``, same model, same length, in one run.

    STARS_VLLM_VENV=.venv-vllm .venv/bin/python benchmarks/vanilla_vs_vllm.py [--repeats 3] [--tokens 96]

Starts vLLM (the ``stars serve`` settings) on the converted bundled model on a free port, and
stops it at the end. Each repeat runs the in-process engine's vanilla (its own dtype and thread
choice, reward scoring at segment boundaries included) and then one ``/v1/completions`` request
of the same number of tokens (``ignore_eos``, so both sides make as many); medians are kept.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import stars_engine  # noqa: F401 - sets the OpenMP wait policy before torch loads
from stars_engine.backends.local.load import load_policy, load_reward
from stars_engine.backends.served.client import ServerClient
from stars_engine.backends.served.launch import free_port, start_vllm
from stars_engine.engine import run
from stars_engine.events import RunFinished
from stars_engine.params import Params
from stars_engine.weights.convert import default_policy_dir

PROMPT = [{"role": "user", "content": "Write a short note about rivers and why they matter."}]


def engine_tok_s(policy, reward, tokens: int, seed: int) -> float:
    params = Params(strategy="vanilla", max_new_tokens=tokens, seed=seed)
    finished = [e for e in run(policy, reward, PROMPT, params) if isinstance(e, RunFinished)][-1]
    return finished.stats.tokens_generated / finished.stats.wall_seconds


def vllm_tok_s(client: ServerClient, prompt_ids: list[int], tokens: int, seed: int) -> float:
    started = time.perf_counter()
    reply = client.post("/v1/completions", {
        "model": "smollm2", "prompt": prompt_ids, "n": 1, "max_tokens": tokens, "ignore_eos": True,
        "temperature": 0.8, "top_p": 0.95, "top_k": 50, "seed": seed,
    })
    generated = reply["usage"]["completion_tokens"]
    return generated / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=96)
    args = parser.parse_args()
    policy, reward = load_policy(), load_reward()
    prompt_ids = policy.encode_chat(PROMPT)
    with start_vllm(default_policy_dir(), port=free_port(), served_name="smollm2") as url:
        client = ServerClient(url, timeout=300)
        engine_tok_s(policy, reward, 16, 0)  # warm both sides
        vllm_tok_s(client, prompt_ids, 16, 0)
        engine, served = [], []
        for seed in range(1, args.repeats + 1):
            engine.append(engine_tok_s(policy, reward, args.tokens, seed))
            served.append(vllm_tok_s(client, prompt_ids, args.tokens, seed))
    print(json.dumps({
        "runtime": policy.runtime,
        "tokens": args.tokens,
        "engine_vanilla_tok_s": [round(x, 2) for x in engine],
        "vllm_n1_tok_s": [round(x, 2) for x in served],
        "median_ratio": round(statistics.median(e / v for e, v in zip(engine, served, strict=True)), 3),
    }, indent=2))


if __name__ == "__main__":
    main()
