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

Events: the whole reply is one segment, as in Best-of-N. Every reply is one
attempt with all its tokens, emitted when its fate is known: a pruned reply at
its decision round with the verdict ``pruned`` (``round`` says which; its
``threshold`` is the lowest score that was kept), the survivors at the end
(the winner ``accepted``, the others ``rejected``). So the attempts' tokens add
up to the tokens generated, and the inspector can show the live set shrinking.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

from ..events import ACCEPTED, PRUNED, REJECTED, Event, RunFinished, SegmentAccepted
from ..policy.base import Candidate
from .common import RunContext
from .registry import Knob, Strategy


@dataclass
class _Reply:
    candidate: Candidate
    reward: float
    row: int | None  # its branch in the last grow; None once it has ended

    @property
    def ended(self) -> bool:
        return self.row is None


def kept_count(pool: int, prune_fraction: float) -> int:
    """How many replies survive a decision: ceil((1 - prune_fraction) * pool), at least one."""
    return max(1, math.ceil((1.0 - prune_fraction) * pool - 1e-9))


def specrej(ctx: RunContext) -> Iterator[Event]:
    policy, tally = ctx.policy, ctx.tally
    prompt_tokens = policy.start(ctx.messages, ctx.seed)
    yield ctx.started(prompt_tokens, None)
    policy.fork(ctx.current.initial_n)
    ended: list[_Reply] = []  # replies that stopped (EOS or the token limit) and were kept
    decided = 0  # attempts emitted so far
    decision = 0
    length = 0
    share_ms = 0.0
    while True:
        changed = ctx.refresh_params(0)
        if changed:
            yield changed
        params = ctx.current
        started = time.perf_counter()
        step = max(1, min(params.decision_tokens, params.max_new_tokens - length))
        grown = policy.grow(step, ctx.sampling(), ctx.cancel)
        if ctx.cancel.is_set():
            policy.discard()
            yield RunFinished(text="", stop_reason="cancelled", stats=ctx.stats())
            return
        length = max(c.tokens for c in grown)
        rewards = ctx.score([c.text for c in grown])
        share_ms = (time.perf_counter() - started) * 1000 / len(grown)
        at_limit = length >= params.max_new_tokens
        fresh = [_Reply(c, r, None if (c.eos or at_limit) else i) for i, (c, r) in enumerate(zip(grown, rewards))]
        pool = ended + fresh
        if all(r.ended for r in pool):
            break
        ranked = sorted(pool, key=lambda r: r.reward, reverse=True)
        kept = ranked[: kept_count(len(pool), params.prune_fraction)]
        bar = kept[-1].reward
        for reply in ranked[len(kept):]:
            yield ctx.attempt(0, decided, reply.candidate, reply.reward, bar, PRUNED, share_ms, decision)
            decided += 1
        ended = [r for r in kept if r.ended]
        growing = [r.row for r in kept if not r.ended]
        if not growing:
            pool = ended
            break
        policy.keep(growing)
        decision += 1
    winner = max(pool, key=lambda r: r.reward)
    for reply in pool:
        verdict = ACCEPTED if reply is winner else REJECTED
        yield ctx.attempt(0, decided, reply.candidate, reply.reward, None, verdict, share_ms, decision)
        decided += 1
    best = winner.candidate
    policy.commit(best)
    tally.tokens_accepted = best.tokens
    tally.segments = 1
    tally.final_reward = winner.reward
    yield SegmentAccepted(
        segment=0, text=best.text, reward=winner.reward, attempts=decided,
        exhausted=False, tokens=best.tokens, threshold=None,
    )
    yield RunFinished(text=best.text, stop_reason="eos" if best.eos else "max_tokens", stats=ctx.stats())


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
