"""Where the guide and a held-out judge disagree: over-optimisation and length.

A strategy that raises the guide reward is only finding better replies if the
judges, which it never optimised, agree. Three measures, per judge:

- Rank agreement: for each (prompt, seed), Kendall's tau-a between the guide and
  the judge over the reply pairs the judge compared (+1 when both prefer the
  same reply, -1 when opposite ones, 0 when either calls it even), averaged over
  prompts. Only compared pairs enter: a chat-judge pair costs two forward
  passes, so every pair of every reply would be quadratic.
- Flags: a strategy the guide puts ahead of its opponent while the judge has it
  losing more than winning, and a setting that beats a cheaper setting of the
  same method on the guide while its win rate against vanilla falls (the shape
  of reward over-optimisation: the proxy rises, the held-out score drops).
- Length control: the win rate counted only among pairs whose replies are
  within 10 % of each other in tokens. Matching, not a logistic adjustment: it
  assumes no shape for how length sways a judge and needs no fit on a few dozen
  pairs, at the price of fewer pairs (their number is kept). The raw win rate
  minus this one is the part of the win that length explains.
"""

from __future__ import annotations

from statistics import fmean
from typing import Any

from .judge import LOSS, TIE, WIN
from .judging import Pair

LENGTH_TOLERANCE = 0.10
Judged = list[tuple[Pair, dict[str, Any]]]  # each compared pair with its verdict


def _sign(x: float | None) -> int:
    return 0 if not x else (1 if x > 0 else -1)


def _judge_sign(verdict: dict[str, Any]) -> int:
    return {WIN: 1, LOSS: -1}.get(verdict["outcome"], 0)


def win_rate(verdicts: list[dict[str, Any]]) -> float | None:
    """Wins plus half the ties, over all verdicts (None for none)."""
    if not verdicts:
        return None
    return (sum(v["outcome"] == WIN for v in verdicts) + sum(v["outcome"] == TIE for v in verdicts) / 2) / len(verdicts)


def similar_length(pair: Pair) -> bool:
    return abs(pair.length - pair.other_length) <= LENGTH_TOLERANCE * max(pair.length, pair.other_length)


def distinct(items: Judged) -> Judged:
    """Pairs of two different replies (identical ones tie without a judge, and say nothing)."""
    return [(p, v) for p, v in items if p.reply.strip() != p.other.strip()]


def rank_agreement(items: Judged) -> dict[str, Any]:
    """Kendall's tau-a between guide and judge per (prompt, seed) over its compared pairs, averaged."""
    groups: dict[tuple[str, int], list[int]] = {}
    for pair, verdict in distinct(items):
        if pair.guide_diff is not None:
            groups.setdefault((pair.prompt_id, pair.seed), []).append(_sign(pair.guide_diff) * _judge_sign(verdict))
    taus = [fmean(signs) for signs in groups.values()]
    return {"tau": fmean(taus) if taus else None, "prompts": len(taus), "pairs": sum(map(len, groups.values()))}


def length_effect(items: Judged) -> dict[str, Any]:
    """Raw and length-controlled win rate, how much of the win is length, and how often the longer reply won."""
    verdicts = [v for _, v in items]
    matched = [v for p, v in items if similar_length(p)]
    raw, controlled = win_rate(verdicts), win_rate(matched)
    unequal = [(p, v) for p, v in distinct(items) if p.length != p.other_length and v["outcome"] != TIE]
    longer = [(p.length > p.other_length) == (v["outcome"] == WIN) for p, v in unequal]
    return {
        "win_rate": raw, "lc_win_rate": controlled, "lc_pairs": len(matched),
        "length_share": None if raw is None or controlled is None else raw - controlled,
        "longer_wins": fmean(longer) if longer else None, "unequal_decided": len(longer),
    }


def pair_view(items: Judged) -> dict[str, Any]:
    """What one strategy's pairs against one opponent say: guide gap, judge win rate, length, agreement."""
    gaps = [p.guide_diff for p, _ in items if p.guide_diff is not None]
    return {"guide_diff": fmean(gaps) if gaps else None, **length_effect(items),
            "tau": rank_agreement(items)["tau"]}


def flags(strategies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every place a judge contradicts the guide (see the module docstring), in strategy order."""
    out = []
    for s in strategies:
        for judge, roles in s["judge"].items():
            for role, t in roles.items():
                if (t.get("guide_diff") or 0) > 0 and t["loss"] > t["win"]:
                    out.append({"kind": "judge_disagrees", "strategy": s["strategy"], "judge": judge, "role": role,
                                "opponent": t["opponent"], "guide_diff": t["guide_diff"],
                                "win": t["win"], "tie": t["tie"], "loss": t["loss"]})
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for s in strategies:
        if s["guide_reward"]["mean"] is not None and s["tokens_generated"] is not None:
            by_kind.setdefault(s["kind"], []).append(s)
    for settings in by_kind.values():
        settings.sort(key=lambda s: s["tokens_generated"])
        for cheaper, dearer in zip(settings, settings[1:], strict=False):
            rise = dearer["guide_reward"]["mean"] - cheaper["guide_reward"]["mean"]
            for judge in dearer["judge"]:
                before = cheaper["judge"].get(judge, {}).get("vs_vanilla", {}).get("win_rate")
                after = dearer["judge"][judge].get("vs_vanilla", {}).get("win_rate")
                if rise > 0 and before is not None and after is not None and after < before:
                    out.append({"kind": "overoptimised", "strategy": dearer["strategy"], "judge": judge,
                                "cheaper": cheaper["strategy"], "guide_rise": rise,
                                "win_rate_before": before, "win_rate_after": after})
    return out
