"""Decoding strategies; each is a generator of events over a ``RunContext``, registered here by one line."""

from . import best_of_n, cards, specrej, stars, vanilla
from .registry import Knob, Strategy, all_strategies, bar_knobs, bench_keys, get, knobs, names, register, unregister

register(stars.STRATEGY)
register(best_of_n.STRATEGY)
register(vanilla.STRATEGY)
register(cards.STRATEGY)
register(specrej.STRATEGY)

__all__ = [
    "Knob", "Strategy", "all_strategies", "bar_knobs", "bench_keys", "get", "knobs", "names", "register", "unregister",
]
