"""Accepted reward per segment as a bar chart, with each segment's threshold marked.

Drawn with block characters so it works in any terminal and in SVG snapshots.
A bar is green when its segment passed, yellow when the attempts ran out and
the best was taken; the threshold the segment faced is a red tick in its column.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

Point = tuple[float, "float | None", bool]
BAR, TICK, TICK_ON_BAR = "█", "─", "╪"


def chart_rows(points: list[Point], width: int, height: int) -> Text:
    """Render the last points that fit ``width`` (two columns each) into ``height`` rows."""
    text = Text()
    if height < 2 or width < 4:
        return text
    shown = points[-max(1, width // 2) :]
    if not shown:
        text.append("reward per segment appears here", style="dim")
        return text
    values = [p[0] for p in shown] + [p[1] for p in shown if p[1] is not None]
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    rows = height - 1

    def level(value: float) -> int:
        """Row (0 = bottom) a value reaches."""
        return round((value - lo) / (hi - lo) * (rows - 1))

    for row in range(rows - 1, -1, -1):
        for reward, threshold, exhausted in shown:
            on_bar = level(reward) >= row
            on_tick = threshold is not None and level(threshold) == row
            colour = "yellow" if exhausted else "green"
            if on_tick:
                text.append(TICK_ON_BAR if on_bar else TICK, style="bold red")
            else:
                text.append(BAR if on_bar else " ", style=colour)
            text.append(" ")
        text.append("\n")
    text.append(f"{lo:+.2f} … {hi:+.2f}  ", style="dim")
    text.append("─ threshold", style="red")
    return text


class RewardChart(Widget):
    """Reward of each accepted segment and the threshold it faced."""

    DEFAULT_CSS = "RewardChart { height: 8; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.points: list[Point] = []

    def set_points(self, points: list[Point]) -> None:
        if points != self.points:
            self.points = list(points)
            self.refresh()

    def render(self) -> Text:
        return chart_rows(self.points, self.content_size.width, self.content_size.height)
