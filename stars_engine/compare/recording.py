"""Each column of a comparison recorded as its own run, all runs of one turn of one session.

Columns that run side by side cannot share one ``Recorder`` (it follows one run
at a time), so each gets its own, made when its stream starts, in the thread
that iterates it. The first column to start opens the session (or joins the
given one); the schedule starts the first column's first event before any
other column, so the rest join that session.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..events import Event
from ..store import Recorder, open_store
from ..store.comparisons import record_comparison
from ..store.turns import next_turn
from .columns import Column, Comparison
from .ranking import verdict_lines


class ColumnRecorders:
    """``wrap`` for ``Comparison.events``: a Recorder per column, one session for all, one turn for all.

    A comparison answers one prompt, so its columns are the runs of one turn, as
    a regenerated reply is another run of its turn: ``stars compare`` and the
    workbench record it the same way. ``turn`` is that turn (the workbench: the
    turn a reply taken from the comparison becomes); None: the session's next
    turn (0 in a new session).
    """

    def __init__(self, db_path: Path, session_id: str | None = None, turn: int | None = None) -> None:
        self.db_path = Path(db_path)
        self.given_session = session_id
        self.recorders: dict[int, Recorder] = {}
        self.lock = threading.Lock()
        Recorder(self.db_path, session_id)  # a bad database or a missing session fails now, not mid-comparison
        if turn is None and session_id is not None:
            with open_store(self.db_path) as store:
                turn = next_turn(store, session_id)
        self.turn = 0 if turn is None else turn

    @property
    def session_id(self) -> str | None:
        """The comparison's session: the one given, else the one the first recorded column opened."""
        with self.lock:
            found = [r.session_id for r in self.recorders.values() if r.session_id is not None]
        return self.given_session or (found[0] if found else None)

    def run_id(self, column: Column) -> str | None:
        """The column's run, once its RunStarted is written."""
        with self.lock:
            recorder = self.recorders.get(column.index)
        return recorder.run_id if recorder is not None else None

    def wrap(self, column: Column, stream: Iterator[Event]) -> Iterator[Event]:
        recorder = Recorder(self.db_path, self.session_id, turn=self.turn)
        with self.lock:
            self.recorders[column.index] = recorder
        return recorder.record(stream)

    def link(self, comparison: Comparison, summary: dict[str, Any] | None) -> str | None:
        """Record the comparison as one row linking its columns' runs, with its summary and verdict
        lines; returns its id (None when no column was recorded). A refusal is a StarsError."""
        session = self.session_id
        if session is None:
            return None
        columns = [(c.index, c.spec.label, self.run_id(c)) for c in comparison.columns]
        full = {**summary, "verdict_lines": verdict_lines(summary)} if summary else None
        return record_comparison(self.db_path, session, self.turn, comparison.prompt,
                                 comparison.columns[0].seed, columns, full)
