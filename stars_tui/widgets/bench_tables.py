"""The bench view's two tables: the cells as they land, and the leader at each Best-of-N budget.

The leaders come from the bench summary's ``budgets`` and ``budgets_seconds``
(``stars_engine.bench.metrics.budget_leaders``): the table only lays them out.
Prompt ids and strategy labels come from files and the command line, so they
are shown literally.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from stars_engine.display.format import MISSING, number

from ..literal import literal


def cell_row(record: dict[str, Any], reused: bool) -> list[Text]:
    """One finished cell: prompt id, strategy, seed, guide reward, tokens generated, wall seconds."""
    style = "dim" if reused else ""
    stats = record.get("stats") or {}
    reward = "failed" if record.get("error") else number(record.get("guide_reward"), "+.3f")
    return [
        literal(str(record["prompt_id"]), style), literal(record["strategy"], style), Text(str(record["seed"]), style),
        Text(reward, style="red" if record.get("error") else style),
        Text(number(stats.get("tokens_generated"), ".0f"), style),
        Text(number(stats.get("wall_seconds"), ".1f"), style),
    ]


class CellsTable(DataTable):
    """Every cell of this bench as it lands (reused ones dimmed); the cursor follows the newest
    cell while it is on the last row. Enter (or a click) on a row opens its run in replay."""

    COLUMNS = ("prompt", "strategy", "seed", "reward", "tokens", "s")

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        for name in self.COLUMNS:
            self.add_column(name, key=name)

    def add_cell(self, index: int, record: dict[str, Any], reused: bool) -> None:
        follow = self.row_count == 0 or self.cursor_row == self.row_count - 1
        self.add_row(*cell_row(record, reused), key=str(index))
        if follow:
            self.move_cursor(row=self.row_count - 1)


def leader_row(budget: dict[str, Any]) -> list[Text]:
    """One budget: its Best-of-N and size, the leading setting, its reward, its paired gap to the runner-up."""
    size = f"{budget['seconds']:.1f} s" if budget.get("unit") == "seconds" else f"{budget['tokens']:.0f} tok"
    leader = budget["leader"]
    reward = next((m["guide_reward"] for m in budget["methods"].values() if m["strategy"] == leader), None)
    gap = MISSING
    if budget["versus"]:
        d = budget["versus"][0]
        mark = "*" if d["significant"] else ""
        gap = (f"{number(d['mean'], '+.3f')}{mark} [{number(d['ci_low'], '+.2f')}, {number(d['ci_high'], '+.2f')}]"
               f" vs {d['b']}")
    return [literal(f"{budget['budget']} {size}"), literal(leader), Text(number(reward, "+.3f")), literal(gap)]

class LeadersTable(DataTable):
    """Per Best-of-N budget (in tokens, then in wall seconds per reply) the leading setting and its
    gap to the runner-up method, paired by prompt and seed (* when the 95% interval leaves out zero)."""

    COLUMNS = ("budget", "leader", "reward", "gap to next")

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.add_columns(*self.COLUMNS)

    def show(self, summary: dict[str, Any]) -> None:
        """Lay out ``summary``'s leaders; the columns are made again, so their widths fit these rows
        (an auto width grown by an earlier summary would never shrink back)."""
        cursor = self.cursor_row
        self.clear(columns=True)
        self.add_columns(*self.COLUMNS)
        for budget in [*summary.get("budgets", []), *summary.get("budgets_seconds", [])]:
            self.add_row(*leader_row(budget))
        if self.row_count:
            self.move_cursor(row=min(cursor, self.row_count - 1))
