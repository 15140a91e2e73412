"""The chat transcript: user turns, assistant replies that grow segment by segment.

The transcript is anchored to its end, so it follows a growing reply while the
user is at the bottom and stops following as soon as they scroll up (Textual's
``anchor`` does exactly that); it re-anchors when they send the next prompt.
"""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from stars_engine.run_state import RunState

from ..literal import literal, printable

PART_STYLES = {"text": "", "exhausted": "yellow", "change": "italic magenta"}


def render_reply(state: RunState, running: bool) -> Text:
    """The reply as accepted so far, with parameter changes marked where they landed."""
    text = Text()
    for part in state.parts:
        if part.kind == "change":
            text.append(f" ⟨{printable(part.text)}⟩ ", style=PART_STYLES["change"])
        else:
            text.append(printable(part.text), style=PART_STYLES[part.kind])
    if state.failed is not None:
        text.append(f"\n[failed: {printable(state.failed.message)}]", style="bold red")
    elif state.stopped:
        text.append(" [stopped]", style="bold red")
    elif running:
        text.append(" ▍", style="dim")
    elif not state.parts and state.finished is not None:
        text.append("(empty reply)", style="dim")
    return text


class UserTurn(Static):
    """One prompt as the user sent it."""

    def __init__(self, content: str) -> None:
        super().__init__(literal(content), classes="turn user-turn", markup=False)
        self.border_title = "you"


class AssistantTurn(Static):
    """One reply; redrawn from its run's state whenever events arrive."""

    def __init__(self, label: str = "assistant") -> None:
        super().__init__("", classes="turn assistant-turn", markup=False)
        self.border_title = label

    def show(self, state: RunState, running: bool) -> None:
        self.update(render_reply(state, running))
        if state.finished is not None and state.finished.stats.final_reward is not None:
            reason = state.finished.stop_reason
            self.border_subtitle = f"{reason} · reward {state.finished.stats.final_reward:.3f}"


class Transcript(VerticalScroll):
    """The scrolling column of turns."""

    def on_mount(self) -> None:
        self.anchor()

    def add_user(self, content: str) -> UserTurn:
        turn = UserTurn(content)
        self.mount(turn)
        self.anchor()
        return turn

    def add_assistant(self, label: str = "assistant") -> AssistantTurn:
        turn = AssistantTurn(label)
        self.mount(turn)
        return turn

    def add_note(self, note: str, classes: str = "note") -> Static:
        widget = Static(Text(note), classes=classes, markup=False)
        self.mount(widget)
        return widget

    def clear_turns(self) -> None:
        self.remove_children()
        self.anchor()
