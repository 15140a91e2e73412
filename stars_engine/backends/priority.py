"""Model work behind a terminal UI runs at a lower priority than the UI.

On a busy machine the scheduler then serves the UI's key presses before the
model's next token (issue 19: 2-4 s from key to screen under load). The chat
workbench's worker process and the ``stars bench --tui`` child both lower
theirs once their models are loaded: not while loading, which the user waits
for with nothing else to do.
"""

from __future__ import annotations

import os

BACKGROUND_NICENESS = 10  # added to the nice value of the process that runs the models


def lower_priority(step: int) -> None:
    """Raise the nice value of every thread of this process (on Linux it is per thread; torch's threads
    started while loading would keep theirs); threads started later inherit it."""
    try:
        threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:  # no /proc: the calling thread, which is the one that computes with one torch thread
        os.nice(step)
        return
    for tid in threads:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, min(os.getpriority(os.PRIO_PROCESS, tid) + step, 19))
        except OSError:  # the thread has ended meanwhile
            pass
