"""The summary as table rows: one list of strings per strategy, shared by the
terminal's Rich table and ``summary.md`` (pasted into RESULTS.md)."""

from __future__ import annotations

from typing import Any

COLUMNS = ("strategy", "n", "guide reward [95% CI]", "tokens gen", "reward calls", "fwd passes", "wall s",
           "accept", "att/seg", "judge W/T/L vs vanilla", "judge W/T/L vs BoN")


def _num(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def _wtl(tally: dict[str, Any] | None) -> str:
    return "–" if not tally else f"{tally['win']}/{tally['tie']}/{tally['loss']} vs {tally['opponent']}"


def row(s: dict[str, Any]) -> list[str]:
    """One strategy's cells, in ``COLUMNS`` order; means per reply."""
    g = s["guide_reward"]
    return [
        s["strategy"], str(s["cells"]) + (f" ({s['failed']} failed)" if s["failed"] else ""),
        f"{_num(g['mean'], '.3f')} [{_num(g['ci_low'], '.3f')}, {_num(g['ci_high'], '.3f')}]",
        _num(s["tokens_generated"], ".0f"), _num(s["reward_calls"], ".1f"),
        _num(s["policy_forward_passes"], ".0f"), _num(s["wall_seconds"], ".1f"),
        _num(s["acceptance_rate"], ".0%"), _num(s["attempts_per_segment"], ".2f"),
        _wtl(s["judge"].get("vs_vanilla")), _wtl(s["judge"].get("vs_bon")),
    ]


def markdown_table(summary: dict[str, Any]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for s in summary["strategies"]:
        cells = row(s)
        cells[0] = f"`{cells[0]}`"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
