"""Find in the conversation (Ctrl+F): a bar under the transcript, every match highlighted.

Typing searches as you type (a literal, case-blind text: no pattern syntax);
Enter or Down goes to the next match, Up to the previous one, and the
transcript scrolls so the current match is in sight. Esc closes the bar, takes
the highlights away and gives the prompt box the focus back. The matches are
found again at each step, so a reply that grew meanwhile is searched too.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, Label

from .transcript import Transcript, Turn


class FindBar(Horizontal):
    """The find box and its ``n of m`` count; hidden until Ctrl+F."""

    BINDINGS = [
        Binding("escape", "close", "Close find", tooltip="Close the find bar"),
        Binding("down", "step(1)", "Next match", show=False),
        Binding("up", "step(-1)", "Previous match", show=False),
    ]

    def __init__(self, transcript: Transcript, **kwargs) -> None:
        super().__init__(**kwargs)
        self.transcript = transcript
        self.current = 0
        self.total = 0

    def compose(self) -> ComposeResult:
        yield Label("find", classes="find-label")
        yield Input(placeholder="text to find; Enter/↓ next, ↑ previous, Esc close", id="find-text")
        yield Label("", id="find-count")

    @property
    def query_text(self) -> str:
        return self.query_one("#find-text", Input).value

    def open(self) -> None:
        self.add_class("open")
        self.query_one("#find-text", Input).focus()
        self.search()

    def action_close(self) -> None:
        self.remove_class("open")
        self.transcript.find("")
        self.screen.query_one("#prompt").focus()

    @on(Input.Changed, "#find-text")
    def typed(self) -> None:
        self.current = 0
        self.search()

    @on(Input.Submitted, "#find-text")
    def submitted(self) -> None:
        self.action_step(1)

    def action_step(self, by: int) -> None:
        if self.total:
            self.current = (self.current + by) % self.total
        self.search()

    def search(self) -> None:
        """Highlight the matches, count them, and bring the current one into sight."""
        matches = self.transcript.find(self.query_text, self.current)
        self.total = len(matches)
        if self.total and self.current >= self.total:
            self.current = self.total - 1
            matches = self.transcript.find(self.query_text, self.current)
        count = self.query_one("#find-count", Label)
        if not self.query_text:
            count.update("")
        elif not matches:
            count.update("no match")
        else:
            count.update(f"{self.current + 1} of {self.total}")
            turn, start = matches[self.current]
            self.call_after_refresh(self._bring_into_sight, turn, start)

    def _bring_into_sight(self, turn: Turn, start: int) -> None:
        """Scroll the transcript to the line of the turn that holds the match (a third of the way down)."""
        if not turn.is_mounted:
            return
        width = max(1, turn.content_region.width)
        lines = turn.shown_text[:start].split("\n")
        line = sum(len(part) // width + 1 for part in lines) - 1  # wrapped lines before the match, roughly
        transcript = self.transcript
        y = turn.virtual_region.y + 1 + line  # 1: the turn's top border
        transcript.release_anchor()
        transcript.scroll_to(y=max(0, y - transcript.content_region.height // 3), animate=False)
