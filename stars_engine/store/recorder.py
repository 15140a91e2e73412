"""The recorder: wraps the engine's event stream and writes each event as it passes.

Each event is its own short transaction on a connection opened in the thread
that iterates (the TUI's worker thread, the CLI's main thread), so a process
killed mid-run loses at most the events in flight, and two processes can record
into one database at once (WAL, ``BEGIN IMMEDIATE``).

Another process may hold the write lock for a while (an import, a person in
the ``sqlite3`` shell). The run does not wait for it: an event that cannot be
written at once is kept, and the kept events are written, in order, as soon as
the lock is free. Only at the end of the run does the recorder wait, and if the
lock never frees it says exactly which events were saved and which were not.
"""

from __future__ import annotations

import os
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from ..display.format import shorten
from ..errors import StarsError
from ..events import Event, RunFailed, RunFinished, RunStarted, system_message
from . import connect as connection
from .connect import HOST, connect, is_busy, write
from .ids import new_id
from .rows import TABLE_OF, closing_row, started_row, step_insert

TITLE_CHARS = 60
RUN_PATIENCE_S = 0.02  # how long one event waits for the lock mid-run before it is kept for later


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def title_from(messages: list[dict[str, str]]) -> str:
    """A session's default title: the first user turn, on one line, shortened."""
    first = next((m["content"] for m in messages if m.get("role") == "user"), "")
    return shorten(first, TITLE_CHARS) or "untitled"


class RunWriter:
    """Turns one run's events into rows; shared by the recorder and the importer.

    ``session_id`` names an existing session to add the run to, or None to
    start a new one (titled ``title`` or after the first user turn).
    """

    def __init__(
        self,
        db: Database,
        session_id: str | None = None,
        title: str | None = None,
        run_id: str | None = None,
        turn: int | None = None,
    ):
        self.db = db
        self.new_session = session_id is None
        self.session_id = session_id or new_id()
        self.title = title
        self.run_id = run_id or new_id()
        self.turn = turn
        self.seq = 0
        self.started = False
        self.closed = False

    def write(self, event: Event, at: str | None = None, patience: float | None = None) -> None:
        """Write one event in its own transaction; ``at`` overrides the clock (import)."""
        self.write_many([event], at, patience)

    def write_many(self, events: list[Event], at: str | None = None, patience: float | None = None) -> None:
        """Write ``events`` in one transaction, waiting up to ``patience`` s for the lock.

        Nothing changes (in the file or in this writer) when the lock is not
        had: the SQLITE_BUSY error is raised before the first row.
        """
        with write(self.db, patience):
            seq, started, closed = self.seq, self.started, self.closed
            try:
                for event in events:
                    self._one(event, at)
            except BaseException:
                self.seq, self.started, self.closed = seq, started, closed
                raise

    def _one(self, event: Event, at: str | None) -> None:
        if isinstance(event, RunStarted):
            self._start(event, at or now())
        elif not self.started:
            return  # a failure before the run started has nothing to attach to
        elif isinstance(event, (RunFinished, RunFailed)):
            self._close(event, at or now())
        elif type(event) in TABLE_OF:
            self.db.execute(*step_insert(self.run_id, self.seq, event))
        self.seq += 1

    def _insert(self, table: str, row: dict[str, object]) -> None:
        """Plain SQL (no sqlite-utils lookups per row): this is the recorder's and the importer's hot path."""
        self.db.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                        list(row.values()))

    def _update(self, table: str, key: str, values: dict[str, object]) -> None:
        sets = ", ".join(f"{name} = ?" for name in values)
        done = self.db.execute(f"UPDATE {table} SET {sets} WHERE id = ?", [*values.values(), key])
        if done.rowcount == 0:
            raise sqlite3.IntegrityError(f"{table} row {key} is gone")

    def _count(self, table: str, column: str, value: str) -> int:
        return self.db.execute(f"SELECT count(*) FROM {table} WHERE {column} = ?", [value]).fetchone()[0]

    def _start(self, event: RunStarted, at: str) -> None:
        if self._count("runs", "id", self.run_id):
            raise StarsError(f"run {self.run_id} is already in this database")
        self.started = True
        if self.new_session:
            self._insert(
                "sessions",
                {
                    "id": self.session_id,
                    "title": self.title or title_from(event.messages),
                    "created_at": at,
                    "updated_at": at,
                    "system_prompt": system_message(event.messages),
                }
            )
        turn = self.turn if self.turn is not None else self._count("runs", "session_id", self.session_id)
        self._insert(
            "runs",
            {
                "id": self.run_id,
                "session_id": self.session_id,
                "turn": turn,
                "status": "running",
                "host": HOST,
                "pid": os.getpid(),
                **started_row(event),
            }
        )
        # The system prompt is the session's (a column), not a turn of the conversation.
        stored = self.db.execute("SELECT count(*) FROM messages WHERE session_id = ? AND role != 'system'",
                                 [self.session_id]).fetchone()[0]
        turns = [m for m in event.messages if m.get("role") != "system"]
        new = turns[stored:] if len(turns) > stored else turns[-1:]
        for message in new:
            self._message(message["role"], message["content"], event.started_at or at)
        self._touch(at)

    def _close(self, event: RunFinished | RunFailed, at: str) -> None:
        self._update("runs", self.run_id, {**closing_row(event), "finished_at": at})
        if isinstance(event, RunFinished):
            self._message("assistant", event.text, at)
        self._touch(at)
        self.closed = True

    def _message(self, role: str, content: str, at: str) -> None:
        position = self._count("messages", "session_id", self.session_id)
        self._insert(
            "messages",
            {
                "session_id": self.session_id,
                "run_id": self.run_id,
                "position": position,
                "role": role,
                "content": content,
                "created_at": at,
            }
        )

    def _touch(self, at: str) -> None:
        self._update("sessions", self.session_id, {"updated_at": at})

    def abandon(self) -> None:
        """The stream stopped before a closing event: the run reads as interrupted.

        Best effort: when the stream stopped because the database failed (disk
        full, run deleted), that failure is what the user must see, not this one.
        """
        if not self.started or self.closed:
            return
        try:
            with write(self.db):
                self.db.execute("UPDATE runs SET status = 'interrupted' WHERE id = ?", [self.run_id])
        except sqlite3.Error:
            pass

    def failure(self, exc: Exception) -> StarsError:
        """The one line a failed write becomes (the run row gone means it was deleted meanwhile)."""
        try:
            gone = self.started and not self.db["runs"].count_where("id = ?", [self.run_id])
        except sqlite3.Error:
            gone = False
        if gone and self.seq:
            return StarsError(f"run {self.run_id} was deleted while it was recording; the rest is not saved")
        return StarsError(f"cannot record the run: {exc}")


class Recorder:
    """Record a run while it is shown: ``for event in Recorder(path).record(events): ...``.

    The database is checked (every page read, then created or migrated) when
    the recorder is made, so a bad ``--db`` fails before a model is loaded. With
    ``session_id`` the run becomes the next turn of that session.
    ``turn`` records a run that answers an earlier turn again (a retry);
    ``run_id`` and ``session_id`` are set once ``RunStarted`` has passed.
    A run whose last events stay locked out past ``final_patience()`` ends
    with a StarsError saying what was saved (also kept in ``unsaved``).
    """

    def __init__(
        self, db_path: Path, session_id: str | None = None, title: str | None = None, turn: int | None = None
    ):
        self.db_path = Path(db_path)
        self.session_id = session_id
        self.title = title
        self.turn = turn
        self.run_id: str | None = None
        self.unsaved: str | None = None  # set when the run ended with events the lock kept out of the file
        db = connect(self.db_path, verify=True)
        try:
            if session_id is not None and not db["sessions"].count_where("id = ?", [session_id]):
                raise StarsError(f"no session {session_id} in {self.db_path}")
        finally:
            db.close()

    def record(self, events: Iterable[Event]) -> Iterator[Event]:
        """Yield ``events`` unchanged, writing each one first (or keeping it until the lock frees)."""
        db = connect(self.db_path)
        writer = RunWriter(db, self.session_id, self.title, turn=self.turn)
        kept: list[Event] = []  # passed on to the screen, not yet in the database
        total = 0
        try:
            for event in events:
                kept.append(event)
                total += 1
                self._flush(writer, kept, RUN_PATIENCE_S)
                if isinstance(event, RunStarted):
                    self.run_id, self.session_id = writer.run_id, writer.session_id
                yield event
            if not self._flush(writer, kept, final_patience()):
                message = self._unsaved(writer, total, kept)
                kept.clear()
                raise StarsError(message)
        finally:
            try:
                if kept:  # the stream stopped early: save what was shown, if the lock allows
                    self._save_rest(writer, total, kept)
                writer.abandon()
            finally:
                db.close()

    def _flush(self, writer: RunWriter, kept: list[Event], patience: float) -> bool:
        """Write the kept events in one transaction; False (keeping them) while another process holds the lock."""
        if not kept:
            return True
        try:
            writer.write_many(kept, patience=patience)
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise writer.failure(exc) from None
            return False
        except (sqlite3.Error, UnicodeEncodeError) as exc:
            raise writer.failure(exc) from None
        kept.clear()
        return True

    def _save_rest(self, writer: RunWriter, total: int, kept: list[Event]) -> None:
        """Best effort on the way out (an exception is already on its way): note what could not be saved."""
        try:
            saved = self._flush(writer, kept, final_patience())
        except StarsError:
            saved = False
        if not saved and self.unsaved is None:
            self._unsaved(writer, total, kept)

    def _unsaved(self, writer: RunWriter, total: int, kept: list[Event]) -> str:
        message = unsaved_message(self.db_path, writer.run_id, total, kept, final_patience())
        self.unsaved = message
        return message


def final_patience() -> float:
    """How long the end of a run waits for a lock another process holds: twice the busy timeout."""
    return 2 * connection.BUSY_TIMEOUT_MS / 1000


def unsaved_message(path: Path, run_id: str, total: int, kept: list[Event], waited: float) -> str:
    """Exactly what a run whose last events could not be written kept and lost."""
    saved = total - len(kept)
    counts = Counter(type(e).__name__ for e in kept)
    lost = ", ".join(f"{n} {name}" for name, n in counts.items())
    return (f"{path} stayed locked by another process for {waited:.3g} s: run {run_id} saved its first {saved} "
            f"of {total} events; the last {len(kept)} ({lost}) were shown but not saved")
