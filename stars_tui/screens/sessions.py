"""Browse the session database: list, full-text search, open, rename, delete, replay, export.

Each action opens the store for as long as it takes (a few queries) and closes
it, so the chat's recorder, writing from its own thread, is never blocked for
long. A refusal from the store is shown as a notification; nothing is lost.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label

from stars_engine.errors import StarsError

from ..literal import literal
from ..widgets.inspector import clip
from .dialogs import AskDialog, ConfirmDialog


def reward_of(stats: dict | None) -> str:
    value = (stats or {}).get("final_reward")
    return "—" if value is None else f"{value:+.3f}"


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

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search every message, then Enter (empty: all sessions)", id="search")
        with Horizontal(id="main"):
            with Vertical(id="sessions-pane"):
                yield Label("sessions", id="sessions-title", classes="pane-title")
                table = DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
                table.add_columns("id", "title", "runs", "updated", "match")
                yield table
            with Vertical(id="runs-pane"):
                yield Label("runs", classes="pane-title")
                runs = DataTable(id="runs", cursor_type="row", zebra_stripes=True)
                runs.add_columns("turn", "run", "status", "strategy", "reward", "prompt")
                yield runs
        yield Footer()

    def on_mount(self) -> None:
        self.reload()
        self.query_one("#sessions", DataTable).focus()

    def _store(self):
        from stars_engine.store import open_store

        return open_store(self.db_path)

    def _guard(self, action, *args):
        """Run a store call; a refusal becomes a notification and None."""
        try:
            with self._store() as store:
                return action(store, *args)
        except (StarsError, sqlite3.Error) as exc:  # a query SQLite cannot read is refused, not a crash
            self.notify(str(exc), severity="error")
            return None

    # -- tables ---------------------------------------------------------------

    def reload(self) -> None:
        """Fill the sessions table: every session, or the sessions the search hit."""
        rows = self._guard(self._rows, self.query_text)
        table = self.query_one("#sessions", DataTable)
        table.clear()
        for key, row in rows or []:
            if key not in table.rows:
                table.add_row(*row, key=key)
        title = f"sessions matching {self.query_text!r}" if self.query_text else "sessions"
        self.query_one("#sessions-title", Label).update(literal(f"{title} ({table.row_count})"))
        self.show_runs()

    @staticmethod
    def _rows(store, query: str) -> list[tuple[str, tuple]]:
        if query:
            hits = store.search(query)
            infos = {h.session_id: store.session(h.session_id) for h in hits}
            return [
                (h.session_id, (h.session_id[:8], literal(clip(infos[h.session_id].title, 40)),
                                str(infos[h.session_id].runs), infos[h.session_id].updated_at[:16],
                                literal(clip(h.snippet, 50))))
                for h in hits
            ]
        return [
            (s.id, (s.id[:8], literal(clip(s.title, 40)), str(s.runs), s.updated_at[:16], ""))
            for s in store.list_sessions()
        ]

    @property
    def session_id(self) -> str | None:
        table = self.query_one("#sessions", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    @property
    def run_id(self) -> str | None:
        table = self.query_one("#runs", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def show_runs(self) -> None:
        runs_table = self.query_one("#runs", DataTable)
        runs_table.clear()
        session = self.session_id
        if session is None:
            return
        for run in self._guard(lambda store: store.runs_of(session)) or []:
            runs_table.add_row(
                str(run.turn), run.id[:8], literal(run.stop_reason or run.status), run.strategy,
                reward_of(run.stats), literal(clip(run.prompt, 40)), key=run.id,
            )

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
        session = self.session_id
        if session is None:
            return
        found = self._guard(lambda store: (store.messages_of(session), store.runs_of(session)))
        if found is None:
            return
        messages, runs = found
        if not self.app.open_session(session, [{"role": m.role, "content": m.content} for m in messages],
                                     runs[-1].id if runs else None):
            return
        self.app.pop_screen()

    def action_rename(self) -> None:
        session = self.session_id
        if session is None:
            return

        def done(title: str | None) -> None:
            if title is not None and self._guard(lambda s: s.rename_session(session, title) or True):
                self.reload()

        current = self._guard(lambda store: store.session(session).title) or ""
        self.app.push_screen(AskDialog("New title for this session:", current), done)

    def action_delete(self) -> None:
        session = self.session_id
        if session is None:
            return

        def done(yes: bool | None) -> None:
            if yes and self._guard(lambda s: s.delete_session(session) or True):
                self.app.forget_session(session)
                self.notify(f"Deleted session {session[:8]}")
                self.reload()

        self.app.push_screen(ConfirmDialog(f"Delete session {session[:8]} and all its runs? (y/n)"), done)

    def action_replay(self) -> None:
        if self.run_id is not None:
            self.app.open_replay(self.run_id)

    def action_export_session(self) -> None:
        if self.session_id is not None:
            self.app.action_export("session", self.session_id)

    def action_export_run(self) -> None:
        if self.run_id is not None:
            self.app.action_export("run", self.run_id)
