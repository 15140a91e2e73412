"""bf16, and bf16 on packed 4-bit weights, do not change what the user gets: next-token distributions
on the real model against fp32."""

from __future__ import annotations

import pytest
import torch

from stars_engine.backends.local.load import load_policy
from stars_engine.policy.base import Sampling

pytestmark = pytest.mark.real
PROMPTS = ["Give me one tip for sleeping well.", "Explain what a rainbow is.", "How do I boil an egg?"]


@pytest.fixture(scope="module", params=[("bf16", "dense", "dense"), ("bf16", "auto", "int4"), (None, "fp16", "fp16")],
                ids=["dense", "packed", "fp16"])
def bf16_policy(request):
    """Every path the runtime may choose: bf16 with the weights expanded, bf16 with the bundled 4-bit
    weights packed, and the weights in fp16 computed in fp32 (``fp16_weights.py``)."""
    dtype, asked, expected = request.param
    policy = load_policy(dtype=dtype, weights=asked)
    assert policy.runtime["weights"] == expected
    return policy


def log_probs(policy, ids: list[int], first: int, temperature: float = 1.0) -> torch.Tensor:
    """Next-token log-probabilities at every position from ``first`` on (one full encode, no cache)."""
    with torch.inference_mode():
        logits = policy.model(input_ids=torch.tensor([ids])).logits[0, first - 1:].float()
    return (logits / temperature).log_softmax(dim=-1)


def kl(p_log: torch.Tensor, q_log: torch.Tensor) -> torch.Tensor:
    return (p_log.exp() * (p_log - q_log)).sum(dim=-1)


def test_bf16_moves_the_next_token_distribution_less_than_a_small_temperature_step(real_policy_fp32, bf16_policy):
    """KL(fp32 || bf16) per token, on replies the fp32 model wrote to three prompts (99 positions).

    The bound is the KL between the same fp32 model at temperature 0.80 and at
    0.85, on the same positions: a step smaller than any a user makes in the
    parameter bar (the default is 0.8), i.e. bf16 must change the next token's
    distribution less than nudging the temperature knob does. Measured on
    2026-11-27: KL(fp32 || bf16) 0.0015 nats per token on average (0.0018 with
    the weights packed) against 0.0055 for that step, and at most 4.8 % (8.1 %
    packed) of one position's probability mass moved (the second check allows
    10 %: the sampled token changes at most one draw in ten at the worst
    position). With the weights in fp16 and the sums in fp32 (2026-11-29):
    0.000003 nats per token, at most 0.3 % moved, the same with torch's kernels
    capped to AVX2. The mean guide reward under both dtypes is in benchmarks/RESULTS.md.
    """
    kl_dtype, kl_step, moved = [], [], []
    for prompt in PROMPTS:
        messages = [{"role": "user", "content": prompt}]
        real_policy_fp32.start(messages, seed=1)
        reply = real_policy_fp32.sample(1, 32, Sampling())[0]
        first = len(real_policy_fp32.encode_chat(messages))
        ids = real_policy_fp32.encode_chat(messages) + list(reply.token_ids)
        fp32, bf16 = log_probs(real_policy_fp32, ids, first), log_probs(bf16_policy, ids, first)
        kl_dtype.append(kl(fp32, bf16))
        kl_step.append(kl(log_probs(real_policy_fp32, ids, first, 0.80), log_probs(real_policy_fp32, ids, first, 0.85)))
        moved.append(0.5 * (fp32.exp() - bf16.exp()).abs().sum(dim=-1))
    mean_kl, bound = torch.cat(kl_dtype).mean().item(), torch.cat(kl_step).mean().item()
    assert next(bf16_policy.model.parameters()).dtype == torch.bfloat16 or bf16_policy.runtime["weights"] == "fp16"
    assert mean_kl < bound, f"bf16: {mean_kl:.4f} nats/token; a 0.05 temperature step: {bound:.4f}"
    assert torch.cat(moved).max().item() < 0.10
