"""How engine events cross from the generation thread to the UI thread.

The worker thread appends each event to an ``EventPump`` and posts one
``EventsReady`` message. Pending ``EventsReady`` messages for the same pump
replace each other in the app's queue, so a burst of fast events costs one
redraw, not one per event; the handler drains everything queued so far.
Nothing is lost: the events live in the pump, the message only says "look".
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from textual.message import Message

from stars_engine.events import Event


class EventPump:
    """A thread-safe queue of one run's events (or one replay's)."""

    def __init__(self) -> None:
        self._events: deque[Event] = deque()
        self._lock = threading.Lock()

    def put(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)

    def drain(self) -> list[Event]:
        with self._lock:
            events = list(self._events)
            self._events.clear()
        return events


class EventsReady(Message):
    """New events are waiting in ``pump``."""

    def __init__(self, pump: EventPump) -> None:
        super().__init__()
        self.pump = pump

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EventsReady) and message.pump is self.pump


class ModelsLoaded(Message):
    """The policy and the reward are ready (or failed to load, with ``error``)."""

    def __init__(
        self, policy: object | None, reward: object | None, error: str | None, seconds: float
    ) -> None:
        super().__init__()
        self.policy = policy
        self.reward = reward
        self.error = error
        self.seconds = seconds


class RunEnded(Message):
    """The generation worker returned (normally, stopped, or with an error)."""

    def __init__(self, pump: EventPump, error: str | None = None) -> None:
        super().__init__()
        self.pump = pump
        self.error = error


def forward(events, pump: EventPump, post: Callable[[Message], object]) -> None:
    """Move every event of an iterator into ``pump``, announcing each one."""
    for event in events:
        pump.put(event)
        post(EventsReady(pump))
