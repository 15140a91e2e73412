"""Play a recorded run back as the event stream it was, optionally at its recorded pace.

The TUI's replay screen and ``stars replay --plain`` both iterate this, so a
replayed run reaches the screen through the same code as a live one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator

from ..errors import StarsError
from ..events import AttemptScored, Event

MAX_PAUSE_S = 5.0  # a long recorded pause (a slow first load) never stalls a replay


def pause_before(event: Event, speed: float | None) -> float:
    """Seconds to wait before showing ``event`` at ``speed`` (0 for everything but an attempt)."""
    if not speed or not isinstance(event, AttemptScored):
        return 0.0
    return min(event.elapsed_ms / 1000 / speed, MAX_PAUSE_S)


def pace(
    events: Iterable[Event],
    speed: float | None = None,
    cancel: threading.Event | None = None,
    sleep: Callable[[float], object] = time.sleep,
) -> Iterator[Event]:
    """Yield ``events``, waiting each attempt's recorded ``elapsed_ms / speed`` before it.

    ``speed`` None or 0 means as fast as possible; 2 is twice the recorded
    pace. Setting ``cancel`` ends the replay early.
    """
    if speed is not None and speed < 0:
        raise StarsError(f"speed must be 0 (no pacing) or more, got {speed}")
    for event in events:
        if cancel is not None and cancel.is_set():
            return
        wait = pause_before(event, speed)
        if wait:
            if cancel is None:
                sleep(wait)
            elif cancel.wait(wait):
                return
        yield event
