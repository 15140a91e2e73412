"""Decoding strategies; each is a generator of events over a ``RunContext``, registered here by one line."""

from . import beam, best_of_n, cards, smc, specrej, stars, vanilla
from .registry import (
    Knob,
    Strategy,
    all_strategies,
    bar_fields,
    bench_keys,
    get,
    knobs,
    labels,
    names,
    register,
    strategy_fields,
    unregister,
)

register(stars.STRATEGY)
register(best_of_n.STRATEGY)
register(vanilla.STRATEGY)
register(cards.STRATEGY)
register(specrej.STRATEGY)
register(smc.STRATEGY)
register(beam.STRATEGY)

__all__ = [
    "Knob", "Strategy", "all_strategies", "bar_fields", "bench_keys", "get", "knobs", "labels", "names", "register",
    "strategy_fields", "unregister",
]
