"""What a decoding strategy needs from a reward model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .rubric import Rubric


class Reward(Protocol):
    reward_id: str
    rubric: Rubric | None
    """The exemplars an embedding rubric scores against, editable in the workbench; None for a
    reward that has none (a trained reward model). Setting it re-embeds them: model work."""

    def score(self, prompt: str, replies: list[str]) -> list[float]:
        """Score each (possibly partial) reply to ``prompt``; one batched call."""
