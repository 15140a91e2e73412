"""The bench's frontier in the terminal: mean guide reward per strategy against a cost per reply.

Drawn with textual-plotext from the bench summary's own per-strategy means
(``stars_engine.bench.metrics.summarize``), so the terminal shows what
``frontier.png`` will. A point is a strategy; left/right move the highlight
from point to point and Enter picks it (the bench screen then opens that
strategy's best cell in replay).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.binding import Binding
from textual.message import Message
from textual_plotext import PlotextPlot

from stars_engine.display.format import number

from ..literal import printable

KIND_COLORS = {"vanilla": "white", "best-of-n": "blue", "stars": "green", "cards": "magenta",
               "specrej": "yellow", "smc": "cyan", "beam": "red"}
PICKED = "orange"


@dataclass(frozen=True)
class Point:
    strategy: str
    kind: str
    cost: float
    reward: float


def points(strategies: list[dict[str, Any]], cost: str) -> list[Point]:
    """The strategies that have a mean guide reward and a mean ``cost`` (a summary field), cheapest first."""
    found = [Point(s["strategy"], s["kind"], s[cost], s["guide_reward"]["mean"]) for s in strategies
             if s["guide_reward"]["mean"] is not None and s.get(cost) is not None]
    return sorted(found, key=lambda p: (p.cost, p.strategy))


class FrontierPlot(PlotextPlot, can_focus=True):
    """Mean guide reward (y) against one mean cost per reply (x), a point per strategy."""

    DEFAULT_CSS = """
    FrontierPlot { border: round $primary-darken-2; }
    FrontierPlot:focus { border: round $accent; }
    """
    BINDINGS = [
        Binding("left", "move(-1)", "Prev point", show=False),
        Binding("right", "move(1)", "Next point", show=False),
        Binding("enter", "pick", "Replay point", tooltip="Open the picked strategy's best cell in replay"),
    ]

    class Moved(Message):
        """The highlight moved to another strategy (the other plot follows)."""

        def __init__(self, strategy: str) -> None:
            super().__init__()
            self.strategy = strategy

    class Picked(Message):
        """A point was picked: the strategy it stands for."""

        def __init__(self, strategy: str) -> None:
            super().__init__()
            self.strategy = strategy

    def __init__(self, cost: str, unit: str, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.cost = cost
        self.unit = unit
        self.points: list[Point] = []
        self.picked: str | None = None  # the highlighted point's strategy

    def on_mount(self) -> None:
        self.border_title = f"reward vs {self.unit}"
        self.draw()

    def show(self, strategies: list[dict[str, Any]]) -> None:
        """Redraw from a summary's strategies (the highlight stays on its strategy)."""
        self.points = points(strategies, self.cost)
        if self.points and self.picked not in {p.strategy for p in self.points}:
            self.picked = None
        self.draw()

    def highlighted(self) -> Point | None:
        return next((p for p in self.points if p.strategy == self.picked), None)

    def draw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        for kind in dict.fromkeys(p.kind for p in self.points):
            mine = [p for p in self.points if p.kind == kind and p.strategy != self.picked]
            if mine:
                plt.scatter([p.cost for p in mine], [p.reward for p in mine], marker="●",
                            color=KIND_COLORS.get(kind, "white"))
        picked = self.highlighted()
        if picked is not None:
            plt.scatter([picked.cost], [picked.reward], marker="◆", color=PICKED)
        self.border_subtitle = printable(
            f"{picked.strategy} {number(picked.reward, '.3f')} @ {number(picked.cost, '.3g')}"
            if picked else (f"{len(self.points)} strategies · ←/→ pick" if self.points else "no cells yet")
        )
        self.refresh()

    def action_move(self, step: int) -> None:
        if not self.points:
            return
        labels = [p.strategy for p in self.points]
        at = labels.index(self.picked) if self.picked in labels else (-1 if step > 0 else 0)
        self.highlight(labels[(at + step) % len(labels)])
        self.post_message(self.Moved(self.picked))

    def highlight(self, strategy: str | None) -> None:
        if strategy != self.picked:
            self.picked = strategy
            self.draw()

    def action_pick(self) -> None:
        if self.picked is None and self.points:
            self.picked = self.points[0].strategy
            self.draw()
        if self.picked is not None:
            self.post_message(self.Picked(self.picked))
