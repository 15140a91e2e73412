"""Tokens per second of one model three ways, shared by the speed benchmarks that set them side by side.

``engine_tok_s`` is a whole run through the engine, ``generate_tok_s`` is plain HF ``generate`` on the
same model (the yardstick), ``sample_tok_s`` is one round of the policy alone (the model and the sampler).
"""

from __future__ import annotations

import time

from stars_engine.engine import run
from stars_engine.events import RunFinished
from stars_engine.params import Params
from stars_engine.policy.base import Sampling

PROMPT = [{"role": "user", "content": "Write a long, detailed story about a lighthouse keeper and a storm."}]


def engine_tok_s(policy, reward, params: Params) -> float:
    finished = [e for e in run(policy, reward, PROMPT, params) if isinstance(e, RunFinished)][0]
    return finished.stats.tokens_generated / finished.stats.wall_seconds


def generate_tok_s(policy, tokens: int, seed: int) -> float:
    import torch  # here, not at the top: stars_engine must load first (it sets the OpenMP wait policy)

    ids = torch.tensor([policy.encode_chat(PROMPT)], device=policy.device)
    torch.manual_seed(seed)
    started = time.perf_counter()
    with torch.inference_mode():
        out = policy.model.generate(
            ids, attention_mask=torch.ones_like(ids), do_sample=True, temperature=0.8, top_p=0.95, top_k=50,
            max_new_tokens=tokens, min_new_tokens=tokens, pad_token_id=policy.eos_ids[0],
        )
    return (out.shape[1] - ids.shape[1]) / (time.perf_counter() - started)


def sample_tok_s(policy, n: int, tokens: int, seed: int) -> float:
    """Policy tokens per second, in total over ``n`` candidates of one round: the model and the sampler only."""
    policy.start(PROMPT, seed)
    started = time.perf_counter()
    candidates = policy.sample(n, tokens, Sampling())
    return sum(c.tokens for c in candidates) / (time.perf_counter() - started)
