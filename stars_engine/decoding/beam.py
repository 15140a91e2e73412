"""Reward-guided beam search: the best partial replies go on, each expanded into several.

Read next to ``beam_search`` in Hugging Face's search-and-learn
(``sal/search/beam_search.py``), whose shape is::

    beams <- n copies of the prompt
    for each step up to num_iterations:
        extend every active beam by one step (sampled up to a step delimiter)
        score every beam's partial reply with the reward model
        beams that ended move to the finished list
        keep the top n // beam_width active beams by score,
        each repeated beam_width times (the next step samples the copies apart)
    the finished beam with the highest score is the reply

Here a step is ``segment_tokens`` tokens (the reference's ends at a blank line);
``beam_width`` is the number of beams that go on (B, the reference's
``n // beam_width``) and ``beam_expansions`` the candidates each grows (W, the
reference's ``beam_width``), so a round grows B x W branches in one batch
(the first round forks B x W copies of the prompt). A finished reply is not
set aside for good: it competes with the live ones for the B places and is
dropped when B better replies pass it; the search ends when the B best have
all ended. Width, expansions and the segment length are pinned for a run: they
shape the cache and the rounds. Expanding a beam is ``keep`` with its row
repeated W times, never a re-encode.

Events (``decoding/branches.py``): every candidate segment is an attempt of
round r; the B best that go on are ``kept`` (``threshold``: the B-th best
reward), the others ``dropped``.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..events import DROPPED, KEPT, Event
from .branches import Branch, Report, run_rounds
from .common import RunContext
from .registry import Knob, Strategy

PINNED = frozenset({"segment_tokens"})  # a round's length shapes the search: kept for the whole run


def beam(ctx: RunContext) -> Iterator[Event]:
    ctx.pinned = PINNED
    width, expansions, segment = ctx.current.beam_width, ctx.current.beam_expansions, ctx.current.segment_tokens

    def select(ended: list[Branch], grown: list[Branch]) -> tuple[list[Branch], list[Report]]:
        best = sorted(ended + grown, key=lambda b: b.reward, reverse=True)[:width]
        bar = best[-1].reward
        reports: list[Report] = [
            (branch, DROPPED if branch not in best else KEPT, bar)
            for branch in ended + grown
            if branch not in best or not branch.ended
        ]
        going_on = [b for b in best if b.ended] + [b for b in best if not b.ended for _ in range(expansions)]
        return going_on, reports

    yield from run_rounds(ctx, width * expansions, lambda: segment, select)


STRATEGY = Strategy(
    "beam", beam, "Beam search: the best replies by reward go on, each grown into several candidates",
    knobs=(
        Knob("beam_width", "beam: replies that go on after each round.", "width", "width"),
        Knob("beam_expansions", "beam: candidates each reply grows per round.", "expand", "expand"),
    ),
    reads=("segment_tokens", "temperature"),
    needs=frozenset({"branches"}),
)
