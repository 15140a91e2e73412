"""Particle filtering: a population of partial replies resampled by their rewards.

Read next to ``ParticleFiltering`` in Red Hat AI Innovation's its_hub
(``its_hub/algorithms/particle_gibbs.py``, after Puri et al., arXiv 2502.01618),
whose shape is::

    particles <- N copies of the prompt, all weights equal
    while some particle has not ended:
        extend every unfinished particle by one step (one segment)
        score every particle with the reward model: r_i
        w <- softmax(r / temperature)
        draw N particles from Categorical(w) (with replacement): the new population
        (a finished particle drawn stays finished; it is carried, never extended)
    the finished particle with the highest reward is the reply

Here a step is ``segment_tokens`` tokens (the reference's is a reasoning step
ending at a newline); the draw is systematic resampling from the run's seeded
generator, and it happens only when the effective sample size
``1 / sum(w_i^2)`` falls below ``ess_threshold * N``, as the SMC papers do (the
reference resamples every step: ``ess_threshold = 1``). The weights are the
softmax of the current rewards, not a product over steps: the reward model
scores the whole partial reply, as the reference's does. The softmax
temperature and the ESS threshold may change mid-run; N is the cache's rows
and is pinned. A particle drawn twice is ``keep`` with its row repeated, never
a re-encode.

Events (``decoding/branches.py``): every particle's segment is an attempt of
round r; a particle the draw took at least once is ``kept``, one it passed
over ``dropped`` (without a draw every particle is kept). So the kept
attempts of a round with a draw are its distinct ancestors.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence

from ..events import DROPPED, KEPT, Event
from .branches import Branch, Report, run_rounds
from .common import RunContext
from .registry import Knob, Strategy


def weights(rewards: Sequence[float], temperature: float) -> list[float]:
    """softmax(reward / temperature), computed from the largest reward so it never overflows."""
    top = max(rewards)
    raw = [math.exp((r - top) / temperature) for r in rewards]
    total = sum(raw)
    return [w / total for w in raw]


def effective_size(w: Sequence[float]) -> float:
    """The effective sample size 1 / sum(w_i^2) of normalised weights: N when equal, 1 when one takes all."""
    return 1.0 / sum(x * x for x in w)


def systematic(w: Sequence[float], rng: random.Random) -> list[int]:
    """Systematic resampling: len(w) draws at evenly spaced points from one uniform offset; index i is
    drawn floor(N w_i) or ceil(N w_i) times, in order."""
    n = len(w)
    offset = rng.random()
    drawn: list[int] = []
    total, index = w[0], 0
    for k in range(n):
        point = (offset + k) / n
        while point > total and index < n - 1:
            index += 1
            total += w[index]
        drawn.append(index)
    return drawn


def smc(ctx: RunContext) -> Iterator[Event]:
    def select(ended: list[Branch], grown: list[Branch]) -> tuple[list[Branch], list[Report]]:
        population = ended + grown  # one entry per copy
        w = weights([p.reward for p in population], ctx.current.smc_temperature)
        if effective_size(w) < ctx.current.ess_threshold * len(population):
            population = [population[i] for i in systematic(w, ctx.rng)]
        drawn = {id(p) for p in population}
        reports: list[Report] = [
            (particle, DROPPED if id(particle) not in drawn else KEPT, None)
            for particle in dict.fromkeys(ended + grown)
            if id(particle) not in drawn or not particle.ended
        ]
        return population, reports

    yield from run_rounds(ctx, ctx.current.particles, lambda: ctx.current.segment_tokens, select)


STRATEGY = Strategy(
    "smc", smc, "Particle filtering: replies grown a segment at a time, resampled by their rewards",
    knobs=(
        Knob("particles", "smc: particles (replies grown at once).", "particles", "particles"),
        Knob("smc_temperature", "smc: softmax temperature of the resampling weights.", "smc temp", "T"),
        Knob("ess_threshold", "smc: resample when the effective sample size falls below this share of N.",
             "ess", "ess"),
    ),
    reads=("segment_tokens", "temperature"),
    needs=frozenset({"branches"}),
)
