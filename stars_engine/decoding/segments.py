"""The segment loop STARS, CARDS and vanilla share; they differ only in their ``SegmentRule``.

A rule sees one scored candidate and says whether it is accepted, and what
threshold it faced (None where nothing is judged). STARS's rule compares the
reward with the (scheduled) threshold; vanilla's accepts everything. A rule
also says how a round's candidates are drawn: fixed-size segments
(``FixedSegments``, STARS and vanilla) or segments cut where the model is
unsure (CARDS).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from ..events import (
    ACCEPTED,
    NOT_NEEDED,
    REJECTED,
    Event,
    RunFinished,
    SegmentAccepted,
)
from ..params import Params
from ..policy.base import Candidate
from .common import RunContext


class SegmentRule(Protocol):
    def segment_budget(self, params: Params) -> int:
        """The most tokens one segment may have."""

    def draw(self, ctx: RunContext, n: int, budget: int) -> list[Candidate]:
        """Sample a round of ``n`` candidates of at most ``budget`` tokens each."""

    def threshold(self, params: Params, reply_tokens: int) -> float | None: ...

    def accepts(self, params: Params, reward: float, threshold: float | None) -> bool: ...

    def max_attempts(self, params: Params) -> int: ...

    def per_round(self, params: Params) -> int: ...


class FixedSegments:
    """Segments of ``segment_tokens`` tokens, a round drawn as one batch."""

    def segment_budget(self, params: Params) -> int:
        return params.segment_tokens

    def draw(self, ctx: RunContext, n: int, budget: int) -> list[Candidate]:
        return ctx.policy.sample(n, budget, ctx.sampling(), ctx.cancel)


@dataclass
class _Best:
    candidate: Candidate
    reward: float
    threshold: float | None


def run_segments(ctx: RunContext, rule: SegmentRule, baseline: float | None) -> Iterator[Event]:
    """Decode segment by segment until EOS, the token budget or cancellation."""
    policy, tally = ctx.policy, ctx.tally
    reply = ""
    stop = "max_tokens"
    segment = 0
    while True:
        changed = ctx.refresh_params(segment)
        if changed:
            yield changed
        params = ctx.current
        if tally.tokens_accepted >= params.max_new_tokens:
            break
        if ctx.cancel.is_set():
            stop = "cancelled"
            break
        budget = min(rule.segment_budget(params), params.max_new_tokens - tally.tokens_accepted)
        chosen: _Best | None = None
        best: _Best | None = None
        attempts = 0
        limit = rule.max_attempts(params)
        while chosen is None and attempts < limit:
            n = min(rule.per_round(params), limit - attempts)
            started = time.perf_counter()
            candidates = rule.draw(ctx, n, budget)
            if ctx.cancel.is_set():
                policy.discard()
                break
            rewards = ctx.score([reply + c.text for c in candidates])
            share_ms = (time.perf_counter() - started) * 1000 / n
            for candidate, reward in zip(candidates, rewards):
                tau = rule.threshold(params, tally.tokens_accepted + candidate.tokens)
                if chosen is not None:
                    verdict = NOT_NEEDED
                elif rule.accepts(params, reward, tau):
                    verdict = ACCEPTED
                    chosen = _Best(candidate, reward, tau)
                else:
                    verdict = REJECTED
                if best is None or reward > best.reward:
                    best = _Best(candidate, reward, tau)
                yield ctx.attempt(segment, attempts, candidate, reward, tau, verdict, share_ms)
                attempts += 1
            if chosen is None and attempts < limit:
                policy.discard()
        if ctx.cancel.is_set() and chosen is None:
            stop = "cancelled"
            break
        exhausted = chosen is None
        taken = chosen or best
        assert taken is not None
        policy.commit(taken.candidate)
        reply += taken.candidate.text
        tally.tokens_accepted += taken.candidate.tokens
        tally.segments += 1
        tally.final_reward = taken.reward
        yield SegmentAccepted(
            segment=segment,
            text=taken.candidate.text,
            reward=taken.reward,
            attempts=attempts,
            exhausted=exhausted,
            tokens=taken.candidate.tokens,
            threshold=taken.threshold,
        )
        segment += 1
        if taken.candidate.eos:
            stop = "eos"
            break
    if tally.segments == 0:
        tally.final_reward = baseline
    yield RunFinished(text=reply, stop_reason=stop, stats=ctx.stats())
