"""Draw the next token: temperature, top-k, top-p, then one multinomial draw, per row.

The distribution is the one transformers' ``TemperatureLogitsWarper``,
``TopKLogitsWarper`` and ``TopPLogitsWarper`` give ``model.generate`` (a test
compares them on random logits), computed on the top-k slice instead of the
whole vocabulary: the warpers sort all 49,152 logits of SmolLM2 for top-p at
every token and are rebuilt per round, where ``torch.topk`` already returns the
k survivors in order. (Logits tied with the k-th one are all kept by the warper
and cut at k here; with float logits that is a measure-zero difference.)
"""

from __future__ import annotations

import torch

from ...policy.base import Sampling


def narrow(logits: torch.Tensor, sampling: Sampling) -> tuple[torch.Tensor, torch.Tensor]:
    """The surviving candidates of each row: (scaled logits, -inf where top-p drops one; token ids).

    Both are ``(rows, k)``, most likely first; ``k`` is the whole vocabulary when top-k is off.
    """
    logits = logits.float()
    if sampling.temperature != 1.0:
        logits = logits / sampling.temperature
    vocab = logits.shape[-1]
    k = sampling.top_k if 0 < sampling.top_k < vocab else vocab
    values, ids = torch.topk(logits, k, dim=-1)
    if sampling.top_p < 1.0:
        probs = values.softmax(dim=-1)
        # a token goes when it and every less likely survivor hold at most 1 - top_p (the warper's rule)
        tail = probs.flip(-1).cumsum(-1).flip(-1)
        drop = tail <= 1 - sampling.top_p
        drop[..., 0] = False
        values = values.masked_fill(drop, float("-inf"))
    return values, ids


def draw(logits: torch.Tensor, sampling: Sampling, generator: torch.Generator) -> torch.Tensor:
    """One sampled token id per row of ``logits`` (``(rows, vocab)`` -> ``(rows, 1)``), on the device."""
    if sampling.top_k <= 0 and sampling.top_p >= 1.0:  # nothing to filter: skip the sort
        scaled = logits.float() / sampling.temperature
        return torch.multinomial(scaled.softmax(dim=-1), 1, generator=generator)
    values, ids = narrow(logits, sampling)
    picked = torch.multinomial(values.softmax(dim=-1), 1, generator=generator)
    return ids.gather(-1, picked)
