"""STARS: segment-level rejection sampling against a (scheduled) reward threshold.

Read next to the paper's pseudocode (arXiv 2511.03827)::

    r0 <- r(prompt, "")                              # baseline for the schedule
    while reply is short and has no EOS:
        repeat: draw k segments as one batch, score them,
                accept the FIRST one that passes the rule
                (k = candidates_per_round, or with `auto` the smallest k whose
                 chance of one pass, 1 - (1 - p)^k, reaches 0.9, p the run's
                 acceptance rate so far; see adaptive.py)
        until accepted or `max_attempts` drawn       # exhausted -> take the best
        reply <- reply + accepted segment

The loop itself lives in ``segments.run_segments``; this module is the rule:
the threshold schedule and the hard / soft acceptance rule.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

from ..events import Event
from ..params import ACCEPTANCE_RULES, AUTO, THRESHOLD_MODES, Params
from .adaptive import adaptive_k
from .common import RunContext, Tally
from .registry import Knob, Strategy
from .segments import FixedSegments, run_segments


def scheduled_threshold(params: Params, baseline: float, reply_tokens: int) -> float:
    """tau(t) = r0 + (threshold - r0) * min(1, t / T), as in CARDS; or the fixed threshold."""
    if params.threshold_mode == "fixed":
        return params.threshold
    progress = min(1.0, reply_tokens / params.max_new_tokens)
    return baseline * (1.0 - progress) + params.threshold * progress  # exact at both ends


class StarsRule(FixedSegments):
    def __init__(self, baseline: float, rng: random.Random, tally: Tally):
        self.baseline = baseline
        self.rng = rng
        self.tally = tally  # the acceptance rate so far, for candidates_per_round = auto

    def threshold(self, params: Params, reply_tokens: int) -> float:
        return scheduled_threshold(params, self.baseline, reply_tokens)

    def accepts(self, params: Params, reward: float, threshold: float | None) -> bool:
        assert threshold is not None
        if params.acceptance == "hard":
            return reward >= threshold
        # soft: accept with probability min(1, exp((s - tau) / beta))
        gap = (reward - threshold) / params.beta
        return gap >= 0 or self.rng.random() < math.exp(gap)

    def max_attempts(self, params: Params) -> int:
        return params.max_attempts

    def per_round(self, params: Params) -> int:
        if params.candidates_per_round == AUTO:
            return adaptive_k(self.tally.judged_accepted, self.tally.judged, self.max_attempts(params))
        return int(params.candidates_per_round)


def stars(ctx: RunContext) -> Iterator[Event]:
    prompt_tokens = ctx.policy.start(ctx.messages, ctx.seed)
    baseline = ctx.score([""])[0]
    yield ctx.started(prompt_tokens, baseline)
    yield from run_segments(ctx, StarsRule(baseline, ctx.rng, ctx.tally), baseline)


STRATEGY = Strategy(
    "stars", stars, "segment-level rejection sampling against a (scheduled) reward threshold",
    knobs=(
        Knob("segment_tokens", "Tokens per segment.", "segment", "seg"),
        Knob("threshold", "Reward threshold (the schedule's end value in schedule mode).", "threshold", "tau"),
        Knob("threshold_mode", f"Threshold mode: {', '.join(THRESHOLD_MODES)}.", "mode", "mode"),
        Knob("acceptance", f"Acceptance rule: {', '.join(ACCEPTANCE_RULES)}.", "accept", "rule"),
        Knob("beta", "Temperature of the soft acceptance rule.", "beta", bar=False),
        Knob("max_attempts", "Most attempts per segment before the best is taken.", "max tries", "attempts"),
        Knob("candidates_per_round",
             "Candidates sampled as one batch per round, or 'auto' (from the acceptance rate so far).",
             "per round", "k"),
    ),
    reads=("temperature",),
    # a bench spec ``stars[:…]`` starts from what a user gets, not from the bench's pinned base
    bench_defaults={f: getattr(Params(), f)
                    for f in ("segment_tokens", "threshold", "threshold_mode", "candidates_per_round")},
)
