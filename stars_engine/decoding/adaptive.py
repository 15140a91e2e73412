"""``candidates_per_round = auto``: each round's k from the acceptance rate seen so far.

With a high acceptance rate the first candidate of a round usually passes and
the others are drawn for nothing; with a low one a single candidate costs a
round of latency per rejection. ``auto`` takes the smallest k for which the
chance that at least one of k candidates passes, ``1 - (1 - p)^k``, reaches
``TARGET``, capped by the attempts the segment has left.

``p`` is the run's judged acceptance rate with one pseudo-accept and one
pseudo-reject added (Laplace's rule), so the first round, with nothing seen,
uses p = 1/2 and k = 4, and one early rejection cannot push k to the cap.
Drawing fewer rows saves less than it seems on a CPU: a decode step of 4 rows
costs little more than one of 1 (the weights' read), so what a reply costs is
its rounds, and a round of 1 that fails is a whole round more.
"""

from __future__ import annotations

import math

TARGET = 0.9  # wanted chance that a round has at least one passing candidate


def estimated_acceptance(accepted: int, judged: int) -> float:
    """The acceptance rate so far, smoothed: (accepted + 1) / (judged + 2)."""
    return (accepted + 1) / (judged + 2)


def adaptive_k(accepted: int, judged: int, attempts_left: int, target: float = TARGET) -> int:
    """Smallest k with 1 - (1 - p)^k >= target, between 1 and ``attempts_left``."""
    p = estimated_acceptance(accepted, judged)
    if p >= target:
        return 1
    k = math.ceil(math.log(1.0 - target) / math.log(1.0 - p) - 1e-9)
    return max(1, min(k, attempts_left))
