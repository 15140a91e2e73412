"""The fused sampler draws from the distribution transformers' warpers give ``model.generate``."""

from __future__ import annotations

import pytest
import torch
from transformers import LogitsProcessorList
from transformers.generation.logits_process import (
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from stars_engine.backends.local.sampler import draw, narrow
from stars_engine.policy.base import Sampling


def warper_probs(logits: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    chain = LogitsProcessorList()
    if sampling.temperature != 1.0:
        chain.append(TemperatureLogitsWarper(sampling.temperature))
    if sampling.top_k > 0:
        chain.append(TopKLogitsWarper(sampling.top_k))
    if sampling.top_p < 1.0:
        chain.append(TopPLogitsWarper(sampling.top_p))
    return chain(None, logits.clone()).softmax(dim=-1)


def narrow_probs(logits: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    values, ids = narrow(logits, sampling)
    return torch.zeros_like(logits).scatter(-1, ids, values.softmax(dim=-1))


@pytest.mark.parametrize(
    "sampling",
    [Sampling(), Sampling(0.5, 0.9, 20), Sampling(1.0, 1.0, 50), Sampling(1.3, 0.5, 0), Sampling(0.8, 1.0, 0)],
)
def test_narrow_gives_the_warpers_distribution(sampling):
    torch.manual_seed(0)
    logits = torch.randn(6, 2000) * 3  # peaked rows, so top-p actually cuts
    assert torch.allclose(narrow_probs(logits, sampling), warper_probs(logits, sampling), atol=1e-6)


def test_draw_stays_inside_the_kept_tokens_and_follows_their_weights():
    torch.manual_seed(1)
    logits = torch.randn(1, 500) * 4
    sampling = Sampling(temperature=0.8, top_p=0.9, top_k=10)
    expected = warper_probs(logits, sampling)[0]
    generator = torch.Generator().manual_seed(2)
    drawn = torch.cat([draw(logits.expand(400, -1), sampling, generator)[:, 0] for _ in range(10)])
    counts = torch.bincount(drawn, minlength=500).float() / drawn.numel()
    assert set(drawn.tolist()) <= set(torch.nonzero(expected).flatten().tolist())
    assert (counts - expected).abs().max() < 0.03  # 4000 draws: a few standard errors


def test_unfiltered_sampling_draws_from_the_whole_softmax():
    logits = torch.tensor([[0.0, 0.0, -1e9]])
    generator = torch.Generator().manual_seed(0)
    drawn = draw(logits.expand(200, -1), Sampling(temperature=1.0, top_p=1.0, top_k=0), generator)
    assert set(drawn.flatten().tolist()) == {0, 1}
