"""Replay a recorded comparison: its columns side by side, all playing together at the recorded pace.

The columns ran one after another; replayed, they start together, each event
at its recorded offset from its own run's start (``store.comparisons.timeline``),
so the columns race as they would have side by side. A clock of recorded
seconds moves at the replay's speed (the replay screen's speeds and keys);
each tick applies every event whose offset it passed to its column's
``RunState`` and redraws that column with the compare screen's own widget.
The events are read before the screen opens, in a thread worker (the
sessions screen's), never on the event loop. Enter on a focused column replays that run alone.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Label, Static

from stars_engine.compare import column_seeds
from stars_engine.display.controls import one_line
from stars_engine.events import AttemptScored, Event, RunStarted
from stars_engine.store.comparisons import Comparison, timeline

from ..literal import LiteralNotifications, literal
from ..widgets.compare_columns import CompareColumn, recorded_column
from .replay import Playback

TICK_S = 0.05  # how often the clock moves and the columns redraw while playing


class CompareReplayScreen(Playback, Screen):
    """Play, pause, step and change the speed of a comparison's columns, side by side."""

    DEFAULT_CSS = """
    CompareReplayScreen #compare-replay-columns { height: 1fr; }
    CompareReplayScreen #compare-replay-verdict { height: auto; max-height: 6; padding: 0 1; }
    """
    BINDINGS = [
        Binding("space", "toggle_play", "Play/pause", tooltip="Play or pause the replay"),
        Binding("n,right", "step", "Step", tooltip="Show the next attempt, in whichever column it is"),
        Binding("plus,equals_sign", "faster", "Faster", tooltip="Replay faster"),
        Binding("minus", "slower", "Slower", tooltip="Replay slower"),
        Binding("r,home", "restart", "Restart", tooltip="Back to the start of the comparison"),
        Binding("enter", "replay_column", "Replay column", tooltip="Replay the focused column's run alone"),
        Binding("escape", "back", "Back", tooltip="Back to the previous screen"),
    ]

    def __init__(self, comparison: Comparison, columns: list[list[Event]], autoplay: bool = True) -> None:
        super().__init__()
        self.comparison = comparison
        self.column_events = [list(events) for events in columns]
        self.timeline = timeline(self.column_events)
        self.ends = [max((at for at, p, _ in self.timeline if p == i), default=0.0) for i in range(len(columns))]
        self.autoplay = autoplay
        self.position = 0  # events of the timeline applied so far
        self.clock = 0.0  # recorded seconds since the columns started
        self.playing = False
        self.speed = 4.0
        self._timer: Timer | None = None
        self._last_tick = 0.0
        # each column's seed as compare derived it from the base seed (what its run was given)
        seeds = column_seeds(comparison.base_seed, max((c.index for c in comparison.columns), default=0) + 1)
        self.columns = [CompareColumn(recorded_column(c.index, c.spec, seeds[c.index])) for c in comparison.columns]

    def compose(self) -> ComposeResult:
        yield Label("", id="compare-replay-title")
        with Horizontal(id="compare-replay-columns"):
            yield from self.columns
        yield Static("", id="compare-replay-verdict")
        yield Footer(compact=True)

    @property
    def finished(self) -> bool:
        return self.position >= len(self.timeline)

    def restart(self) -> None:
        self.position, self.clock = 0, 0.0
        for widget, recorded in zip(self.columns, self.comparison.columns, strict=True):
            widget.state = type(widget.state)()
            widget.status = "waiting" if recorded.run is not None else "not recorded"
            widget.set_class(False, "-winner")
        self.query_one("#compare-replay-verdict", Static).update("")
        self.redraw()

    def advance(self, until: float) -> None:
        """Apply every event at or before ``until`` (recorded seconds) to its column."""
        self.clock = until
        while not self.finished and self.timeline[self.position][0] <= until:
            _, position, event = self.timeline[self.position]
            self.position += 1
            column = self.columns[position]
            if isinstance(event, RunStarted):
                column.status = "replaying"
            column.state.apply(event)
        if self.finished:
            self.playing = False
            self._stop_timer()
            self.show_verdict()
        self.redraw()

    def show_verdict(self) -> None:
        """Once every column has ended: the winners, as the compare screen marks them, and its verdict lines."""
        guide = next((index for what, index in self.comparison.winners() if what == "guide reward"), None)
        for widget in self.columns:
            widget.set_class(widget.column.index == guide, "-winner")
        lines = self.comparison.verdict_lines() or [
            f"{what}: {'a tie' if index is None else self._label(index) + ' won'}"
            for what, index in self.comparison.winners()]
        self.query_one("#compare-replay-verdict", Static).update(Text("\n".join(one_line(line) for line in lines)))

    def _label(self, index: int) -> str:
        return next((w.label for w in self.columns if w.column.index == index), str(index + 1))

    def redraw(self) -> None:
        for widget, end in zip(self.columns, self.ends, strict=True):
            widget.show(min(self.clock, end))
        mode = "finished" if self.finished else "playing" if self.playing else "paused"
        attempts = sum(isinstance(e, AttemptScored) for _, _, e in self.timeline[: self.position])
        total = sum(isinstance(e, AttemptScored) for _, _, e in self.timeline)
        c = self.comparison
        title = literal(f" comparison {c.id} · {mode} · {self.speed:g}× · {self.clock:.1f} s · "
                        f"attempt {attempts} of {total}\n", "bold")
        self.query_one("#compare-replay-title", Label).update(title + literal(f" user: {' '.join(c.prompt.split())}"))

    # -- playing ------------------------------------------------------------

    def _play(self) -> None:
        self._last_tick = time.monotonic()
        self._timer = self.set_interval(TICK_S, self._tick)

    def _tick(self) -> None:
        if not self.playing:
            return
        now = time.monotonic()
        elapsed, self._last_tick = now - self._last_tick, now
        self.advance(self.clock + elapsed * self.speed)


    def action_step(self) -> None:
        """Pause, and move the clock to the next attempt (in whichever column comes first)."""
        self.stop_playing()
        upcoming = next((at for at, _, e in self.timeline[self.position:] if isinstance(e, AttemptScored)), None)
        if upcoming is None:  # no attempt left: to the end
            upcoming = self.timeline[-1][0] if self.timeline else self.clock
        self.advance(max(upcoming, self.clock))


    def action_restart(self) -> None:
        self.stop_playing()
        self.restart()

    def action_replay_column(self) -> None:
        """The focused column's run alone, on the replay screen (its segments and attempts in the inspector)."""
        from .replay import ReplayScreen

        focused = self.focused
        if not isinstance(focused, CompareColumn):
            self.notify("Focus a column first (Tab).")
            return
        position = self.columns.index(focused)
        recorded = self.comparison.columns[position]
        if recorded.run is None:
            self.notify("That column was not recorded.")
            return
        self.stop_playing()
        self.app.push_screen(ReplayScreen(self.column_events[position], title=f"run {recorded.run.id[:8]}"))



class CompareReplayApp(LiteralNotifications, App):
    """``stars replay COMPARISON`` on a terminal: the side-by-side replay alone, no model loaded."""

    CSS_PATH = "../stars.tcss"
    TITLE = "stars replay"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(self, comparison: Comparison, columns: list[list[Event]], autoplay: bool = True) -> None:
        super().__init__()
        self.comparison, self.column_events, self.autoplay = comparison, columns, autoplay

    def get_default_screen(self) -> Screen:
        return CompareReplayScreen(self.comparison, self.column_events, autoplay=self.autoplay)

