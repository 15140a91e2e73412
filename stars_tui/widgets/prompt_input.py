"""The multi-line prompt box: Enter sends, Shift+Enter or Ctrl+J starts a new line.

Up and Down in an empty box (or while paging through it) recall earlier
prompts, newest first, as a shell does. PageUp/PageDown and Ctrl+Home/End
scroll the conversation, not the box. A prompt sent while the models load
stays in the box, marked queued, and the chat screen sends it once they are ready.

Pasted text goes in at the cursor, in order, with its control characters shown
as symbols (ESC as ␛): a raw ESC in the document is drawn as ``^[`` by the
terminal but measured as zero cells, which put the text after it out of place.
"""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import TextArea

from ..literal import printable

PLACEHOLDER = "Enter sends · Shift+Enter new line · Ctrl+P for everything"
SCROLL_KEYS = ("pageup", "pagedown", "ctrl+home", "ctrl+end")  # handed to the conversation


class PromptInput(TextArea):
    """A TextArea that sends its text on Enter and remembers what it sent."""

    queued: reactive[bool] = reactive(False)

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Scroll(Message):
        """A scrolling key pressed in the box, for the conversation above it."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("placeholder", PLACEHOLDER)
        super().__init__(**kwargs)
        self.sent: list[str] = []
        self._recalled: int | None = None  # index into history while paging through it

    def remember(self, prompt: str) -> None:
        if not self.sent or self.sent[-1] != prompt:
            self.sent.append(prompt)
        self._recalled = None

    def watch_queued(self, queued: bool) -> None:
        self.border_title = "queued: sent once the models are ready" if queued else None

    def _recall(self, step: int) -> bool:
        """Show the prompt ``step`` back (-1) or forward (+1); False when Up/Down should move the cursor."""
        paging = self._recalled is not None and self.text == self.sent[self._recalled]
        if not self.sent or not (paging or not self.text):
            return False
        index = (len(self.sent) if not paging else self._recalled) + step
        if index >= len(self.sent):
            self._recalled = None
            self.text = ""
            return True
        self._recalled = max(index, 0)
        self.text = self.sent[self._recalled]
        self.move_cursor(self.document.end)
        return True

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            text = self.text.strip()
            if text:
                self.post_message(self.Submitted(text))
            return
        if event.key in ("shift+enter", "ctrl+j"):
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        if event.key in ("up", "down") and self._recall(-1 if event.key == "up" else 1):
            event.stop()
            event.prevent_default()
            return
        if event.key in SCROLL_KEYS:
            event.stop()
            event.prevent_default()
            self.post_message(self.Scroll(event.key))
            return
        await super()._on_key(event)

    async def _on_paste(self, event: events.Paste) -> None:
        """Insert the pasted text as one edit at the cursor, line ends unified, controls made visible."""
        event.stop()
        event.prevent_default()  # TextArea's own handler would insert the raw text as well
        if self.read_only:
            return
        text = printable(event.text.replace("\r\n", "\n").replace("\r", "\n"))
        if result := self._replace_via_keyboard(text, *self.selection):
            self.move_cursor(result.end_location)
            self.focus()
