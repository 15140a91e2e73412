"""Reading and editing the session database: what the CLI and the TUI browse.

A ``Store`` holds one connection. It may be handed between threads (the TUI
loads lists in workers) but must not be used by two threads at once; the
recorder opens its own connection in the thread that records.

Every row read is converted to its dataclass by one checked path (``rows``):
a database edited by hand (a dropped column, a NULL title, ``stats`` that is
not JSON) is one StarsError naming the row, in every reading command.
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from ..display.controls import valid_text
from ..errors import StarsError
from ..events import Event, RunStarted, RunStats, last_user_message, rubric_label, system_message
from . import ids
from .connect import connect, mark_interrupted, write
from .counts import TurnCounts, count_turns
from .event_check import RunChecker
from .rows import STEP_TABLES, DamagedRow, closing_event, loads, started_event, step_columns, step_event, typed


@dataclass(frozen=True)
class SessionInfo:
    id: str
    title: str
    created_at: str
    updated_at: str
    runs: int  # runs still in the conversation (a redone turn's earlier runs included; removed ones not)
    statuses: tuple[str, ...] = ()  # each live run's, oldest first: finished, cancelled, failed, interrupted, running
    turns: int = 0  # user prompts answered (a turn run again counts once; a removed turn not at all)
    system_prompt: str = ""  # "" : none
    comparisons: int = 0  # comparisons recorded in it (each links 2-4 of its runs)
    removed_runs: int = 0  # runs whose turn was deleted or edited in the chat, kept for the record

    @property
    def counts(self) -> TurnCounts:
        """Its turns and runs as every view says them (``counts.count_turns``)."""
        return TurnCounts(self.turns, self.runs, self.removed_runs)

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
    rubric: dict[str, Any] = field(default_factory=dict)  # the rubric it was scored with; {} for none
    system_prompt: str = ""  # the system message it was given
    comparison_id: str = ""  # the comparison it is a column of; "" : none
    comparison_column: int = -1  # its column there (from 0); -1 : not part of a comparison

    @property
    def reward_label(self) -> str:
        """The reward id and, for an embedding rubric, which rubric: how every view names what scored the run."""
        label = rubric_label(self.rubric)
        return f"{self.reward_id} · {label}" if label else self.reward_id


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
    "s.id, s.title, s.created_at, s.updated_at, "
    f"(SELECT group_concat(status, ',') FROM (SELECT {RUN_STATUS} AS status FROM runs r "
    "WHERE r.session_id = s.id AND coalesce(r.removed, '') = '' ORDER BY r.turn)), "
    "(SELECT json_group_array(json_array(turn, removed)) FROM runs r WHERE r.session_id = s.id), s.system_prompt, "
    "(SELECT count(*) FROM comparisons c WHERE c.session_id = s.id)"
)


def _session_info(row: tuple[Any, ...]) -> SessionInfo:
    *head, statuses, turns, system_prompt, comparisons = row
    what = f"session {head[0]!r:.40}"
    counts = count_turns(typed(loads(turns, f"{what} runs"), list[tuple[int, str]], f"{what} runs"))
    data = dict(zip(("id", "title", "created_at", "updated_at"), head, strict=True))
    data["statuses"] = statuses.split(",") if isinstance(statuses, str) and statuses else []
    data.update(turns=counts.turns, runs=counts.runs, removed_runs=counts.removed,
                system_prompt=system_prompt, comparisons=comparisons)
    return typed(data, SessionInfo, what)


RUN_FIELDS = (*dict.fromkeys([f.name for f in fields(RunStarted)] + ["id", "session_id", "turn", "status",
              "finished_at", "stop_reason", "final_text", "stats", "error",
              "comparison_id", "comparison_column"]),)
RUN_COLUMNS = ", ".join(RUN_FIELDS) + ", (SELECT count(*) FROM attempts a WHERE a.run_id = runs.id) AS attempt_count"


def _run_info(row: dict[str, Any]) -> RunInfo:
    what = f"run {row['id']!r:.40}"
    messages = typed(loads(row["messages"], f"{what} messages"), list[dict[str, str]], f"{what} messages")
    stats = loads(row["stats"], f"{what} stats") if row["stats"] is not None else None
    data = {name: row[name] for name in ("id", "session_id", "turn", "status", "strategy", "policy_id",
                                         "reward_id", "started_at", "finished_at", "stop_reason",
                                         "final_text", "error", "comparison_id", "comparison_column")}
    data["started_at"] = data["started_at"] or ""
    data["stats"] = None if stats is None else typed(stats, RunStats, f"{what} stats").to_dict()
    data["rubric"] = loads(row["rubric"], f"{what} rubric") if row["rubric"] else {}
    return typed({**data, "prompt": last_user_message(messages), "system_prompt": system_message(messages),
                  "attempts": row["attempt_count"]}, RunInfo, what)


T = TypeVar("T")


def reading(method: Callable[..., T]) -> Callable[..., T]:
    """A Store method whose SQLite errors and damaged rows become one StarsError naming the file."""

    @wraps(method)
    def checked(self: Store, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except DamagedRow as exc:
            raise StarsError(f"{self.path} holds a row stars did not write: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise StarsError(f"cannot read {self.path}: {exc} (was it edited by hand?)") from None

    return checked


def delete_rows(db: Any, session_id: str) -> None:
    """Delete a session with its runs, their steps, its messages and comparisons, in one transaction."""
    runs = "SELECT id FROM runs WHERE session_id = ?"
    with write(db):
        for table in STEP_TABLES:
            db.execute(f"DELETE FROM {table} WHERE run_id IN ({runs})", [session_id])
        db.execute("DELETE FROM messages WHERE session_id = ?", [session_id])
        db.execute("DELETE FROM comparisons WHERE session_id = ?", [session_id])
        db.execute("DELETE FROM runs WHERE session_id = ?", [session_id])
        db.execute("DELETE FROM sessions WHERE id = ?", [session_id])


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
    @reading
    def resolve(self, prefix: str, kinds: tuple[str, ...] = ("run", "session")) -> tuple[str, str]:
        """``("run" | "session", full id)`` for a unique id prefix."""
        return ids.resolve(self.db, prefix, kinds)

    def run_id(self, prefix: str) -> str:
        return self.resolve(prefix, ("run",))[1]

    def session_id(self, prefix: str) -> str:
        return self.resolve(prefix, ("session",))[1]

    # -- sessions ----------------------------------------------------------
    @reading
    def list_sessions(self, limit: int | None = None) -> list[SessionInfo]:
        """Newest activity first."""
        sql = f"SELECT {SESSION_COLUMNS} FROM sessions s ORDER BY s.updated_at DESC, s.rowid DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_session_info(row) for row in self.db.execute(sql)]

    @reading
    def session(self, session_id: str) -> SessionInfo:
        row = self.db.execute(f"SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.id = ?", [session_id]).fetchone()
        if row is None:
            raise StarsError(f"no session with id {session_id!r}")
        return _session_info(row)

    @reading
    def runs_of(self, session_id: str) -> list[RunInfo]:
        """The session's runs (its turns), oldest first."""
        self.session(session_id)
        sql = f"SELECT {RUN_COLUMNS} FROM runs WHERE session_id = ? ORDER BY turn, rowid"
        rows = self.db.query(sql, [session_id])
        return [_run_info(row) for row in rows]

    @reading
    def messages_of(self, session_id: str) -> list[Message]:
        self.session(session_id)
        rows = self.db.query(
            "SELECT session_id, run_id, position, role, content, created_at FROM messages "
            "WHERE session_id = ? ORDER BY position",
            [session_id],
        )
        return [typed(row, Message, f"message {row.get('position')!r:.20}") for row in rows]

    def rename_session(self, session_id: str, title: str) -> None:
        title = " ".join(valid_text(title, "the title").split())
        if not title:
            raise StarsError("a session title cannot be empty")
        self.session(session_id)
        with write(self.db):
            self.db["sessions"].update(session_id, {"title": title})

    @reading
    def session_system_prompt(self, session_id: str) -> str:
        """The system prompt the session's next run is given ("" for none)."""
        return self.session(session_id).system_prompt

    def set_system_prompt(self, session_id: str, text: str) -> None:
        """Set (or, with "", clear) the session's system prompt; its recorded runs keep the one they were given."""
        text = valid_text(text, "the system prompt")
        self.session(session_id)
        with write(self.db):
            self.db["sessions"].update(session_id, {"system_prompt": text})

    def delete_session(self, session_id: str) -> None:
        """Delete the session with its runs, attempts and messages, in one transaction.

        A session with a run still recording is refused: its writer would lose
        the rows under it. (A run whose process is gone reads as interrupted.)
        """
        self.session(session_id)
        mark_interrupted(self.db)
        with write(self.db):
            live = self.db.execute("SELECT id FROM runs WHERE session_id = ? AND status = 'running'",
                                   [session_id]).fetchone()
            if live is not None:
                raise StarsError(f"session {session_id} has run {live[0]} still recording; stop it first")
            delete_rows(self.db, session_id)

    @reading
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
        return [typed({"session_id": row[0], "title": row[1], "run_id": row[2], "role": row[3],
                       "snippet": " ".join(str(row[4]).split())}, SearchHit, "search hit") for row in rows]

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

    @reading
    def get_run(self, run_id: str) -> RunInfo:
        return _run_info(self._run_row(run_id))

    @reading
    def run_events(self, run_id: str) -> list[Event]:
        """The run's events in the order the engine produced them (a live stream, replayed)."""
        run = self._run_row(run_id)
        steps = [self._steps(table, run_id) for table in STEP_TABLES]
        merged = heapq.merge(*steps, key=lambda item: item[0])
        order = RunChecker()
        events: list[Event] = []
        where = f"run {run_id} "
        for event in (started_event(run), *(step_event(t, values, where) for _, t, values in merged)):
            self._in_order(order, event, where)
            events.append(event)
        last = closing_event(run)
        if last is not None:
            self._in_order(order, last, where)
            events.append(last)
        return events

    @staticmethod
    def _in_order(order: RunChecker, event: Event, where: str) -> None:
        """Stored events in an order the engine never writes (rows edited by hand) are refused, not drawn."""
        try:
            order.add(event)
        except StarsError as exc:
            raise DamagedRow(f"{where}events: {exc}") from None


def open_store(path: Path, verify: bool = False) -> Store:
    """Open (creating and migrating if needed) the session database at ``path``.

    Raises StarsError, leaving the file untouched, for a file that is not
    SQLite, a damaged or truncated one, one from a newer ``stars``, another
    program's database, or a path that cannot be written. ``verify`` reads
    every page first, to find a corrupt page the header cannot show.
    """
    return Store(path, verify)
