"""How a comparison's columns share the chat model: at once, interleaved, or in turn.

The policy says which (its ``together`` attribute, with ``sibling()`` giving each
column a run of its own on the same model):

- ``at once``: a served model. Each column runs in its own thread; every call
  waits on the server, which batches the columns' requests.
- ``interleaved``: an in-process model (here or in the worker process). One
  thread advances the columns' event streams round-robin, one event each, so
  every column moves together; threads would only contend for the same cores.
- ``in turn``: a policy that cannot hold two runs alive at once: one column
  after another on the one policy.

Whatever the schedule, the first column's first event comes before any other
column starts, so a session its recorder opens is there for the rest to join.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from ..errors import StarsError
from ..policy.base import Policy

AT_ONCE, INTERLEAVED, IN_TURN = "at once", "interleaved", "in turn"
SCHEDULES = (AT_ONCE, INTERLEAVED, IN_TURN)
POLL_SECONDS = 0.1  # how often the merging thread looks up from its queue (Ctrl-C is handled between waits)

T = TypeVar("T")
Stream = Callable[[], Iterator[T]]  # a column's events, started when called (in the thread that iterates)


class Together(Protocol):
    """A policy that can hold several runs alive at once, each on a sibling of its own."""

    together: str  # AT_ONCE or INTERLEAVED: how the siblings' runs share the model

    def sibling(self) -> Policy:
        """A policy for another run alive beside this one's: the same model, its own run state."""

    def release(self) -> None:
        """Free what the sibling holds (its cache) once its run has ended."""


def schedule_of(policy: Any) -> str:
    """The schedule a policy allows: its ``together`` if it names one and it makes siblings, else in turn."""
    together = getattr(policy, "together", IN_TURN)
    able = all(callable(getattr(policy, name, None)) for name in ("sibling", "release"))
    return together if together in SCHEDULES and able else IN_TURN


def check_schedule(policy: Any, schedule: str | None) -> str:
    """``schedule`` if this policy can run it (any policy runs its columns in turn), else a StarsError;
    None: the policy's own."""
    own = schedule_of(policy)
    if schedule is None:
        return own
    if schedule not in SCHEDULES:
        raise StarsError(f"unknown schedule {schedule!r}: use {', '.join(SCHEDULES)}")
    if schedule != IN_TURN and own == IN_TURN:
        raise StarsError(f"the columns cannot run {schedule} on {policy.model_id}: it holds one run at a time")
    return schedule


def merged(schedule: str, streams: Sequence[Stream[T]], cancel: threading.Event) -> Iterator[tuple[int, T]]:
    """Every stream's items tagged with its index, in one stream, run as ``schedule`` says."""
    if schedule == AT_ONCE:
        return at_once(streams, cancel)
    if schedule == INTERLEAVED:
        return interleaved(streams)
    return in_turn(streams)


def in_turn(streams: Sequence[Stream[T]]) -> Iterator[tuple[int, T]]:
    for index, stream in enumerate(streams):
        for item in stream():
            yield index, item


def interleaved(streams: Sequence[Stream[T]]) -> Iterator[tuple[int, T]]:
    """One item from each live stream in turn, until all have ended."""
    live: list[tuple[int, Iterator[T]]] = [(i, stream()) for i, stream in enumerate(streams)]
    try:
        while live:
            for entry in list(live):
                index, items = entry
                try:
                    item = next(items)
                except StopIteration:
                    live.remove(entry)
                    continue
                yield index, item
    finally:  # closed early (a reader gone): each stream's own clean-up runs (a recorder closes its run)
        for _, items in live:
            close = getattr(items, "close", None)
            if close is not None:
                close()


_END = object()


def at_once(streams: Sequence[Stream[T]], cancel: threading.Event) -> Iterator[tuple[int, T]]:
    """Each stream iterated in its own thread, their items merged as they come.

    A stream that raises ends the merged stream with that exception once the
    others have ended (``cancel`` is set so they end soon). Closed early (a
    reader gone), it sets ``cancel`` and waits for the threads.
    """
    inbox: queue.Queue[tuple[int, Any]] = queue.Queue()
    failures: list[BaseException] = []

    def drain(index: int, stream: Stream[T]) -> None:
        try:
            for item in stream():
                inbox.put((index, item))
        except BaseException as exc:  # noqa: BLE001 - raised again in the merging thread
            failures.append(exc)
            cancel.set()
        finally:
            inbox.put((index, _END))

    threads = [threading.Thread(target=drain, args=(i, s), name=f"compare-column-{i}", daemon=True)
               for i, s in enumerate(streams)]
    live = len(threads)
    try:
        for position, thread in enumerate(threads):
            thread.start()
            if position == 0:  # the first column's first item before the others start
                first = _take(inbox)
                if first[1] is _END:
                    live -= 1
                else:
                    yield first
        while live:
            index, item = _take(inbox)
            if item is _END:
                live -= 1
            else:
                yield index, item
    finally:
        if live:
            cancel.set()
        for thread in threads:
            if thread.ident is not None:  # started
                thread.join()
    if failures:
        raise failures[0]


def _take(inbox: queue.Queue[tuple[int, Any]]) -> tuple[int, Any]:
    """The next item, waiting in short steps so the main thread still handles signals (Ctrl-C)."""
    while True:
        try:
            return inbox.get(timeout=POLL_SECONDS)
        except queue.Empty:
            continue
