"""Reading and editing the session database: what the CLI and the TUI browse.

A ``Store`` holds one connection. It may be handed between threads (the TUI
loads lists in workers) but must not be used by two threads at once; the
recorder opens its own connection in the thread that records.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..display.controls import valid_text
from ..errors import StarsError
from ..events import Event, last_user_message
from . import ids
from .connect import connect, mark_interrupted, write
from .rows import STEP_TABLES, closing_event, started_event, step_columns, step_event


@dataclass(frozen=True)
class SessionInfo:
    id: str
    title: str
    created_at: str
    updated_at: str
    runs: int
    statuses: tuple[str, ...] = ()  # each run's, oldest first: finished, cancelled, failed, interrupted, running

    def status_summary(self) -> str:
        """``finished`` when every run is, else counts such as ``2 finished, 1 interrupted``."""
        counts = {status: self.statuses.count(status) for status in dict.fromkeys(self.statuses)}
        if len(counts) <= 1:
            return next(iter(counts), "no runs")
        return ", ".join(f"{n} {status}" for status, n in counts.items())


@dataclass(frozen=True)
class RunInfo:
    id: str
    session_id: str
    turn: int
    status: str  # running / finished / failed / interrupted
    strategy: str
    policy_id: str
    reward_id: str
    prompt: str  # the newest user turn the run answered
    started_at: str
    finished_at: str | None
    stop_reason: str | None
    final_text: str | None
    stats: dict[str, Any] | None
    error: str | None
    attempts: int


@dataclass(frozen=True)
class Message:
    session_id: str
    run_id: str | None
    position: int
    role: str
    content: str
    created_at: str


@dataclass(frozen=True)
class SearchHit:
    session_id: str
    title: str
    run_id: str | None
    role: str
    snippet: str  # the matching words wrapped in MARK_START / MARK_END


MARK_START, MARK_END = "«", "»"
RUN_STATUS = "CASE WHEN r.status = 'finished' AND r.stop_reason = 'cancelled' THEN 'cancelled' ELSE r.status END"
SESSION_COLUMNS = (
    "s.id, s.title, s.created_at, s.updated_at, (SELECT count(*) FROM runs r WHERE r.session_id = s.id), "
    f"(SELECT group_concat(status, ',') FROM (SELECT {RUN_STATUS} AS status FROM runs r "
    "WHERE r.session_id = s.id ORDER BY r.turn))"
)


def _session_info(row: tuple[Any, ...]) -> SessionInfo:
    *head, statuses = row
    return SessionInfo(*head, statuses=tuple(statuses.split(",")) if statuses else ())
RUN_COLUMNS = "*, (SELECT count(*) FROM attempts a WHERE a.run_id = runs.id) AS attempt_count"


def _run_info(row: dict[str, Any]) -> RunInfo:
    messages = json.loads(row["messages"] or "[]")
    prompt = last_user_message(messages)
    return RunInfo(
        id=row["id"],
        session_id=row["session_id"],
        turn=row["turn"],
        status=row["status"],
        strategy=row["strategy"],
        policy_id=row["policy_id"],
        reward_id=row["reward_id"],
        prompt=prompt,
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        stop_reason=row["stop_reason"],
        final_text=row["final_text"],
        stats=json.loads(row["stats"]) if row["stats"] else None,
        error=row["error"],
        attempts=row["attempt_count"],
    )


def fts_query(text: str) -> str:
    """Words as FTS5 phrases: punctuation in a user's query is searched for, never parsed."""
    words = text.split()
    if not words:
        raise StarsError("search needs at least one word")
    return " ".join('"' + w.replace('"', '""') + '"' for w in words)


class Store:
    """One session database. Open it with ``open_store(path)``."""

    def __init__(self, path: Path, verify: bool = False):
        self.path = Path(path)
        self.db = connect(self.path, check_same_thread=False, verify=verify)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- finding ---------------------------------------------------------
    def resolve(self, prefix: str, kinds: tuple[str, ...] = ("run", "session")) -> tuple[str, str]:
        """``("run" | "session", full id)`` for a unique id prefix."""
        return ids.resolve(self.db, prefix, kinds)

    def run_id(self, prefix: str) -> str:
        return self.resolve(prefix, ("run",))[1]

    def session_id(self, prefix: str) -> str:
        return self.resolve(prefix, ("session",))[1]

    # -- sessions ----------------------------------------------------------
    def list_sessions(self, limit: int | None = None) -> list[SessionInfo]:
        """Newest activity first."""
        sql = f"SELECT {SESSION_COLUMNS} FROM sessions s ORDER BY s.updated_at DESC, s.rowid DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_session_info(row) for row in self.db.execute(sql)]

    def session(self, session_id: str) -> SessionInfo:
        row = self.db.execute(f"SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.id = ?", [session_id]).fetchone()
        if row is None:
            raise StarsError(f"no session with id {session_id!r}")
        return _session_info(row)

    def runs_of(self, session_id: str) -> list[RunInfo]:
        """The session's runs (its turns), oldest first."""
        self.session(session_id)
        sql = f"SELECT {RUN_COLUMNS} FROM runs WHERE session_id = ? ORDER BY turn, rowid"
        rows = self.db.query(sql, [session_id])
        return [_run_info(row) for row in rows]

    def messages_of(self, session_id: str) -> list[Message]:
        self.session(session_id)
        rows = self.db.query(
            "SELECT session_id, run_id, position, role, content, created_at FROM messages "
            "WHERE session_id = ? ORDER BY position",
            [session_id],
        )
        return [Message(**row) for row in rows]

    def rename_session(self, session_id: str, title: str) -> None:
        title = " ".join(valid_text(title, "the title").split())
        if not title:
            raise StarsError("a session title cannot be empty")
        self.session(session_id)
        with write(self.db):
            self.db["sessions"].update(session_id, {"title": title})

    def delete_session(self, session_id: str) -> None:
        """Delete the session with its runs, attempts and messages, in one transaction.

        A session with a run still recording is refused: its writer would lose
        the rows under it. (A run whose process is gone reads as interrupted.)
        """
        self.session(session_id)
        mark_interrupted(self.db)
        runs = "SELECT id FROM runs WHERE session_id = ?"
        with write(self.db):
            live = self.db.execute(f"{runs} AND status = 'running'", [session_id]).fetchone()
            if live is not None:
                raise StarsError(f"session {session_id} has run {live[0]} still recording; stop it first")
            for table in STEP_TABLES:
                self.db.execute(f"DELETE FROM {table} WHERE run_id IN ({runs})", [session_id])
            self.db.execute("DELETE FROM messages WHERE session_id = ?", [session_id])
            self.db.execute("DELETE FROM runs WHERE session_id = ?", [session_id])
            self.db.execute("DELETE FROM sessions WHERE id = ?", [session_id])

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Messages whose text matches every word of ``query`` (FTS5), best match first."""
        rows = self.db.execute(
            "SELECT m.session_id, s.title, m.run_id, m.role, "
            f"snippet(messages_fts, 0, '{MARK_START}', '{MARK_END}', '…', 12) "
            "FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid "
            "JOIN sessions s ON s.id = m.session_id "
            "WHERE messages_fts MATCH ? ORDER BY rank LIMIT ?",
            [fts_query(valid_text(query, "the search")), limit],
        )
        return [SearchHit(*row[:4], snippet=" ".join(row[4].split())) for row in rows]

    # -- runs --------------------------------------------------------------
    def _run_row(self, run_id: str) -> dict[str, Any]:
        rows = list(self.db.query(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", [run_id]))
        if not rows:
            raise StarsError(f"no run with id {run_id!r}")
        return rows[0]

    def _steps(self, table: str, run_id: str) -> list[tuple[int, str, tuple]]:
        columns = ", ".join(step_columns(table))
        rows = self.db.execute(f"SELECT seq, {columns} FROM {table} WHERE run_id = ? ORDER BY seq", [run_id])
        return [(row[0], table, row[1:]) for row in rows]

    def get_run(self, run_id: str) -> RunInfo:
        return _run_info(self._run_row(run_id))

    def run_events(self, run_id: str) -> list[Event]:
        """The run's events in the order the engine produced them (a live stream, replayed)."""
        run = self._run_row(run_id)
        steps = [self._steps(table, run_id) for table in STEP_TABLES]
        merged = heapq.merge(*steps, key=lambda item: item[0])
        events: list[Event] = [started_event(run)]
        events += [step_event(table, values) for _, table, values in merged]
        last = closing_event(run)
        if last is not None:
            events.append(last)
        return events


def open_store(path: Path, verify: bool = False) -> Store:
    """Open (creating and migrating if needed) the session database at ``path``.

    Raises StarsError, leaving the file untouched, for a file that is not
    SQLite, a damaged or truncated one, one from a newer ``stars``, another
    program's database, or a path that cannot be written. ``verify`` reads
    every page first, to find a corrupt page the header cannot show.
    """
    return Store(path, verify)
