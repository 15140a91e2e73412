"""Speculative Rejection: Best-of-N that drops the weakest partial replies early.

Read next to ``SpeculativeRejection.generate`` and ``perform_speculative_rejection``
in Zanette-Labs/SpeculativeRejection (``speculative_rejection.py``), whose shape is::

    live <- N copies of the prompt; finished <- []
    while the longest reply is shorter than the token limit:
        extend every live reply as one batch        # there: until GPU memory is full
        score every partial reply (the reward model on prompt + partial reply)
        pool <- finished (from earlier rounds) + live; sort pool by score
        keep the best round((1 - alpha) * |pool|); drop the rest for good
        live <- kept replies without EOS; finished <- kept replies with EOS
    the best-scoring reply wins

Here the decision point is every ``decision_tokens`` tokens (the reference's
comes when the GPU's memory is full, which this workbench cannot reproduce on
a CPU or share between backends), the pool keeps ``ceil((1 - prune_fraction) * |pool|)``
so at least one reply survives every round, and no round prunes once every
reply has ended (EOS or ``max_new_tokens``): the best of what is left wins.

Events (``decoding/branches.py``): the whole reply is one segment, as in
Best-of-N, and every round reports each reply it grew, as it happens: the
survivors of a decision ``kept``, the others ``pruned`` (``threshold``: the
lowest score that was kept), so the inspector shows the replies growing and the
live set shrinking. At the end the replies left are the winner ``accepted`` and
the others ``rejected``. The attempts' tokens add up to the tokens generated.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from ..events import KEPT, PRUNED, Event
from .branches import Branch, Report, run_rounds
from .common import RunContext
from .registry import Knob, Strategy


def kept_count(pool: int, prune_fraction: float) -> int:
    """How many replies survive a decision: ceil((1 - prune_fraction) * pool), at least one."""
    return max(1, math.ceil((1.0 - prune_fraction) * pool - 1e-9))


def specrej(ctx: RunContext) -> Iterator[Event]:
    def select(ended: list[Branch], grown: list[Branch]) -> tuple[list[Branch], list[Report]]:
        ranked = sorted(ended + grown, key=lambda r: r.reward, reverse=True)
        kept = ranked[: kept_count(len(ranked), ctx.current.prune_fraction)]
        bar = kept[-1].reward
        reports: list[Report] = [(reply, PRUNED, bar) for reply in ranked[len(kept):]]
        reports += [(reply, KEPT, bar) for reply in grown if reply in kept and not reply.ended]
        going_on = [r for r in kept if r.ended] + sorted((r for r in kept if not r.ended), key=lambda r: r.row or 0)
        return going_on, reports

    yield from run_rounds(ctx, ctx.current.initial_n, lambda: ctx.current.decision_tokens, select)


STRATEGY = Strategy(
    "specrej", specrej, "Speculative Rejection: many replies grown together, the worst pruned at each decision",
    knobs=(
        Knob("initial_n", "specrej: replies started at once.", "N", "n"),
        Knob("prune_fraction", "specrej: share of the replies dropped at each decision.", "prune", "prune"),
        Knob("decision_tokens", "specrej: tokens between decisions.", "decide every", "every"),
    ),
    reads=("temperature",),
    needs=frozenset({"branches"}),
)
