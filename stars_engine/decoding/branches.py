"""Replies grown together on the policy's branches, reported round by round.

Speculative Rejection, particle filtering (``smc``) and beam search share this
shape: a population of partial replies, each a row of the policy's branch cache
(``fork``, ``grow``, ``keep``), grown a segment at a time, scored, and then
narrowed, pruned or resampled by the strategy's own rule.

So that a person sees the branches as they grow (not a blank reply until the
end), every round reports each grown branch as one ``AttemptScored`` in the
run's one segment: ``text`` is the branch so far, ``tokens`` only what it added
since its last attempt, ``round`` the round. A branch that goes on is ``kept``;
one a round lets go is ``pruned`` (Speculative Rejection) or ``dropped``. A
branch that ended (EOS or the token limit) and is still in the population
waits: it is reported when a later round lets it go, or at the end, the winner
``accepted`` and the others ``rejected``. So the attempts' tokens still add up
to the tokens generated, and every token is reported once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ..events import ACCEPTED, REJECTED, AttemptScored, Event, RunFinished, SegmentAccepted
from ..policy.base import Candidate
from .common import RunContext


@dataclass(eq=False)
class Branch:
    """One partial reply: the whole candidate since ``fork``, its latest reward, its cache row."""

    candidate: Candidate
    reward: float
    row: int | None  # its row in the last grow; None once it has ended
    fresh: int = 0  # tokens it added since its last attempt was reported

    @property
    def ended(self) -> bool:
        return self.row is None


class Rounds:
    """One run's population bookkeeping: growing, reporting, and the end (each written once)."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.reported = 0  # attempts emitted so far
        self.round = 0
        self.share_ms = 0.0
        self.length = 0  # tokens every live branch has (they grow in lockstep)

    def grow(self, live: Sequence[Branch] | None, step: int) -> list[Branch] | None:
        """Grow the live rows (``live`` in cache order; None: right after ``fork``) by ``step`` tokens and
        score them; a new ``Branch`` per row. None when the run was cancelled (the branches are discarded)."""
        ctx = self.ctx
        started = time.perf_counter()
        grown = ctx.policy.grow(step, ctx.sampling(), ctx.cancel)
        if ctx.cancel.is_set():
            ctx.policy.discard()
            return None
        before = [b.candidate.tokens for b in live] if live is not None else [0] * len(grown)
        self.length = max(c.tokens for c in grown)
        rewards = ctx.score([c.text for c in grown])
        self.share_ms = (time.perf_counter() - started) * 1000 / len(grown)
        at_limit = self.length >= ctx.current.max_new_tokens
        return [
            Branch(c, r, None if (c.eos or at_limit) else i, c.tokens - b)
            for i, (c, r, b) in enumerate(zip(grown, rewards, before, strict=True))
        ]

    def step(self, segment_tokens: int) -> int:
        """The next round's length: ``segment_tokens``, or what is left of ``max_new_tokens``."""
        return max(1, min(segment_tokens, self.ctx.current.max_new_tokens - self.length))

    def report(self, branch: Branch, verdict: str, threshold: float | None) -> AttemptScored:
        """The attempt for what ``branch`` added since it was last reported."""
        tokens = branch.candidate.token_ids[branch.candidate.tokens - branch.fresh :]
        part = Candidate(tokens, branch.candidate.text, branch.candidate.eos, branch.candidate.cut_entropy)
        branch.fresh = 0
        attempt = self.ctx.attempt(0, self.reported, part, branch.reward, threshold, verdict, self.share_ms, self.round)
        self.reported += 1
        return attempt

    def next_rows(self, going_on: Sequence[Branch]) -> list[Branch]:
        """Keep the live branches in ``going_on`` (a branch listed twice is duplicated), in that order;
        return the new live population, one fresh ``Branch`` per row."""
        rows = [b.row for b in going_on if b.row is not None]
        self.ctx.policy.keep(rows)
        self.round += 1
        return [Branch(b.candidate, b.reward, i) for i, b in enumerate(b for b in going_on if not b.ended)]

    def cancelled(self) -> RunFinished:
        return RunFinished(text="", stop_reason="cancelled", stats=self.ctx.stats())

    def finish(self, pool: Sequence[Branch]) -> Iterator[Event]:
        """The end: each distinct branch still standing reported (the best ``accepted``), the winner committed."""
        ctx = self.ctx
        standing = list({id(b): b for b in pool}.values())
        winner = max(standing, key=lambda b: b.reward)
        for branch in standing:
            yield self.report(branch, ACCEPTED if branch is winner else REJECTED, None)
        best = winner.candidate
        ctx.policy.commit(best)
        ctx.tally.tokens_accepted = best.tokens
        ctx.tally.segments = 1
        ctx.tally.final_reward = winner.reward
        yield SegmentAccepted(
            segment=0, text=best.text, reward=winner.reward, attempts=self.reported,
            exhausted=False, tokens=best.tokens, threshold=None,
        )
        yield RunFinished(text=best.text, stop_reason="eos" if best.eos else "max_tokens", stats=ctx.stats())


Report = tuple[Branch, str, "float | None"]  # a branch, its verdict this round, the bar it faced
Select = Callable[[list[Branch], list[Branch]], tuple[list[Branch], list[Report]]]


def run_rounds(ctx: RunContext, width: int, step: Callable[[], int], select: Select) -> Iterator[Event]:
    """The loop every branch strategy shares: start, ``fork`` into ``width`` rows, then per round grow
    each live row by ``step()`` tokens (read each round: it may change mid-run), score, and let
    ``select(ended, grown)`` say which branches go on (in the row order the next round takes; a branch
    listed twice is duplicated, ended ones wait in it) and what to report of this round; until every
    branch has ended. The strategies differ only in ``select``."""
    rounds = Rounds(ctx)
    prompt_tokens = ctx.policy.start(ctx.messages, ctx.seed)
    yield ctx.started(prompt_tokens, None)
    ctx.policy.fork(width)
    ended: list[Branch] = []  # finished branches still in the population
    live: list[Branch] | None = None
    while True:
        changed = ctx.refresh_params(0)
        if changed:
            yield changed
        grown = rounds.grow(live, rounds.step(step()))
        if grown is None:
            yield rounds.cancelled()
            return
        pool = ended + grown
        if all(b.ended for b in pool):
            break
        going_on, reports = select(ended, grown)
        for branch, verdict, bar in reports:
            yield rounds.report(branch, verdict, bar)
        ended = [b for b in going_on if b.ended]
        pool = going_on
        if len(ended) == len(going_on):
            break
        live = rounds.next_rows([b for b in going_on if not b.ended])
    yield from rounds.finish(pool)
