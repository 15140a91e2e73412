"""The conversation the chat screen is in: its turns and where its runs are recorded.

Each user turn is one run; the engine is given the whole conversation. The
first run of a session creates it in the store (titled after its first
prompt) and later runs join it; a retry of the last turn (regenerate, edit
and resend) is recorded as another run of that same turn. Each user turn keeps
the store's turn number: a deleted turn leaves a gap, never a reused number
(``stars_engine/store/turns.py``). No Textual here, so the bookkeeping is
testable without a screen.
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
        self.numbers: list[int] = []  # the store's turn number of each user turn, in order
        self.next_number = 0  # past every turn recorded, removed ones too
        self.reuse: int | None = None  # a turn taken back to resend keeps its number

    def add(self, role: str, content: str) -> None:
        self.turns.append({"role": role, "content": content})
        if role == "user":
            number = self.next_number if self.reuse is None else self.reuse
            self.numbers.append(number)
            self.reuse = None
            self.next_number = max(self.next_number, number + 1)

    def messages(self) -> list[dict[str, str]]:
        """A copy of the conversation, as the engine takes it: the system prompt first, when there is one."""
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return system + [dict(t) for t in self.turns]

    @property
    def turn(self) -> int:
        """The store's number of the turn the next run answers (the last user turn)."""
        return self.numbers[-1] if self.numbers else self.next_number

    def _user_index(self, position: int) -> int:
        """Where the ``position``-th user turn (from 0) is in ``turns``."""
        users = [i for i, t in enumerate(self.turns) if t["role"] == "user"]
        return users[position]

    def take_back(self) -> str:
        """Remove the last prompt (and its reply); it is returned, and its turn number kept for the resend."""
        while self.turns and self.turns[-1]["role"] != "user":
            self.turns.pop()
        if not self.turns:
            return ""
        self.reuse = self.numbers.pop()
        return self.turns.pop()["content"]

    def drop(self, position: int, later: bool = False) -> list[int]:
        """Remove the ``position``-th user turn with its reply (and every later turn if ``later``).

        Returns the store's numbers of the turns removed, for ``turns.remove_turns``.
        """
        start = self._user_index(position)
        end = start + 1
        while end < len(self.turns) and self.turns[end]["role"] != "user":
            end += 1
        if later:
            end = len(self.turns)
        removed = self.numbers[position:] if later else [self.numbers[position]]
        del self.turns[start:end]
        del self.numbers[position : position + len(removed)]
        return removed

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
               numbers: list[int] | None = None, next_number: int | None = None, system_prompt: str = "") -> None:
        """Continue a saved session: later runs join it and see its turns and its system prompt
        (``numbers``: each user turn's store number; ``next_number``: past every recorded turn)."""
        self.session_id = session_id
        self.turns = [dict(t) for t in turns]
        self.last_run_id = last_run_id
        self.system_prompt = system_prompt
        users = sum(t["role"] == "user" for t in turns)
        self.numbers = list(numbers) if numbers is not None else list(range(users))
        self.next_number = next_number if next_number is not None else (self.numbers[-1] + 1 if self.numbers else 0)
        self.reuse = None

    def save_system_prompt(self, session_id: str, text: str) -> None:
        """Keep ``text`` as the recorded session's system prompt (a session not recorded yet gets it
        with its first run). It writes to the database: call it from a worker."""
        if self.db_path is None:
            return
        from stars_engine.store import open_store

        with open_store(self.db_path) as store:
            store.set_system_prompt(session_id, text)
