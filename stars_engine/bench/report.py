"""The summary as table rows: one list of strings per strategy, shared by the
terminal's Rich table and ``summary.md`` (pasted into RESULTS.md).

The judge columns depend on the run: two per held-out judge (against vanilla,
against Best-of-N at similar compute), named after the judge.
"""

from __future__ import annotations

from typing import Any

from ..display.format import MISSING, number

BASE_COLUMNS = ("strategy", "n", "guide reward [95% CI]", "tokens gen", "reply tok", "reward calls", "fwd passes",
                "wall s", "accept", "att/seg")
ROLES = (("vs_vanilla", "vs vanilla"), ("vs_bon", "vs BoN"))


def _wtl(tally: dict[str, Any] | None) -> str:
    return MISSING if not tally else f"{tally['win']}/{tally['tie']}/{tally['loss']} vs {tally['opponent']}"


def judge_names(summary: dict[str, Any]) -> list[str]:
    return list(summary.get("judges", {}))


def columns(summary: dict[str, Any]) -> list[str]:
    """Column titles, in ``row`` order."""
    judged = [f"{name} W/T/L {title}" for name in judge_names(summary) for _, title in ROLES]
    return [*BASE_COLUMNS, *judged]


def row(s: dict[str, Any], names: list[str]) -> list[str]:
    """One strategy's cells, in ``columns`` order; means per reply."""
    g = s["guide_reward"]
    return [
        s["strategy"], str(s["cells"]) + (f" ({s['failed']} failed)" if s["failed"] else ""),
        f"{number(g['mean'], '.3f')} [{number(g['ci_low'], '.3f')}, {number(g['ci_high'], '.3f')}]",
        number(s["tokens_generated"], ".0f"), number(s["tokens_accepted"], ".0f"), number(s["reward_calls"], ".1f"),
        number(s["policy_forward_passes"], ".0f"), number(s["wall_seconds"], ".1f"),
        number(s["acceptance_rate"], ".0%"), number(s["attempts_per_segment"], ".2f"),
        *(_wtl(s["judge"].get(name, {}).get(role)) for name in names for role, _ in ROLES),
    ]


def judge_lines(summary: dict[str, Any]) -> list[str]:
    """One line per judge: how many distinct pairs it decided, and its position bias."""
    lines = []
    for name, j in summary.get("judges", {}).items():
        bias = None if j["position_bias"] is None else round(j["position_bias"], 6) + 0.0  # no "-0.00"
        bias = number(bias, "+.2f")
        lines.append(f"{name} judge: decided {j['decided']} of {j['distinct_pairs']} distinct pairs "
                     f"(tie below {j['tie_margin']}; {j['decided_both_orders']} preferred in both orders), "
                     f"position bias {bias}, mean |score| {number(j['mean_abs_margin'], '.3f')}")
    for both, a in summary.get("judge_agreement", {}).items():
        lines.append(f"judges {both.replace('~', ' and ')} agree on {a['agree']} of the {a['both_decided']} "
                     "pairs both decided")
    return lines + overoptimisation_lines(summary)


def _pct(x: float | None) -> str:
    return number(None if x is None else 100 * x, ".0f") + ("%" if x is not None else "")


def _points(x: float | None) -> str:
    return number(None if x is None else round(100 * x, 6) + 0.0, "+.0f") + (" pts" if x is not None else "")


def overoptimisation_lines(summary: dict[str, Any]) -> list[str]:
    """Per judge its rank agreement with the guide and its length preference; per strategy and
    opponent the guide's gap beside the judge's win rate, raw and length-controlled; then the flags."""
    lines = []
    for name, j in summary.get("judges", {}).items():
        g = j.get("guide_agreement")
        if g is None:
            continue
        lines.append(f"{name} judge and guide: Kendall tau {number(g['tau'], '+.2f')} (per prompt and seed over "
                     f"the pairs compared, mean of {g['prompts']}, {g['pairs']} pairs); the longer reply won "
                     f"{_pct(j['longer_wins'])} of the {j['unequal_decided']} decided pairs of unequal length")
    for s in summary["strategies"]:
        for name, roles in s["judge"].items():
            for role, title in ROLES:
                t = roles.get(role)
                if t and "win_rate" in t:
                    lines.append(
                        f"{s['strategy']} {title} ({t['opponent']}), {name} judge: guide "
                        f"{number(t['guide_diff'], '+.3f')}, win rate {_pct(t['win_rate'])} of {t['n']}, "
                        f"length-controlled {_pct(t['lc_win_rate'])} of {t['lc_pairs']} (within 10% length; "
                        f"length {_points(t['length_share'])}), tau {number(t['tau'], '+.2f')}")
    for f in summary.get("flags", []):
        if f["kind"] == "judge_disagrees":
            lines.append(f"FLAG {f['strategy']}: the guide puts it {f['guide_diff']:+.3f} ahead of {f['opponent']}, "
                         f"but the {f['judge']} judge prefers {f['opponent']} ({f['win']}/{f['tie']}/{f['loss']})")
        else:
            lines.append(f"FLAG {f['strategy']}: guide {f['guide_rise']:+.3f} over {f['cheaper']}, but the "
                         f"{f['judge']} judge's win rate vs vanilla falls {_pct(f['win_rate_before'])} -> "
                         f"{_pct(f['win_rate_after'])} (over-optimisation)")
    return lines


def budget_lines(summary: dict[str, Any]) -> list[str]:
    """Per Best-of-N budget, in tokens and then in wall seconds per reply: the leading method and its
    paired gap to each other method's best."""
    lines = []
    for b in [*summary.get("budgets", []), *summary.get("budgets_seconds", [])]:
        gaps = "; ".join(
            f"{number(d['mean'], '+.3f')} [{number(d['ci_low'], '+.3f')}, {number(d['ci_high'], '+.3f')}] vs {d['b']}"
            f" ({'significant' if d['significant'] else 'not significant'}, n={d['n']})"
            for d in b["versus"]
        )
        size = f"{b['seconds']:.1f} s a reply" if b.get("unit") == "seconds" else f"{b['tokens']:.0f} tokens"
        lines.append(f"at {b['budget']}'s budget ({size}) {b['leader']} leads" + (f": {gaps}" if gaps else ""))
    return lines


def markdown_table(summary: dict[str, Any]) -> str:
    titles, names = columns(summary), judge_names(summary)
    lines = ["| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
    for s in summary["strategies"]:
        cells = row(s, names)
        cells[0] = f"`{cells[0]}`"
        lines.append("| " + " | ".join(cells) + " |")
    notes = "".join(f"\n- {line}" for line in [*budget_lines(summary), *judge_lines(summary)])
    return "\n".join(lines) + "\n" + (notes + "\n" if notes else "")
