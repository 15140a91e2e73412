"""``stars`` with the scripted policy and reward in place of the real models, as a process.

Usage: python tests/fake_stars.py ARGS...   (what ``stars ARGS...`` would do, model-free).
Tests of signals and pipes need a real process; they must not need real weights.

With ``FAKE_STARS_GATE=DIR`` every reply from the ``FAKE_STARS_HOLD``-th started on
(counted over all replicas) writes ``DIR/held-N`` and waits at its start until
``DIR/open`` exists: a test freezes cells in flight in another process so.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import threading  # noqa: E402
import time  # noqa: E402

from fakes import ScriptedPolicy, ScriptedReward, scripted_backend  # noqa: E402

from stars_engine import backends  # noqa: E402
from stars_tui import cli  # noqa: E402

DELAY = float(os.environ.get("FAKE_STARS_DELAY", "0.01"))  # seconds per token, so a run can be interrupted


GATE = os.environ.get("FAKE_STARS_GATE")
HOLD = int(os.environ.get("FAKE_STARS_HOLD", "1"))


class Gate:
    """Holds every reply from the ``HOLD``-th started until the gate's ``open`` file appears."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.started, self.lock = folder, 0, threading.Lock()

    def pass_(self) -> None:
        with self.lock:
            self.started += 1
            number = self.started
        if number < HOLD:
            return
        (self.folder / f"held-{number}").touch()
        deadline = time.monotonic() + 60
        while not (self.folder / "open").exists() and time.monotonic() < deadline:
            time.sleep(0.02)


def gated_backend(gate: Gate):
    class Held(ScriptedPolicy):
        def start(self, messages, seed):
            gate.pass_()
            return super().start(messages, seed)

    return scripted_backend("local", load=lambda spec, count: ([Held(delay=DELAY) for _ in range(count)],
                                                               ScriptedReward()))


if __name__ == "__main__":
    backends.register(gated_backend(Gate(Path(GATE))) if GATE else scripted_backend("local", delay=DELAY))
    cli.main()
