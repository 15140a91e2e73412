"""The recorder: wraps the engine's event stream and writes each event as it passes.

Each event is its own short transaction on a connection opened in the thread
that iterates (the TUI's worker thread, the CLI's main thread), so a process
killed mid-run loses at most the event in flight, and two processes can record
into one database at once (WAL, ``BEGIN IMMEDIATE``, a busy timeout).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from ..display.format import shorten
from ..errors import StarsError
from ..events import Event, RunFailed, RunFinished, RunStarted
from .connect import HOST, connect, write
from .ids import new_id
from .rows import TABLE_OF, closing_row, started_row, step_insert

TITLE_CHARS = 60


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
        self.session_id = session_id
        self.title = title
        self.run_id = run_id
        self.turn = turn
        self.seq = 0
        self.closed = False

    def write(self, event: Event, at: str | None = None) -> None:
        """Write one event in its own transaction; ``at`` overrides the clock (import)."""
        with write(self.db):
            if isinstance(event, RunStarted):
                self._start(event, at or now())
            elif self.run_id is None:
                return  # a failure before the run started has nothing to attach to
            elif isinstance(event, (RunFinished, RunFailed)):
                self._close(event, at or now())
            elif type(event) in TABLE_OF:
                self.db.execute(*step_insert(self.run_id, self.seq, event))
            self.seq += 1

    def _start(self, event: RunStarted, at: str) -> None:
        if self.run_id is not None and self.db["runs"].count_where("id = ?", [self.run_id]):
            raise StarsError(f"run {self.run_id} is already in this database")
        if self.session_id is None:
            self.session_id = new_id()
            self.db["sessions"].insert(
                {
                    "id": self.session_id,
                    "title": self.title or title_from(event.messages),
                    "created_at": at,
                    "updated_at": at,
                }
            )
        self.run_id = self.run_id or new_id()
        turn = self.turn if self.turn is not None else self.db["runs"].count_where("session_id = ?", [self.session_id])
        self.db["runs"].insert(
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
        stored = self.db["messages"].count_where("session_id = ?", [self.session_id])
        new = event.messages[stored:] if len(event.messages) > stored else event.messages[-1:]
        for message in new:
            self._message(message["role"], message["content"], event.started_at or at)
        self._touch(at)

    def _close(self, event: RunFinished | RunFailed, at: str) -> None:
        self.db["runs"].update(self.run_id, {**closing_row(event), "finished_at": at})
        if isinstance(event, RunFinished):
            self._message("assistant", event.text, at)
        self._touch(at)
        self.closed = True

    def _message(self, role: str, content: str, at: str) -> None:
        position = self.db["messages"].count_where("session_id = ?", [self.session_id])
        self.db["messages"].insert(
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
        self.db["sessions"].update(self.session_id, {"updated_at": at})

    def abandon(self) -> None:
        """The stream stopped before a closing event: the run reads as interrupted.

        Best effort: when the stream stopped because the database failed (disk
        full, run deleted), that failure is what the user must see, not this one.
        """
        if self.run_id is None or self.closed:
            return
        try:
            with write(self.db):
                self.db.execute("UPDATE runs SET status = 'interrupted' WHERE id = ?", [self.run_id])
        except sqlite3.Error:
            pass

    def failure(self, exc: Exception) -> StarsError:
        """The one line a failed write becomes (the run row gone means it was deleted meanwhile)."""
        try:
            gone = self.run_id is not None and not self.db["runs"].count_where("id = ?", [self.run_id])
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
    """

    def __init__(
        self, db_path: Path, session_id: str | None = None, title: str | None = None, turn: int | None = None
    ):
        self.db_path = Path(db_path)
        self.session_id = session_id
        self.title = title
        self.turn = turn
        self.run_id: str | None = None
        db = connect(self.db_path, verify=True)
        try:
            if session_id is not None and not db["sessions"].count_where("id = ?", [session_id]):
                raise StarsError(f"no session {session_id} in {self.db_path}")
        finally:
            db.close()

    def record(self, events: Iterable[Event]) -> Iterator[Event]:
        """Yield ``events`` unchanged, writing each one first."""
        db = connect(self.db_path)
        writer = RunWriter(db, self.session_id, self.title, turn=self.turn)
        try:
            for event in events:
                try:
                    writer.write(event)
                except (sqlite3.Error, UnicodeEncodeError) as exc:
                    raise writer.failure(exc) from None
                self.run_id, self.session_id = writer.run_id, writer.session_id
                yield event
        finally:
            try:
                writer.abandon()
            finally:
                db.close()
