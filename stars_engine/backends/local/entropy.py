"""Next-token entropy, and the CARDS cut the transformers backend hooks into its sampling loop."""

from __future__ import annotations

import torch


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of softmax(logits) along the last dimension."""
    logp = torch.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(dim=-1)


class EntropyCut:
    """Stop a one-row round before the first token, past ``least`` drawn, whose entropy reaches ``threshold``."""

    def __init__(self, least: int, threshold: float):
        self.least = least
        self.threshold = threshold
        self.entropy: float | None = None  # the entropy that cut, once it has

    def __call__(self, logits: torch.Tensor, drawn: int) -> bool:
        if drawn < self.least:
            return False
        value = float(entropy(logits[0]))
        if value >= self.threshold:
            self.entropy = value
            return True
        return False
