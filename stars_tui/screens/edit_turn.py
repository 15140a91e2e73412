"""The dialog that edits one turn's prompt: a multi-line box, then Send (or Ctrl+S) or Cancel."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, TextArea


class EditTurnDialog(ModalScreen[str | None]):
    """Dismissed with the edited prompt, or None (Esc, Cancel, or nothing left to send)."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("ctrl+s", "send", "Send", priority=True),
    ]

    def __init__(self, title: str, prompt: str) -> None:
        super().__init__()
        self.title_text = title
        self.prompt = prompt

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="title", markup=False)
            yield TextArea(self.prompt, id="edited", soft_wrap=True, show_line_numbers=False)
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Send (Ctrl+S)", variant="primary", id="send")

    def on_mount(self) -> None:
        box = self.query_one("#edited", TextArea)
        box.focus()
        box.move_cursor(box.document.end)

    @on(Button.Pressed, "#send")
    def action_send(self) -> None:
        text = self.query_one("#edited", TextArea).text.strip()
        self.dismiss(text or None)

    @on(Button.Pressed, "#cancel")
    def cancel(self) -> None:
        self.dismiss(None)
