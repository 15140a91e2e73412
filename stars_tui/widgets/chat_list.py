"""The chat list beside the conversation (Ctrl+B shows or hides it): every session, with search.

Typing in its box narrows the list to the sessions whose title holds the text
or whose messages match it (the store's full-text index, the same search as
F2's); Enter or a click on a session opens it the way F2's open does
(``load_session`` in a worker, then ``app.open_session``). The open session is
marked ``●``. Every read runs in a thread worker (``exclusive``: a newer
search supersedes an older one) on a connection of its own, so the event loop
never waits on SQLite; titles are shown literally.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from stars_engine.display.format import shorten
from stars_engine.errors import StarsError
from stars_engine.store import SessionInfo, Store, open_store

from ..literal import printable
from ..saved_session import SavedSession, load_session

LISTED = 500  # the newest sessions listed when nothing is searched


def chat_rows(store: Store, text: str) -> list[SessionInfo]:
    """Every session (newest first), or those whose title holds ``text`` and then those whose messages
    match it (best first): two queries, never one per session."""
    text = " ".join(text.split())
    if not text:
        return store.list_sessions(limit=LISTED)
    sessions = store.list_sessions()
    wanted = text.casefold()
    rows = [s for s in sessions if wanted in s.title.casefold()]
    by_id = {s.id: s for s in sessions}
    seen = {s.id for s in rows}
    for hit in store.search(text):
        if hit.session_id in by_id and hit.session_id not in seen:
            seen.add(hit.session_id)
            rows.append(by_id[hit.session_id])
    return rows


def chat_label(session: SessionInfo, is_open: bool) -> Text:
    """One line: the open session's mark, then its title as typed (controls visible)."""
    label = Text("● " if is_open else "  ", style="bold")
    label.append(printable(shorten(session.title, 60)))
    return label


class ChatList(Vertical):
    """Sessions to switch between without leaving the chat."""

    def __init__(self, db_path: Path | None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.db_path = db_path
        self.sessions: list[SessionInfo] = []
        self.open_id: str | None = None
        self.loaded = False  # the first list has arrived

    def compose(self) -> ComposeResult:
        yield Label("chats", id="chat-list-title", classes="pane-title")
        yield Input(placeholder="search chats", id="chat-search")
        yield OptionList(id="chat-items")

    @property
    def shown(self) -> bool:
        return self.has_class("shown")

    def show(self, shown: bool) -> None:
        self.set_class(shown, "shown")
        if shown:
            self.reload()

    def reload(self, open_id: str | None = None) -> None:
        """Read the list again (after a run, a rename, a delete); only while it is shown."""
        if open_id is not None:
            self.open_id = open_id
        if self.shown and self.db_path is not None:
            self._load(self.db_path, self.query_one("#chat-search", Input).value)

    @on(Input.Changed, "#chat-search")
    def search(self) -> None:
        self.reload()

    @on(Input.Submitted, "#chat-search")
    def to_list(self) -> None:
        self.query_one("#chat-items", OptionList).focus()

    @work(thread=True, exclusive=True, group="chat-list", exit_on_error=False)
    def _load(self, db_path: Path, text: str) -> None:
        try:
            with open_store(db_path) as store:
                rows = chat_rows(store, text)
        except (StarsError, sqlite3.Error) as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Cannot list the chats", severity="error")
            return
        self.app.call_from_thread(self._show, rows)

    def _show(self, rows: list[SessionInfo]) -> None:
        items = self.query_one("#chat-items", OptionList)
        highlighted = items.highlighted_option.id if items.highlighted_option is not None else self.open_id
        self.sessions = rows
        items.clear_options()
        items.add_options(Option(chat_label(s, s.id == self.open_id), id=s.id) for s in rows)
        ids = [s.id for s in rows]
        if ids:  # Enter in the search box then Enter opens the best hit
            items.highlighted = ids.index(highlighted) if highlighted in ids else 0
        searched = " ".join(self.query_one("#chat-search", Input).value.split())
        title = f"chats matching “{printable(searched)}” ({len(rows)})" if searched else f"chats ({len(rows)})"
        self.query_one("#chat-list-title", Label).update(Text(title))
        self.loaded = True

    @on(OptionList.OptionSelected, "#chat-items")
    def selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None and self.db_path is not None:
            self._open(self.db_path, event.option.id)

    @work(thread=True, exclusive=True, group="chat-open", exit_on_error=False)
    def _open(self, db_path: Path, session_id: str) -> None:
        """F2's open: the saved session read in a worker, then continued in the chat."""
        try:
            with open_store(db_path) as store:
                saved = load_session(store, session_id)
        except (StarsError, sqlite3.Error) as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Cannot open the chat", severity="error")
            return
        self.app.call_from_thread(self._opened, saved)

    def _opened(self, saved: SavedSession) -> None:
        if self.app.open_session(saved):
            self.reload(saved.session_id)
            self.screen.query_one("#prompt").focus()
