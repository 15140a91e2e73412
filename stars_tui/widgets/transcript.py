"""The chat transcript: user turns, assistant replies that grow segment by segment.

A reply is drawn twice from its ``RunState``: as Markdown (headings, lists,
code blocks; appended to as segments are accepted and parsed once more when
the run ends, as oterm does; HTML in it is shown as text) and as the raw
segments, a dim ``▏`` between two segments, exhausted segments in yellow and
parameter changes marked ``⟨…⟩`` where they landed (the Markdown view lists
them under the reply instead). The transcript's ``raw`` class picks which one
shows, for every reply at once.

The transcript is anchored to its end, so it follows a growing reply while the
user is at the bottom and stops following as soon as they scroll up (Textual's
``anchor`` does exactly that); it re-anchors when they send the next prompt.
A turn takes the focus (Tab, or a click), and then ``c`` copies it and ``k``
copies its code blocks one after another; ``d`` deletes that turn and ``e``
edits its prompt (the chat screen does both: ``screens/chat_tools.py``).

Find (Ctrl+F) highlights every match of a literal, case-blind text: a prompt
in place, a reply in a plain-text view of it shown while the find bar is open
(the Markdown view cannot carry highlights, and the raw view's boundary marks
would split a match). Matches are spans on a ``Text``, never markup.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Markdown, Static

from stars_engine.run_state import Part, RunState, describe_changes

from ..literal import literal, printable
from .params_bar import labelled

PART_STYLES = {"text": "", "exhausted": "yellow", "change": "italic magenta"}
BOUNDARY = "▏"  # between two segments in the raw view
MATCH_STYLE, CURRENT_STYLE = "black on yellow", "bold black on dark_orange"
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[^\n]*\n(.*?)^ {0,3}\1[ \t]*$", re.MULTILINE | re.DOTALL)


def literal_html_parser() -> MarkdownIt:
    """Textual's "gfm-like" Markdown, but with raw HTML read as text.

    With HTML on (Textual's default) markdown-it turns ``<script>…</script>`` into
    HTML tokens that the Markdown widget then drops, so a reply containing
    ``<script>alert(1)</script>!`` showed as ``alert(1)!``. With it off, tags stay
    in the paragraph's text and are shown as the model wrote them.
    """
    return MarkdownIt("gfm-like", {"html": False})


def code_blocks(markdown: str) -> list[str]:
    """The fenced code blocks of a Markdown text, without their fences."""
    return [match.group(2) for match in FENCE.finditer(markdown)]


def match_spans(text: str, query: str) -> list[tuple[int, int]]:
    """Where ``query`` occurs in ``text``, ignoring case, taken literally (no pattern syntax)."""
    if not query:
        return []
    return [(m.start(), m.end()) for m in re.finditer(re.escape(query), text, re.IGNORECASE)]


def highlighted(text: str, spans: list[tuple[int, int]], current: int | None) -> Text:
    """``text`` (already printable) with each span styled; span number ``current`` stands out."""
    shown = Text(text)
    for index, (start, end) in enumerate(spans):
        shown.stylize(CURRENT_STYLE if index == current else MATCH_STYLE, start, end)
    return shown


def render_trailer(state: RunState, running: bool) -> Text:
    """What follows the reply: the cursor while it grows, ``[stopped]``, the failure, or "(empty reply)"."""
    text = Text()
    if state.failed is not None:
        text.append(f"\n[failed: {printable(state.failed.message)}]", style="bold red")
    elif state.stopped:
        text.append(" [stopped]", style="bold red")
    elif running:
        text.append(" ▍", style="dim")
    elif not state.parts and state.finished is not None:
        text.append("(empty reply)", style="dim")
    return text


def render_changes(state: RunState) -> Text:
    """The parameter changes, one line each, for the Markdown view (the raw view marks them in place)."""
    text = Text()
    for change in state.changes:
        text.append(f"⟨from segment {change.segment + 1}: {printable(labelled(describe_changes(change)))}⟩\n",
                    style=PART_STYLES["change"])
    return text


def render_reply(state: RunState, running: bool) -> Text:
    """The reply's raw segments, a boundary mark between two, parameter changes marked where they landed."""
    text = Text()
    segments = 0
    for part in state.parts:
        if part.kind == "change":
            text.append(f" ⟨{printable(labelled(part.text))}⟩ ", style=PART_STYLES["change"])
            continue
        if segments:
            text.append(BOUNDARY, style="dim")
        segments += 1
        text.append(printable(part.text), style=PART_STYLES[part.kind])
    return text + render_trailer(state, running)


class Turn(Vertical):
    """One message of the conversation; focusable so it can be copied."""

    can_focus = True
    BINDINGS = [
        Binding("c", "copy", "Copy message", tooltip="Copy this message to the clipboard"),
        Binding("k", "copy_code", "Copy code", tooltip="Copy this message's code blocks, one a press"),
        Binding("d,delete", "act('delete')", "Delete turn", tooltip="Delete this turn (its runs stay, marked)"),
        Binding("e", "act('edit')", "Edit turn", tooltip="Edit this turn's prompt and send it again"),
    ]

    class Act(Message):
        """Delete or edit the turn this message belongs to (the chat screen decides)."""

        def __init__(self, turn: Turn, what: str) -> None:
            super().__init__()
            self.turn = turn
            self.what = what

    def __init__(self, title: str, classes: str) -> None:
        super().__init__(classes=f"turn {classes}")
        self.border_title = title
        self._next_block = 0

    @property
    def content(self) -> str:
        raise NotImplementedError

    @property
    def shown_text(self) -> str:
        """The text find searches: the message as displayed, controls made visible."""
        return printable(self.content)

    def show_matches(self, spans: list[tuple[int, int]], current: int | None) -> None:
        raise NotImplementedError

    def action_act(self, what: str) -> None:
        self.post_message(self.Act(self, what))

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.content)
        self.notify(f"Copied the message ({len(self.content)} characters).", timeout=2)

    def action_copy_code(self) -> None:
        blocks = code_blocks(self.content)
        if not blocks:
            self.notify("This message has no code block.", timeout=2)
            return
        index = self._next_block % len(blocks)
        self._next_block = index + 1
        self.app.copy_to_clipboard(blocks[index])
        self.notify(f"Copied code block {index + 1} of {len(blocks)}.", timeout=2)


class UserTurn(Turn):
    """One prompt as the user sent it."""

    def __init__(self, content: str) -> None:
        super().__init__("you", "user-turn")
        self._content = content

    @property
    def content(self) -> str:
        return self._content

    def compose(self) -> ComposeResult:
        yield Static(literal(self._content), classes="raw", markup=False)

    def show_matches(self, spans: list[tuple[int, int]], current: int | None) -> None:
        self.query_one(".raw", Static).update(highlighted(self.shown_text, spans, current))


class AssistantTurn(Turn):
    """One reply; redrawn from its run's state whenever events arrive."""

    def __init__(self, label: str = "assistant") -> None:
        super().__init__(label, "assistant-turn")
        self.state = RunState()
        self.running = False
        self._fed = ""  # the text the Markdown view has been given so far
        self._matches: tuple[list[tuple[int, int]], int | None] = ([], None)

    def compose(self) -> ComposeResult:
        yield Markdown(classes="rendered", parser_factory=literal_html_parser)
        yield Static("", classes="rendered trailer", markup=False)
        yield Static("", classes="raw", markup=False)
        yield Static("", classes="found", markup=False)

    def show_matches(self, spans: list[tuple[int, int]], current: int | None) -> None:
        self._matches = (spans, current)
        if self.is_mounted and self.children:
            self.query_one(".found", Static).update(highlighted(self.shown_text, spans, current))

    @property
    def content(self) -> str:
        return self.state.text

    @property
    def raw_text(self) -> str:
        """The raw view's text (what a test reads)."""
        return str(self.query_one(".raw", Static).render())

    def on_mount(self) -> None:
        self.call_after_refresh(self.show, self.state, self.running)

    def show(self, state: RunState, running: bool) -> None:
        self.state, self.running = state, running
        if not self.is_mounted or not self.children:
            return  # drawn once mounted
        self.query_one(".raw", Static).update(render_reply(state, running))
        trailer = render_changes(state) + render_trailer(state, running)
        trailer.rstrip()
        # a class, not ``display``: an inline display would override the raw view's rule hiding it
        self.query_one(".trailer", Static).update(trailer)
        self.query_one(".trailer", Static).set_class(not trailer.plain, "empty")
        self._feed_markdown(printable(state.text), final=not running)
        finding = self.parent is not None and self.parent.has_class("finding")
        if finding:  # the find view follows a growing reply; with the find bar closed, no extra work
            self.show_matches(*self._matches)
        if state.finished is not None and state.finished.stats.final_reward is not None:
            reason = state.finished.stop_reason
            self.border_subtitle = f"{reason} · reward {state.finished.stats.final_reward:.3f}"

    def show_text(self, text: str) -> None:
        """A reply known only by its text (no recorded run to fold)."""
        state = RunState()
        state.parts.append(Part("text", text))
        self.show(state, running=False)

    def _feed_markdown(self, text: str, final: bool) -> None:
        """Append what is new while the reply grows; parse the whole reply once at the end."""
        markdown = self.query_one(Markdown)
        if final:
            if text != self._fed or markdown.source != text:
                markdown.update(text)
            self._fed = text
        elif text != self._fed:
            if text.startswith(self._fed):
                markdown.append(text[len(self._fed) :])
            else:
                markdown.update(text)
            self._fed = text


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

    def clear_turns(self) -> None:
        self.remove_children()
        self.anchor()

    def turns(self) -> list[Turn]:
        return list(self.query_children(Turn))

    def position_of(self, turn: Turn) -> int:
        """The user turn (from 0) that ``turn`` belongs to: a prompt, or the prompt a reply answers."""
        position = -1
        for widget in self.turns():
            position += isinstance(widget, UserTurn)
            if widget is turn:
                return max(position, 0)
        raise ValueError("not a turn of this transcript")

    def remove_turn(self, position: int, later: bool = False) -> None:
        """Remove the ``position``-th prompt with its reply (and every later turn if ``later``)."""
        current, doomed = -1, []
        for widget in self.turns():
            current += isinstance(widget, UserTurn)
            if current == position or (later and current > position):
                doomed.append(widget)
        for widget in doomed:
            widget.remove()

    def find(self, query: str, current: int | None = None) -> list[tuple[Turn, int]]:
        """Highlight every match of ``query`` (empty: none, and replies back to their usual view).

        Returns (turn, start) for each match, in order; match number ``current`` stands out.
        """
        self.set_class(bool(query), "finding")
        found: list[tuple[Turn, int]] = []
        for turn in self.turns():
            spans = match_spans(turn.shown_text, query)
            mine = current - len(found) if current is not None and 0 <= current - len(found) < len(spans) else None
            turn.show_matches(spans, mine)
            found.extend((turn, start) for start, _ in spans)
        return found

    @property
    def raw(self) -> bool:
        return self.has_class("raw")

    def toggle_raw(self) -> bool:
        """Switch every reply between Markdown and its raw segments; True when raw now."""
        self.toggle_class("raw")
        return self.raw
