"""Set or clear the open session's system prompt (Ctrl+T, or "System prompt" in the palette).

The system prompt is sent as the first message of every run of the session,
from the next run on; the runs already recorded keep the one they were given.
A recorded session keeps it in the store (``sessions.system_prompt``), so a
reopened session has it again; a new chat gets it with its first run.
"""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, TextArea

from stars_engine.engine import one_line
from stars_engine.errors import StarsError

from ..chat_session import ChatSession
from ..literal import printable


class SystemPromptDialog(ModalScreen["str | None"]):
    """Dismissed with the new system prompt ("" clears it), or None to leave it as it is."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current
        self.shown = printable(current)  # controls in a prompt read from a file are shown, not sent to the terminal

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="system-dialog"):
            yield Label("System prompt — sent first in every run of this session, from the next reply",
                        classes="title")
            yield TextArea(self.shown, id="system-text", soft_wrap=True)
            with Horizontal(classes="buttons"):
                yield Button("Clear", id="clear")
                yield Button("Cancel", id="cancel")
                yield Button("Save", variant="primary", id="save")

    def on_mount(self) -> None:
        self.query_one("#system-text", TextArea).focus()

    def result(self) -> str:
        """The text as typed; the original (controls and all) when it was left as shown."""
        text = self.query_one("#system-text", TextArea).text
        return self.current if text == self.shown else text.strip()

    @on(Button.Pressed, "#save")
    def save(self) -> None:
        self.dismiss(self.result())

    @on(Button.Pressed, "#clear")
    def clear(self) -> None:
        self.dismiss("")

    @on(Button.Pressed, "#cancel")
    def cancel(self) -> None:
        self.dismiss(None)


def edit_system_prompt(app: App, chat: ChatSession) -> None:
    """Open the dialog on the open session's system prompt; a change applies from the next run."""

    def done(text: str | None) -> None:
        if text is None or text == chat.system_prompt:
            return
        chat.system_prompt = text
        app.notify("System prompt set (from the next reply)." if text else "System prompt cleared.", timeout=3)
        if chat.session_id is not None:
            session_id = chat.session_id
            app.run_worker(lambda: _save(app, chat.save_system_prompt, session_id, text), thread=True,
                           group="system-prompt", exit_on_error=False)

    app.push_screen(SystemPromptDialog(chat.system_prompt), done)


def _save(app: App, save: Callable[[str, str], None], session_id: str, text: str) -> None:
    """The database write, in a worker; a failure is one notification (the chat keeps the prompt anyway)."""
    try:
        save(session_id, text)
    except (StarsError, OSError) as exc:
        app.call_from_thread(app.notify, one_line(exc), title="System prompt not saved", severity="error")
