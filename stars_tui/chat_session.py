"""The conversation the chat screen is in: its turns and where its runs are recorded.

Each user turn is one run; the engine is given the whole conversation. The
first run of a session creates it in the store (titled after its first
prompt) and later runs join it; a retry of the last turn (regenerate, edit
and resend) is recorded as another run of that same turn. No Textual here,
so the bookkeeping is testable without a screen.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from stars_engine.events import Event


class ChatSession:
    """Turns so far, the store session they belong to, and the last run's id."""

    def __init__(self, db_path: Path | None) -> None:
        self.db_path = db_path
        self.turns: list[dict[str, str]] = []
        self.session_id: str | None = None
        self.last_run_id: str | None = None

    def add(self, role: str, content: str) -> None:
        self.turns.append({"role": role, "content": content})

    def messages(self) -> list[dict[str, str]]:
        """A copy of the conversation, as the engine takes it."""
        return [dict(t) for t in self.turns]

    @property
    def turn(self) -> int:
        """The turn the next run answers, counted from 0 as the store does: one per user prompt."""
        return sum(t["role"] == "user" for t in self.turns) - 1

    def record(self, events: Iterable[Event]) -> Iterator[Event]:
        """Pass ``events`` through the store's recorder (in the calling thread), if there is a store."""
        if self.db_path is None:
            yield from events
            return
        from stars_engine.store import Recorder

        recorder = Recorder(self.db_path, session_id=self.session_id, turn=self.turn)
        yield from recorder.record(events)
        self.session_id = recorder.session_id
        self.last_run_id = recorder.run_id

    def resume(self, session_id: str, turns: list[dict[str, str]], last_run_id: str | None) -> None:
        """Continue a saved session: later runs join it and see its turns."""
        self.session_id = session_id
        self.turns = [dict(t) for t in turns]
        self.last_run_id = last_run_id
