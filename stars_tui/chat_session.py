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
    """Turns so far, the store session they belong to, the last run's id, and the system prompt
    every run of the session is given first ("" for none)."""

    def __init__(self, db_path: Path | None, system_prompt: str = "") -> None:
        self.db_path = db_path
        self.system_prompt = system_prompt
        self.turns: list[dict[str, str]] = []
        self.session_id: str | None = None
        self.last_run_id: str | None = None

    def add(self, role: str, content: str) -> None:
        self.turns.append({"role": role, "content": content})

    def messages(self) -> list[dict[str, str]]:
        """A copy of the conversation, as the engine takes it: the system prompt first, when there is one."""
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return system + [dict(t) for t in self.turns]

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

    def resume(self, session_id: str, turns: list[dict[str, str]], last_run_id: str | None,
               system_prompt: str = "") -> None:
        """Continue a saved session: later runs join it and see its turns and its system prompt."""
        self.session_id = session_id
        self.turns = [dict(t) for t in turns]
        self.last_run_id = last_run_id
        self.system_prompt = system_prompt

    def save_system_prompt(self, session_id: str, text: str) -> None:
        """Keep ``text`` as the recorded session's system prompt (a session not recorded yet gets it
        with its first run). It writes to the database: call it from a worker."""
        if self.db_path is None:
            return
        from stars_engine.store import open_store

        with open_store(self.db_path) as store:
            store.set_system_prompt(session_id, text)
