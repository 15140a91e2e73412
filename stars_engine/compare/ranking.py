"""Who won a comparison: on the guide reward, and on each held-out judge of the bench, at what cost.

The guide reward steered the search, so it cannot also grade it; the bench's
judges (``bench.heldout``) did not, and rank the finished replies pairwise.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from ..bench.judge import LOSS, WIN, PairJudge, compare
from .columns import Comparison, Outcome


def cost(outcome: Outcome) -> dict[str, Any]:
    """What a column's reply cost, for the line that names it a winner."""
    s = outcome.stats
    assert s is not None
    return {"tokens_generated": s.tokens_generated, "reward_calls": s.reward_calls,
            "forward_passes": s.policy_forward_passes, "wall_seconds": s.wall_seconds}


def _winner(outcomes: list[Outcome], scores: dict[int, float], how: str) -> dict[str, Any]:
    """The best-scored column (a tie for the top names every tied column, with no single winner)."""
    top = max(scores.values())
    leaders = [o for o in outcomes if scores.get(o.column.index) == top]
    best = leaders[0] if len(leaders) == 1 else None
    return {
        "how": how,
        "scores": {str(i): s for i, s in scores.items()},
        "winner": None if best is None else best.column.index,
        "spec": None if best is None else best.column.spec.label,
        "tied": [o.column.spec.label for o in leaders] if best is None else [],
        "cost": None if best is None else cost(best),
    }


def guide_winner(outcomes: list[Outcome]) -> dict[str, Any] | None:
    """Who won on the guide reward (the reward that steered the search), or None with nothing scored."""
    scores = {o.column.index: float(o.stats.final_reward) for o in outcomes
              if o.judged and o.stats is not None and o.stats.final_reward is not None}
    if not scores:
        return None
    return _winner([o for o in outcomes if o.column.index in scores], scores, "highest guide reward")


def judge_pairs(judge: PairJudge, prompt: str, outcomes: list[Outcome]) -> dict[str, Any]:
    """Every pair of finished replies judged both ways round; a column scores 1 per win, 1/2 per tie."""
    ranked = [o for o in outcomes if o.judged]
    if len(ranked) < 2:
        return {"judge_id": judge.judge_id, "pairs": [], "result": None}
    points = {o.column.index: 0.0 for o in ranked}
    pairs = []
    for a, b in combinations(ranked, 2):
        verdict = compare(judge, prompt, a.text, b.text)
        points[a.column.index] += {WIN: 1.0, LOSS: 0.0}.get(verdict.outcome, 0.5)
        points[b.column.index] += {WIN: 0.0, LOSS: 1.0}.get(verdict.outcome, 0.5)
        pairs.append({"a": a.column.index, "b": b.column.index, "outcome_for_a": verdict.outcome,
                      "margin": verdict.margin, "position_bias": verdict.position_bias})
    return {"judge_id": judge.judge_id, "pairs": pairs, "result": _winner(ranked, points, "most pairwise wins")}


def summarize(comparison: Comparison, judges: dict[str, PairJudge], base_seed: int) -> dict[str, Any]:
    """The ``CompareSummary``: every column, the guide-reward winner and each judge's ranking."""
    return {
        "type": "CompareSummary",
        "prompt": comparison.prompt,
        "base_seed": base_seed,
        "schedule": comparison.schedule,
        "columns": [o.to_dict() for o in comparison.outcomes],
        "guide": guide_winner(comparison.outcomes),
        "judges": {name: judge_pairs(judge, comparison.prompt, comparison.outcomes) for name, judge in judges.items()},
    }


def verdict_lines(summary: dict[str, Any]) -> list[str]:
    """Who won on the guide reward and on each judge, at what cost, one line each."""
    labels = {str(c["column"]): c["spec"] for c in summary["columns"]}
    spent = [c for c in summary["columns"] if c["tokens_generated"]]
    cheapest = min(spent, key=lambda c: c["tokens_generated"]) if spent else None

    def against_cheapest(tokens: int) -> str:
        """The winner's tokens as a multiple of the cheapest column's: what its win cost."""
        if cheapest is None or tokens == cheapest["tokens_generated"]:
            return ""
        return f" ({tokens / cheapest['tokens_generated']:.1f}x {cheapest['spec']}'s)"

    def line(what: str, result: dict[str, Any] | None) -> str:
        if result is None:
            return f"{what}: no winner (fewer than two finished replies)"
        scores = ", ".join(f"{labels[i]} {s:.3g}" for i, s in result["scores"].items())
        if result["winner"] is None:
            return f"{what}: tie between {', '.join(result['tied'])} ({result['how']}: {scores})"
        c = result["cost"]
        return (f"{what}: {result['spec']} won ({result['how']}: {scores}) at {c['tokens_generated']} tokens "
                f"generated{against_cheapest(c['tokens_generated'])}, {c['reward_calls']} reward calls, "
                f"{c['forward_passes']} forward passes, {c['wall_seconds']:.1f} s")

    lines = [line("guide reward", summary["guide"])]
    lines += [line(f"{name} judge", j["result"]) for name, j in summary["judges"].items()]
    return lines
