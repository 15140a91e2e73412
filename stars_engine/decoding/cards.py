"""CARDS (Cascade Reward Sampling): segments end where the model is unsure.

Read next to ``RewardSampling.seg_rs_generate`` in lblaoke/CARDS
(``reward_sampling.py``), whose shape is::

    r0 <- (1 - alpha) * r(prompt, "") + alpha * r_thr
    tau(t) = min(r_thr, r0 + t * (r_thr - r0) / max_new_tokens)   # t: reply + candidate tokens
    while reply is shorter than max_new_tokens:
        candidate <- reply
        while candidate grew by fewer than 64 tokens:               # max segment
            logits <- LLM(candidate)
            if candidate grew by >= 4 tokens                         # min segment
               and entropy(softmax(logits)) >= entropy_threshold:   # 3.0 nats
                break                                               # cut BEFORE the unsure token
            candidate <- candidate + sample(logits)                 # top-k 40, temperature beta
        s <- r(prompt, candidate); best <- max(best, s)
        if rejections >= 20:       reply <- best                    # resamples ran out
        elif uniform() < min(1, exp((s - tau(t)) / beta)):  reply <- candidate   # soft rule
        else:                      rejections += 1

Here that is one more rule for ``segments.run_segments``: the threshold is the
STARS schedule started from ``(1 - alpha) * r(prompt, "") + alpha * threshold``
instead of ``r(prompt, "")``; the hard / soft rule, ``beta`` and the attempt cap
are the shared Params (the bench's ``cards`` spec sets CARDS's own soft rule and
21 attempts, one draw plus 20 resamples); candidates are drawn one at a time,
as in CARDS, each by ``Policy.sample_until_unsure``, which records the entropy
that cut it. Differences from the reference, on purpose: the entropy is taken
of the model's raw next-token distribution, as CARDS does, but sampling uses
the run's temperature / top-k / top-p (CARDS reuses its acceptance ``beta`` as
the sampling temperature); the 21st candidate is judged like the others and
the best is kept only if it fails too; EOS ends a segment early.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..events import Event
from ..params import Params
from ..policy.base import Candidate
from .common import RunContext
from .registry import Knob, Strategy
from .segments import run_segments
from .stars import StarsRule, scheduled_threshold


def cards_start(params: Params, empty_reward: float) -> float:
    """CARDS's r0: the schedule starts part-way between r(prompt, "") and the target."""
    return (1.0 - params.alpha) * empty_reward + params.alpha * params.threshold


class CardsRule(StarsRule):
    """STARS's rule with CARDS's start of the schedule and entropy-cut segments, one per round."""

    def threshold(self, params: Params, reply_tokens: int) -> float:
        return scheduled_threshold(params, cards_start(params, self.baseline), reply_tokens)

    def per_round(self, params: Params) -> int:
        return 1

    def segment_budget(self, params: Params) -> int:
        return params.max_segment_tokens

    def draw(self, ctx: RunContext, n: int, budget: int) -> list[Candidate]:
        """One candidate (``per_round`` is 1): each row of a batch would be cut at its own place."""
        params = ctx.current
        least = min(params.min_segment_tokens, budget)
        return [ctx.policy.sample_until_unsure(budget, least, params.entropy_threshold, ctx.sampling(), ctx.cancel)]


def cards(ctx: RunContext) -> Iterator[Event]:
    prompt_tokens = ctx.policy.start(ctx.messages, ctx.seed)
    baseline = ctx.score([""])[0]
    yield ctx.started(prompt_tokens, baseline)
    yield from run_segments(ctx, CardsRule(baseline, ctx.rng, ctx.tally), baseline)


STRATEGY = Strategy(
    "cards", cards, "segments end where the model is unsure (its next-token entropy)",
    knobs=(
        Knob("entropy_threshold", "cards: cut a segment before a token whose next-token entropy (nats) reaches this.",
             "entropy", "H"),
        Knob("min_segment_tokens", "cards: fewest tokens in a segment.", "min seg", "min"),
        Knob("max_segment_tokens", "cards: most tokens in a segment.", "max seg", "max"),
        Knob("alpha", "cards: the threshold schedule starts at (1-alpha)*r(prompt,\"\") + alpha*threshold.", "alpha"),
    ),
    reads=("threshold", "threshold_mode", "acceptance", "max_attempts", "candidates_per_round", "temperature"),
    needs=frozenset({"sample_until_unsure"}),
    bench_defaults={"acceptance": "soft", "max_attempts": 21},  # seg_rs_generate: option='soft', 20 resamples
)
