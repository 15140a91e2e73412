"""The multi-line prompt box: Enter sends, Shift+Enter or Ctrl+J starts a new line.

Up and Down in an empty box (or while paging through it) recall earlier
prompts, newest first, as a shell does. PageUp/PageDown and Ctrl+Home/End
scroll the conversation, not the box. A prompt sent while the models load
stays in the box, marked queued, and the chat screen sends it once they are ready.

Pasted text goes in at the cursor, in order, with its control characters shown
as symbols (ESC as ␛). Two things stood in the way. Textual's terminal parser
reads an ESC inside a bracketed paste as the start of a key sequence: the text
from there on arrives as key presses (ESC as ``^``), before the paste event
that carries the text ahead of it. ``PasteGuard`` turns such an ESC into ␛
before the parser sees it (``install_paste_guard``). And a raw control
character in the document is measured as zero cells, which put the text after
it out of place: the paste handler shows every control as a symbol.
"""

from __future__ import annotations

from textual import events
from textual._xterm_parser import XTermParser
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import TextArea

from ..literal import printable

PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"
ESC_PICTURE = printable("\x1b")


class PasteGuard:
    """Between the bracketed-paste markers, every ESC but the end marker's becomes ␛.

    It sees the terminal's input in the chunks the driver reads, so a marker may
    be split across two; outside a paste nothing is held back (a lone Esc key
    press goes straight on), inside one a possible start of the end marker is
    held until the next character decides.
    """

    def __init__(self) -> None:
        self.inside = False
        self.recent = ""  # the last characters outside a paste, to see the start marker
        self.held = ""  # inside a paste: characters that may begin the end marker

    def filter(self, data: str) -> str:
        out: list[str] = []
        for character in data:
            if not self.inside:
                out.append(character)
                self.recent = (self.recent + character)[-len(PASTE_START):]
                if self.recent == PASTE_START:
                    self.inside, self.recent = True, ""
                continue
            self.held += character
            while self.held and not PASTE_END.startswith(self.held):
                out.append(ESC_PICTURE if self.held[0] == "\x1b" else self.held[0])
                self.held = self.held[1:]
            if self.held == PASTE_END:
                out.append(PASTE_END)
                self.inside, self.held = False, ""
        return "".join(out)


def install_paste_guard() -> None:
    """Put a ``PasteGuard`` in front of every terminal parser (once per process)."""
    if getattr(XTermParser, "_paste_guarded", False):
        return
    feed = XTermParser.feed

    def guarded_feed(self, data: str):
        guard = self.__dict__.setdefault("_paste_guard", PasteGuard())
        filtered = guard.filter(data)
        if data and not filtered:
            return ()  # all held back for now; an empty feed would mean end of input
        return feed(self, filtered)

    XTermParser.feed = guarded_feed
    XTermParser._paste_guarded = True


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
