"""Stopping a bench after the cells in flight, keeping them (what ``q`` in ``stars bench --tui`` asks).

Ctrl-C on the headless bench cancels the runs in flight at their next token;
a stop asked of a watched bench lets them finish and be logged first, so
nothing already computed is thrown away, and the same command resumes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from ..events import Event
from .cells import EventWrapper
from .suite import Hooks


class StopAsked(Exception):
    """The bench was asked to stop: it ends before judging (or between two judged pairs)."""


class Drain:
    """Stops the bench after the cells in flight, without cancelling them.

    ``run_cells`` has one cancel event for both "start nothing new" and "stop the
    runs in flight", so the stop is taken at the next cell's start: once asked, a
    cell about to start waits for those in flight to finish (and be logged),
    then sets the cancel event, so it ends at once as cancelled (tried again on
    resume) and the bench starts nothing more. ``wrap`` is the bench's event
    wrapper (around ``inner``, the ``--db`` recorder); ``hooks`` stop the judging.
    """

    def __init__(self, cancel: threading.Event, inner: EventWrapper | None = None) -> None:
        self.cancel = cancel
        self.inner = inner
        self.stopping = threading.Event()
        self._changed = threading.Condition()
        self._in_flight = 0

    def stop(self) -> None:
        self.stopping.set()

    def wrap(self, stream: Iterator[Event]) -> Iterator[Event]:
        with self._changed:
            if self.stopping.is_set():
                self._changed.wait_for(lambda: self._in_flight == 0)
                self.cancel.set()
            self._in_flight += 1
        try:
            yield from (self.inner(stream) if self.inner else stream)
        finally:
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()

    def _check(self, *_: Any) -> None:
        if self.stopping.is_set():
            raise StopAsked

    def hooks(self) -> Hooks:
        """Hooks that end the bench with ``StopAsked`` before the judging and after each judged pair."""
        return Hooks(pairs_total=self._check, pair_done=self._check)
