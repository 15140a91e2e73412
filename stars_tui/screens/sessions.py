"""Browse the session database: list, full-text search, open, rename, delete, replay, export.

The screen opens the store once, in a worker, and every query runs in a thread
worker (``exclusive``, so a newer request supersedes an older one) that hands
its rows back to the UI thread; the event loop never waits on SQLite. A lock
keeps the one connection to one thread at a time. A refusal from the store is
shown as a notification; nothing is lost.

A search hit shows the words that matched: the store's FTS5 ``snippet()``,
its marks turned into highlighted spans of a literal ``Text``, cut around the
first match so it stays in sight in a narrow column; the line under the list
shows the highlighted session's whole snippet, its system prompt, and its
turns and runs counted apart (a run taken out of the conversation is marked
in the runs table, ``deleted`` or ``edited``). A session's comparisons are
counted beside its runs; replaying a run that is a comparison's column
(``p``, Enter) opens the comparison, its columns side by side.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, Static

from stars_engine.display.format import number, shorten
from stars_engine.errors import StarsError
from stars_engine.store.store import MARK_END, MARK_START
from stars_engine.store.turns import removed_runs

from ..literal import literal, printable
from ..saved_session import SavedSession, load_session
from .dialogs import AskDialog, ConfirmDialog


def run_status(run) -> str:
    """finished / cancelled / interrupted / failed (or running), as a person reads a run's outcome."""
    return "cancelled" if run.status == "finished" and run.stop_reason == "cancelled" else run.status


def session_rows(store, query: str) -> list[tuple[Any, str]]:
    """(session, search snippet) for every session, newest first, or for the sessions a full-text
    search hit, best first: one search query, never one per session."""
    sessions = {s.id: s for s in store.list_sessions()}
    if not query:
        return [(s, "") for s in sessions.values()]
    rows, seen = [], set()
    for hit in store.search(query):
        if hit.session_id in sessions and hit.session_id not in seen:
            seen.add(hit.session_id)
            rows.append((sessions[hit.session_id], hit.snippet))
    return rows


MATCH_STYLE = "bold black on yellow"


def snippet_text(snippet: str, width: int | None = None) -> Text:
    """A search snippet as literal text, each matched stretch highlighted (the marks themselves dropped);
    with ``width``, cut to about that many characters around the first match so it stays in sight."""
    pieces = snippet.split(MARK_START)
    plain = [(printable(pieces[0]), False)]
    for piece in pieces[1:]:
        inside, _, after = piece.partition(MARK_END)
        plain += [(printable(inside), True), (printable(after), False)]
    text = Text()
    for part, matched in plain:
        text.append(part, style=MATCH_STYLE if matched else "")
    if width is not None and len(text) > width:
        first = len(plain[0][0])
        start = max(0, min(first - width // 3, len(text) - width))
        text = Text("…") + text[start + 1 : start + width - 1] + Text("…") if start else text[: width - 1] + "…"
    return text


def _row(session, snippet: str) -> tuple:
    """Date first, so it is whole however narrow the screen (the id, which tells little, last)."""
    runs = session.counts.runs_cell() + (f" · {session.comparisons} cmp" if session.comparisons else "")
    return (session.updated_at[:16].replace("T", " "), literal(shorten(session.title, 40)), runs,
            snippet_text(snippet, 50), session.id[:8])


def run_rows(store, session_id: str) -> tuple[list[tuple[str, tuple]], dict[str, str]]:
    """The runs table's rows, and run id -> the comparison it is a column of (for the runs that are one)."""
    removed = removed_runs(store, session_id)
    runs = store.runs_of(session_id)
    rows = [
        (run.id, (str(run.turn + 1), run.id[:8], literal(_status(run, removed.get(run.id))), run.strategy,
                  number((run.stats or {}).get("final_reward")), literal(shorten(run.prompt, 40))))
        for run in runs
    ]
    return rows, {run.id: run.comparison_id for run in runs if run.comparison_id}


def _status(run, removed: str | None) -> str:
    """The run's outcome, ``· deleted`` / ``· edited`` for a run taken out of the conversation, and
    ``· column N`` for a comparison's column."""
    parts = [run_status(run), removed or "", f"column {run.comparison_column + 1}" if run.comparison_id else ""]
    return " · ".join(filter(None, parts))


def session_detail(session, snippet: str) -> Text:
    """The line under the sessions list, from the session's listed row (no query of its own): its turns and
    runs as every view counts them, its comparisons, the system prompt, the whole match."""
    text = Text(session.counts.text())
    compared = session.comparisons
    if compared:
        text.append(f" · {compared} comparison{'s' * (compared != 1)} (p on a column's run replays it side by side)")
    text.append(" · system prompt: ", style="dim")
    text.append(printable(shorten(" ".join(session.system_prompt.split()), 200)) or "(none)")
    if snippet:
        text.append("\nmatch: ", style="dim")
        text.append_text(snippet_text(snippet))
    return text


class SessionsScreen(Screen):
    """Sessions on the left (or search hits), the highlighted session's runs on the right."""

    BINDINGS = [
        Binding("o,enter", "open", "Open", tooltip="Continue the highlighted session in the chat"),
        Binding("r", "rename", "Rename", tooltip="Rename the highlighted session"),
        Binding("d", "delete", "Delete", tooltip="Delete the highlighted session and its runs"),
        Binding("p", "replay", "Replay", tooltip="Replay the highlighted run"),
        Binding("e", "export_session", "Export session", tooltip="Export the highlighted session"),
        Binding("x", "export_run", "Export run", tooltip="Export the highlighted run"),
        Binding("slash", "search", "Search", tooltip="Search every message (full text)"),
        Binding("escape", "app.pop_screen", "Back", tooltip="Back to the chat"),
    ]

    def __init__(self, db_path: Path) -> None:
        super().__init__()
        self.db_path = db_path
        self.query_text = ""
        self.titles: dict[str, str] = {}
        self.snippets: dict[str, str] = {}
        self.loading_rows = True
        self.compared: dict[str, str] = {}  # the shown session's runs that are a comparison's column
        self.listed: dict[str, Any] = {}  # each listed session's SessionInfo, for its detail line
        self._store = None
        self._lock = threading.Lock()

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search every message, then Enter (empty: all sessions)", id="search")
        with Horizontal(id="main"):
            with Vertical(id="sessions-pane"):
                yield Label("sessions", id="sessions-title", classes="pane-title")
                table = DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
                table.add_columns("updated", "title", "runs", "match", "id")
                yield table
                yield Static("", id="session-detail")
            with Vertical(id="runs-pane"):
                yield Label("runs", classes="pane-title")
                runs = DataTable(id="runs", cursor_type="row", zebra_stripes=True)
                runs.add_columns("turn", "run", "status", "strategy", "reward", "prompt")
                yield runs
        yield Footer()

    def on_mount(self) -> None:
        self.reload()
        self.query_one("#sessions", DataTable).focus()

    def on_unmount(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    # -- the store, off the UI thread -----------------------------------------

    def _use_store(self, action: Callable[[Any], Any]) -> tuple[bool, Any]:
        """Run ``action(store)`` in the calling (worker) thread; a refusal is notified and gives (False, None)."""
        try:
            with self._lock:
                if self._store is None:
                    from stars_engine.store import open_store

                    self._store = open_store(self.db_path)
                return True, action(self._store)
        except (StarsError, sqlite3.Error) as exc:  # a query SQLite cannot read is refused, not a crash
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return False, None

    def reload(self) -> None:
        """Fill the sessions table: every session, or the sessions the search hit."""
        self.loading_rows = True
        self._load_sessions(self.query_text)

    @work(thread=True, exclusive=True, group="sessions", exit_on_error=False)
    def _load_sessions(self, query: str) -> None:
        ok, rows = self._use_store(lambda store: session_rows(store, query))
        self.app.call_from_thread(self._show_sessions, query, rows or [])

    def _show_sessions(self, query: str, rows: list[tuple[Any, str]]) -> None:
        table = self.query_one("#sessions", DataTable)
        table.clear()
        self.titles = {session.id: session.title for session, _ in rows}
        self.snippets = {session.id: snippet for session, snippet in rows}
        self.listed = {session.id: session for session, _ in rows}
        for session, snippet in rows:
            table.add_row(*_row(session, snippet), key=session.id)
        title = f"sessions matching {query!r}" if query else "sessions"
        self.query_one("#sessions-title", Label).update(literal(f"{title} ({table.row_count})"))
        self.loading_rows = False
        self.show_runs()

    @work(thread=True, exclusive=True, group="runs", exit_on_error=False)
    def load_runs(self, session_id: str) -> None:
        listed = self.listed.get(session_id)
        ok, found = self._use_store(lambda store: run_rows(store, session_id))
        rows, compared = found if ok else ([], {})
        detail = session_detail(listed, self.snippets.get(session_id, "")) if ok and listed else Text()
        self.app.call_from_thread(self._show_runs, session_id, rows, detail, compared)

    def _show_runs(self, session_id: str, rows: list[tuple[str, tuple]], detail: Text,
                   compared: dict[str, str] | None = None) -> None:
        if session_id != self.session_id:
            return  # the highlight moved on meanwhile
        self.compared = compared or {}
        self.query_one("#session-detail", Static).update(detail)
        table = self.query_one("#runs", DataTable)
        table.clear()
        for key, row in rows:
            table.add_row(*row, key=key)

    @property
    def session_id(self) -> str | None:
        return _highlighted(self.query_one("#sessions", DataTable))

    @property
    def run_id(self) -> str | None:
        return _highlighted(self.query_one("#runs", DataTable))

    def show_runs(self) -> None:
        session = self.session_id
        if session is None:
            self.query_one("#runs", DataTable).clear()
            self.query_one("#session-detail", Static).update("")
        else:
            self.load_runs(session)

    @on(DataTable.RowHighlighted, "#sessions")
    def session_highlighted(self) -> None:
        self.show_runs()

    @on(DataTable.RowSelected, "#sessions")
    def session_selected(self) -> None:
        self.action_open()

    @on(DataTable.RowSelected, "#runs")
    def run_selected(self) -> None:
        self.action_replay()

    @on(Input.Submitted, "#search")
    def search(self, event: Input.Submitted) -> None:
        self.query_text = event.value.strip()
        self.reload()
        self.query_one("#sessions", DataTable).focus()

    # -- actions --------------------------------------------------------------

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_open(self) -> None:
        if self.session_id is not None:
            self.open_session(self.session_id)

    @work(thread=True, exclusive=True, group="open", exit_on_error=False)
    def open_session(self, session_id: str) -> None:
        ok, saved = self._use_store(lambda store: load_session(store, session_id))
        if ok:
            self.app.call_from_thread(self._opened, saved)

    def _opened(self, saved: SavedSession) -> None:
        if self.app.open_session(saved) and self.app.screen is self:
            self.app.pop_screen()

    def action_rename(self) -> None:
        session = self.session_id
        if session is None:
            return
        def done(title: str | None) -> None:
            if title is not None:
                self.write(lambda store: store.rename_session(session, title))

        self.app.push_screen(AskDialog("New title for this session:", self.titles.get(session, "")), done)

    def action_delete(self) -> None:
        session = self.session_id
        if session is None:
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.write(lambda s: s.delete_session(session), deleted=session)

        self.app.push_screen(ConfirmDialog(f"Delete session {session[:8]} and all its runs? (y/n)"), done)

    @work(thread=True, group="write", exit_on_error=False)
    def write(self, change: Callable[[Any], Any], deleted: str | None = None) -> None:
        """A rename or a delete, then the list again."""
        ok, _ = self._use_store(change)
        if ok and deleted is not None:
            self.app.call_from_thread(self.app.forget_session, deleted)
            self.app.call_from_thread(self.notify, f"Deleted session {deleted[:8]}")
        if ok:
            self.app.call_from_thread(self.reload)

    def action_replay(self) -> None:
        """The highlighted run; a comparison's column opens the comparison, its columns side by side."""
        if self.run_id is None:
            return
        comparison = self.compared.get(self.run_id)
        if comparison:
            self.open_comparison(comparison)
        else:
            self.app.open_replay(self.run_id)

    @work(thread=True, exclusive=True, group="compare-replay", exit_on_error=False)
    def open_comparison(self, comparison_id: str) -> None:
        """Read the comparison and its columns' events here, off the event loop; then open the replay."""
        from stars_engine.store.comparisons import comparison_events, load_comparison

        def read(store):
            comparison = load_comparison(store, comparison_id)
            return comparison, comparison_events(store, comparison)

        ok, found = self._use_store(read)
        if ok:
            self.app.call_from_thread(self._show_comparison, *found)

    def _show_comparison(self, comparison, columns) -> None:
        from .compare_replay import CompareReplayScreen

        self.app.push_screen(CompareReplayScreen(comparison, columns))

    def action_export_session(self) -> None:
        if self.session_id is not None:
            self.app.action_export("session", self.session_id)

    def action_export_run(self) -> None:
        if self.run_id is not None:
            self.app.action_export("run", self.run_id)


def _highlighted(table: DataTable) -> str | None:
    if not table.row_count:
        return None
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
