"""What a decoding strategy needs from a reward model."""

from __future__ import annotations

from typing import Protocol


class Reward(Protocol):
    reward_id: str

    def score(self, prompt: str, replies: list[str]) -> list[float]:
        """Score each (possibly partial) reply to ``prompt``; one batched call."""
