"""The conversation the chat screen is in: its turns and where its runs are recorded.

Each user turn is one run; the engine is given the whole conversation. The
first run of a session creates it in the store and later runs join it. No
Textual here, so the bookkeeping is testable without a screen.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from stars_engine.events import Event

TITLE_LENGTH = 60


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
    def title(self) -> str:
        first = next((t["content"] for t in self.turns if t["role"] == "user"), "chat")
        flat = " ".join(first.split())
        return flat if len(flat) <= TITLE_LENGTH else flat[: TITLE_LENGTH - 1] + "…"

    def record(self, events: Iterable[Event], messages: list[dict[str, str]]) -> Iterator[Event]:
        """Pass ``events`` through the store's recorder (in the calling thread), if there is a store."""
        if self.db_path is None:
            yield from events
            return
        from stars_engine.store import Recorder

        recorder = Recorder(self.db_path, session_id=self.session_id, title=self.title)
        yield from recorder.record(events)
        self.session_id = recorder.session_id
        self.last_run_id = recorder.run_id

    def resume(self, session_id: str, turns: list[dict[str, str]], last_run_id: str | None) -> None:
        """Continue a saved session: later runs join it and see its turns."""
        self.session_id = session_id
        self.turns = [dict(t) for t in turns]
        self.last_run_id = last_run_id
