"""What a decoding strategy needs from a reward model."""

from __future__ import annotations

from typing import Protocol


class Reward(Protocol):
    """A reward model. ``score`` may be called from several threads at once (the bench's
    ``--concurrency``): each reward serialises what cannot overlap (an in-process model, a
    tokenizer) and nothing more, so calls to a served reward overlap on the wire."""

    reward_id: str

    def score(self, prompt: str, replies: list[str]) -> list[float]:
        """Score each (possibly partial) reply to ``prompt``; one batched call."""
