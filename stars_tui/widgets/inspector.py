"""The segment inspector: the reward chart, the segments so far, one segment's attempts.

It follows the segment being decided until the user highlights an earlier one
in the segments table; highlighting the last row follows again. Segments and
attempts are numbered from 1 here, as in every export (the events count from 0).
The attempts table gives its text column whatever width the pane has left;
Enter (or a click) on an attempt shows its whole text.
"""

from __future__ import annotations

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Label

from stars_engine.display.format import number, shorten
from stars_engine.events import ACCEPTED, AttemptScored
from stars_engine.run_state import RunState, SegmentView

from ..literal import literal
from .branches import VERDICT_STYLES, BranchesView
from .reward_chart import RewardChart

SEGMENT_COLUMNS = (("#", 3), ("reward", 6), ("thresh", 6), ("tries", 5), ("status", 10))  # "best taken"
ATTEMPT_TEXT = 48  # characters of an attempt's text in its row


def segment_row(view: SegmentView) -> tuple:
    acc = view.accepted
    if acc is None:
        status = Text("deciding…", style="italic cyan")
        reward = number(None)
    else:
        label, style = ("best taken", "yellow") if acc.exhausted else (ACCEPTED, "green")
        status = Text(label, style=style)
        reward = number(acc.reward)
    return (str(view.index + 1), reward, number(view.threshold), str(len(view.attempts)), status)


def length_cell(attempt: AttemptScored) -> str:
    """Its tokens, and where CARDS cut it, the next-token entropy that did (``7 H3.41``)."""
    return str(attempt.tokens) + ("" if attempt.cut_entropy is None else f" H{attempt.cut_entropy:.2f}")


def attempt_row(attempt: AttemptScored) -> tuple:
    label = attempt.verdict + (f" r{attempt.round + 1}" if attempt.round is not None else "")
    verdict = Text(label, style=VERDICT_STYLES.get(attempt.verdict, ""))
    text = literal(shorten(attempt.text, ATTEMPT_TEXT) + (" ⏎" if attempt.eos else ""))
    return (str(attempt.attempt + 1), number(attempt.reward), verdict, length_cell(attempt), text)


TEXT_COLUMN = 4  # the attempts table's text, the column that takes the room left


class SegmentInspector(Vertical):
    """Live view of one run's segments and attempts."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = RunState()
        self.selected: int | None = None  # None: follow the newest segment
        self._shown_attempts: tuple[int, int] | None = None
        self._segment_rows: dict[str, tuple] = {}

    def compose(self) -> ComposeResult:
        yield Label("reward per segment", id="chart-title", classes="pane-title")
        yield RewardChart(id="chart")
        yield BranchesView(id="branches")
        yield Label("segments", classes="pane-title")
        segments = DataTable(id="segments", cursor_type="row", zebra_stripes=True)
        for label, width in SEGMENT_COLUMNS:  # fixed: a width grown by a passing value ("deciding…") never shrinks
            segments.add_column(label, width=width)
        yield segments
        yield Label("attempts", id="attempts-title", classes="pane-title")
        # its cursor shows only while it has the focus: a highlighted row would read as a verdict
        attempts = DataTable(id="attempts", cursor_type="row", zebra_stripes=True, show_cursor=False)
        attempts.add_columns("try", "reward", "verdict", "tok", "text")
        yield attempts

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if event.widget.id == "attempts":
            event.widget.show_cursor = True

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        if event.widget.id == "attempts":
            event.widget.show_cursor = False

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self._fit_text_column)

    def _fit_text_column(self) -> None:
        """The text column ends at the pane's edge (room kept for the vertical scrollbar): the other
        columns keep their width, it takes the rest, so nothing scrolls sideways."""
        table = self.query_one("#attempts", DataTable)
        columns = table.ordered_columns
        others = sum(column.get_render_width(table) for column in columns[:TEXT_COLUMN])
        text = columns[TEXT_COLUMN]
        room = table.size.width - table.styles.scrollbar_size_vertical
        width = max(room - others - 2 * table.cell_padding - 1, 4)  # the cursor column DataTable keeps
        if text.auto_width or text.width != width:
            text.auto_width, text.width = False, width
            table._require_update_dimensions = True  # noqa: SLF001 - DataTable has no public way to resize a column
            table.refresh()

    @on(DataTable.RowSelected, "#attempts")
    def show_attempt(self, event: DataTable.RowSelected) -> None:
        """The whole text of the chosen attempt, in a dialog."""
        from ..screens.dialogs import TextDialog

        index = self.shown_segment
        if index is None or event.cursor_row >= len(self.state.segments[index].attempts):
            return
        attempt = self.state.segments[index].attempts[event.cursor_row]
        title = f"segment {index + 1}, try {attempt.attempt + 1}: {attempt.verdict}, reward {number(attempt.reward)}"
        self.app.push_screen(TextDialog(title, attempt.text))

    def reset(self, state: RunState) -> None:
        """Show a new run from its start."""
        self.state = state
        self.selected = None
        self._shown_attempts = None
        self._segment_rows = {}
        self.query_one("#segments", DataTable).clear()
        self.query_one("#attempts", DataTable).clear()
        self.query_one("#attempts-title", Label).update("attempts")
        self.refresh_view()

    def refresh_view(self) -> None:
        """Bring every part up to date with ``self.state``."""
        branches = self.query_one(BranchesView)
        branches.show(self.state)
        # a run on branches is one segment decided at the end: its branches take the chart's place
        self.query_one(RewardChart).display = not branches.display
        self.query_one("#chart-title", Label).update("branches" if branches.display else "reward per segment")
        self.query_one(RewardChart).set_points(self.state.chart_points())
        self._sync_segments()
        self._sync_attempts()

    @property
    def shown_segment(self) -> int | None:
        if self.selected is not None:
            return self.selected
        return len(self.state.segments) - 1 if self.state.segments else None

    def _sync_segments(self) -> None:
        table = self.query_one("#segments", DataTable)
        for view in self.state.segments:
            key, row = str(view.index), segment_row(view)
            if self._segment_rows.get(key) == row:
                continue
            if key in table.rows:
                for column, value in zip(table.ordered_columns, row, strict=True):
                    table.update_cell(key, column.key, value)
            else:
                table.add_row(*row, key=key)
            self._segment_rows[key] = row
        if self.selected is None and table.row_count:
            table.move_cursor(row=table.row_count - 1, animate=False)

    def _sync_attempts(self) -> None:
        index = self.shown_segment
        table = self.query_one("#attempts", DataTable)
        if index is None:
            return
        attempts = self.state.segments[index].attempts
        if self._shown_attempts is None or self._shown_attempts[0] != index:
            table.clear()
            self._shown_attempts = (index, 0)
        for attempt in attempts[self._shown_attempts[1] :]:
            table.add_row(*attempt_row(attempt))
        self._shown_attempts = (index, len(attempts))
        live = self.state.live_per_round()
        shrinking = f" · live per round {' → '.join(map(str, live))}" if live else ""
        self.query_one("#attempts-title", Label).update(f"attempts of segment {index + 1}{shrinking}")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "segments" or event.row_key.value is None:
            return
        index = int(event.row_key.value)  # the key is the segment's index, counted from 0
        last = len(self.state.segments) - 1
        self.selected = None if index >= last else index
        self._sync_attempts()
