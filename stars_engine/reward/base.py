"""What a decoding strategy needs from a reward model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .rubric import Rubric


class Reward(Protocol):
    """A reward model. ``score`` may be called from several threads at once (the bench's
    ``--concurrency``): each reward serialises what cannot overlap (an in-process model, a
    tokenizer) and nothing more, so calls to a served reward overlap on the wire."""

    reward_id: str

    @property
    def rubric(self) -> Rubric | None:
        """The exemplars an embedding rubric scores against, editable in the workbench; None for a
        reward that has none (a trained reward model). Setting it re-embeds them: model work."""

    @property
    def server_url(self) -> str:
        """Where a served reward scores; "" in-process."""

    @property
    def served_model(self) -> str:
        """Its model's name on that server; "" in-process."""

    def score(self, prompt: str, replies: list[str]) -> list[float]:
        """Score each (possibly partial) reply to ``prompt``; one batched call."""


def reward_label(reward: Reward) -> str:
    """How a status line names the reward: its id, and the server it scores on when served."""
    return f"{reward.reward_id} on {reward.server_url}" if reward.server_url else reward.reward_id


def rubric_record(reward: Reward) -> dict:
    """The rubric ``reward`` scores with, as recorded with each run ({} for a reward that has none)."""
    rubric = getattr(reward, "rubric", None)
    return rubric.to_dict() if rubric is not None else {}
