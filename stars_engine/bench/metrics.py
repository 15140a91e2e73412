"""Per-strategy numbers and the goal check, from the cell and verdict records.

Means are over finished cells; the guide reward gets a 95% percentile
bootstrap interval (fixed seed, so the same records always give the same
numbers). Nothing here knows how the records were made, so a summary can be
rebuilt from the JSONL logs alone.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from statistics import fmean
from typing import Any

from .judge import LOSS, TIE, WIN
from .judging import VS_BON, VS_VANILLA, Pair, ok
from .overopt import flags, length_effect, pair_view, rank_agreement

STAT_FIELDS = ("tokens_generated", "tokens_accepted", "tokens_discarded", "reward_calls",
               "policy_forward_passes", "wall_seconds")


def bootstrap_ci(values: list[float], level: float = 0.95, resamples: int = 2000, seed: int = 0):
    """(low, high) percentile bootstrap interval of the mean; (v, v) for one value."""
    if len(values) < 2:
        return (values[0], values[0]) if values else (None, None)
    rng = random.Random(seed)
    means = sorted(fmean(rng.choices(values, k=len(values))) for _ in range(resamples))
    tail = (1 - level) / 2
    return means[int(tail * resamples)], means[min(resamples - 1, int((1 - tail) * resamples))]


def paired_difference(records: list[dict[str, Any]], a: str, b: str) -> dict[str, Any]:
    """Strategy ``a`` minus ``b`` in guide reward, paired by (prompt, seed), with a 95% bootstrap interval.

    ``significant`` is True when the interval leaves out zero.
    """
    def by_cell(label: str) -> dict[tuple[str, int], float]:
        return {(r["prompt_id"], r["seed"]): r["guide_reward"] for r in ok(records)
                if r["strategy"] == label and r["guide_reward"] is not None}

    mine, theirs = by_cell(a), by_cell(b)
    diffs = [mine[k] - theirs[k] for k in sorted(mine.keys() & theirs.keys())]
    low, high = bootstrap_ci(diffs)
    return {
        "a": a, "b": b, "n": len(diffs), "mean": _mean(diffs), "ci_low": low, "ci_high": high,
        "a_ahead": sum(d > 0 for d in diffs), "b_ahead": sum(d < 0 for d in diffs),
        "significant": bool(diffs) and len(diffs) > 1 and (low > 0 or high < 0),
    }


COSTS = {"tokens": "tokens_generated", "seconds": "wall_seconds"}  # a budget's unit: its per-reply field


def budget_leaders(
    strategies: list[dict[str, Any]], records: list[dict[str, Any]], unit: str = "tokens",
) -> list[dict[str, Any]]:
    """At each Best-of-N budget (its mean tokens generated, or wall seconds, per reply), which method leads.

    Each method (vanilla, Best-of-N, STARS, CARDS, Speculative Rejection) is
    represented by its best setting, by mean guide reward, among those that
    spent no more than the budget; the leader is compared with the runner-up
    method, paired by prompt and seed. In seconds the answer can differ: a
    STARS reply is many small requests one after another, Best-of-N's one.
    """
    cost = COSTS[unit]
    scored = [s for s in strategies if s["guide_reward"]["mean"] is not None and s["cells"] and s[cost] is not None]
    out = []
    for bon in sorted((s for s in scored if s["kind"] == "best-of-n"), key=lambda s: s[cost]):
        best: dict[str, dict[str, Any]] = {}
        for s in scored:
            if s[cost] <= bon[cost]:
                held = best.get(s["kind"])
                if held is None or s["guide_reward"]["mean"] > held["guide_reward"]["mean"]:
                    best[s["kind"]] = s
        ranked = sorted(best.values(), key=lambda s: s["guide_reward"]["mean"], reverse=True)
        entry = {
            "budget": bon["strategy"], "unit": unit, unit: bon[cost],
            "methods": {k: {"strategy": s["strategy"], "guide_reward": s["guide_reward"]["mean"],
                            "tokens_generated": s["tokens_generated"], "wall_seconds": s["wall_seconds"]}
                        for k, s in best.items()},
            "leader": ranked[0]["strategy"],
            "versus": [paired_difference(records, ranked[0]["strategy"], s["strategy"]) for s in ranked[1:]],
        }
        out.append(entry)
    return out


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return fmean(present) if present else None


def _judge_tally(items: list[tuple[Pair, dict[str, Any]]], opponent: str) -> dict[str, Any]:
    verdicts = [v for _, v in items]
    counts = {o: sum(v["outcome"] == o for v in verdicts) for o in (WIN, TIE, LOSS)}
    margin = _mean([v["margin"] for v in verdicts])
    return {"opponent": opponent, **counts, "n": len(verdicts), "mean_margin": margin, **pair_view(items)}


def _distinct(verdicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Verdicts on two different replies (identical ones are ties without asking the judge)."""
    return [v for v in verdicts if v["as_first"] or v["as_second"]]


def judge_overview(judge_id: str, verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    """How informative one judge was: its position bias, and how many pairs it decided.

    ``decided_both_orders`` counts the pairs the first round's rule (preferred
    in both orders) would have decided, for comparison with the mean rule.
    """
    asked = _distinct(verdicts)
    return {
        "judge_id": judge_id,
        "tie_margin": verdicts[0].get("tie_margin") if verdicts else None,
        "pairs": len(verdicts),
        "distinct_pairs": len(asked),
        "decided": sum(v["outcome"] != TIE for v in verdicts),
        "decided_both_orders": sum(v["as_first"] * v["as_second"] > 0 for v in asked),
        "position_bias": _mean([(v["as_first"] - v["as_second"]) / 2 for v in asked]),
        "mean_abs_margin": _mean([abs(v["margin"]) for v in asked]),
    }


def agreement(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> dict[str, int]:
    """On pairs both judges decided (lists aligned pair by pair), how often they agree."""
    both = [(a["outcome"], b["outcome"]) for a, b in zip(first, second, strict=True)
            if TIE not in (a["outcome"], b["outcome"])]
    return {"both_decided": len(both), "agree": sum(a == b for a, b in both)}


def _strategy(label: str, records: list[dict[str, Any]], judged: dict[str, dict[str, Any]]) -> dict[str, Any]:
    good = ok(records)
    rewards = [r["guide_reward"] for r in good if r["guide_reward"] is not None]
    low, high = bootstrap_ci(rewards)
    wall = sum(r["stats"]["wall_seconds"] for r in good)
    tokens = sum(r["stats"]["tokens_generated"] for r in good)
    return {
        "strategy": label,
        "kind": records[0]["kind"],
        "params": records[0]["params"],
        "cells": len(good),
        "failed": len(records) - len(good),
        "errors": sorted({r["error"] for r in records if r.get("error")}),
        "guide_reward": {"mean": _mean(rewards), "ci_low": low, "ci_high": high, "n": len(rewards)},
        **{name: _mean([r["stats"][name] for r in good]) for name in STAT_FIELDS},
        "wall_seconds_total": wall,
        "tokens_per_second": tokens / wall if wall else None,
        "acceptance_rate": _mean([r["stats"]["acceptance_rate"] for r in good]),
        "attempts_per_segment": _mean([r["attempts_per_segment"] for r in good]),
        "exhausted_segments": _mean([r["exhausted_segments"] for r in good]),
        "judge": judged,
    }


def judge_results(pairs: list[Pair], verdicts: dict[str, dict[str, Any]], judge_id: str):
    """{strategy: {role: win/tie/loss tally}} from the pairs that have a verdict."""
    grouped: dict[tuple[str, str, str], list[tuple[Pair, dict[str, Any]]]] = {}
    for pair, verdict in _judged(pairs, verdicts, judge_id):
        grouped.setdefault((pair.strategy, pair.role, pair.opponent), []).append((pair, verdict))
    out: dict[str, dict[str, Any]] = {}
    for (label, role, opponent), found in grouped.items():
        out.setdefault(label, {})[role] = _judge_tally(found, opponent)
    return out


def _judged(pairs: list[Pair], verdicts: dict[str, dict[str, Any]], judge_id: str):
    """Each pair that has a verdict from the judge ``judge_id``, with that verdict."""
    return [(p, verdicts[k]) for p in pairs if (k := p.key(judge_id)) in verdicts]


def judges_summary(pairs: list[Pair], verdicts: dict[str, dict[str, Any]], judge_ids: dict[str, str]):
    """{name: overview} for each judge (with its rank agreement with the guide and its length
    preference), and {"a~b": agreement} for each two of them."""
    found = {name: _judged(pairs, verdicts, jid) for name, jid in judge_ids.items()}
    overview = {
        name: {**judge_overview(judge_ids[name], [v for _, v in found[name]]),
               "guide_agreement": rank_agreement(found[name]),
               **{k: v for k, v in length_effect(found[name]).items() if k in ("longer_wins", "unequal_decided")}}
        for name in judge_ids
    }
    names = list(judge_ids)
    shared = [p for p in pairs if all(p.key(jid) in verdicts for jid in judge_ids.values())]
    pairwise = {
        f"{a}~{b}": agreement([verdicts[p.key(judge_ids[a])] for p in shared],
                              [verdicts[p.key(judge_ids[b])] for p in shared])
        for i, a in enumerate(names) for b in names[i + 1:]
    }
    return overview, pairwise


def goal_check(strategies: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's goal: STARS reaches Best-of-N's mean guide reward with fewer tokens at
    >= 3 of 4 budgets, and some STARS setting wins more than it loses against vanilla
    (checked per judge)."""
    stars = [s for s in strategies if s["kind"] == "stars" and s["guide_reward"]["mean"] is not None]
    budgets = []
    for bon in (s for s in strategies if s["kind"] == "best-of-n" and s["guide_reward"]["mean"] is not None):
        reached = [
            s["strategy"] for s in stars
            if s["guide_reward"]["mean"] >= bon["guide_reward"]["mean"]
            and s["tokens_generated"] < bon["tokens_generated"]
        ]
        budgets.append({"bon": bon["strategy"], "guide_reward": bon["guide_reward"]["mean"],
                        "tokens_generated": bon["tokens_generated"], "reached_by": reached})
    hit = sum(bool(b["reached_by"]) for b in budgets)
    names = list(dict.fromkeys(name for s in stars for name in s["judge"]))
    judge = {
        name: {
            s["strategy"]: {"win": t["win"], "loss": t["loss"], "wins_more": t["win"] > t["loss"]}
            for s in stars if (t := s["judge"].get(name, {}).get(VS_VANILLA))
        }
        for name in names
    }
    return {
        "budgets": budgets,
        "budgets_reached": hit,
        "frontier_goal_met": bool(budgets) and hit * 4 >= 3 * len(budgets),
        "judge_vs_vanilla": judge,
        "judge_goal_met": {name: any(j["wins_more"] for j in per.values()) for name, per in judge.items()},
    }


def summarize(records: list[dict[str, Any]], pairs: list[Pair], verdicts: dict[str, dict[str, Any]],
              judge_ids: dict[str, str]) -> dict[str, Any]:
    """Every number the bench reports, in strategy order of first appearance.

    ``judge_ids`` maps each judge's short name (a table column) to its id.
    """
    judged = {name: judge_results(pairs, verdicts, jid) for name, jid in judge_ids.items()}
    labels = list(dict.fromkeys(r["strategy"] for r in records))
    strategies = [
        _strategy(label, [r for r in records if r["strategy"] == label],
                  {name: per[label] for name, per in judged.items() if label in per})
        for label in labels
    ]
    overview, pairwise = judges_summary(pairs, verdicts, judge_ids)
    return {"strategies": strategies, "goal": goal_check(strategies), "budgets": budget_leaders(strategies, records),
            "budgets_seconds": budget_leaders(strategies, records, "seconds"),
            "judges": overview,
            "judge_agreement": pairwise,
            "flags": flags(strategies),
            "roles": {VS_VANILLA: "against vanilla", VS_BON: "against Best-of-N at the nearest mean tokens"}}
