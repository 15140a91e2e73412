"""Decoding strategies; each is a generator of events over a ``RunContext``."""

from .best_of_n import best_of_n
from .cards import cards
from .specrej import specrej
from .stars import stars
from .vanilla import vanilla

STRATEGIES = {"stars": stars, "best-of-n": best_of_n, "vanilla": vanilla, "cards": cards, "specrej": specrej}

__all__ = ["STRATEGIES", "best_of_n", "cards", "specrej", "stars", "vanilla"]
