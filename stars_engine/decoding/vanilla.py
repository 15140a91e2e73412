"""Plain sampling, cut into segments only so each can be scored for display."""

from __future__ import annotations

from collections.abc import Iterator

from ..events import Event
from ..params import Params
from .common import RunContext
from .registry import Strategy
from .segments import FixedSegments, run_segments


class AcceptAll(FixedSegments):
    """Judges nothing: one attempt per segment, always taken, no threshold."""

    def threshold(self, params: Params, reply_tokens: int) -> None:
        return None

    def accepts(self, params: Params, reward: float, threshold: float | None) -> bool:
        return True

    def max_attempts(self, params: Params) -> int:
        return 1

    def per_round(self, params: Params) -> int:
        return 1


def vanilla(ctx: RunContext) -> Iterator[Event]:
    prompt_tokens = ctx.policy.start(ctx.messages, ctx.seed)
    yield ctx.started(prompt_tokens, None)
    yield from run_segments(ctx, AcceptAll(), None)


STRATEGY = Strategy("vanilla", vanilla, "one sample", bench="vanilla", reads=("temperature",))
