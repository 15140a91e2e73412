"""``stars`` with the scripted policy and reward in place of the real models, as a process.

Usage: python tests/fake_stars.py ARGS...   (what ``stars ARGS...`` would do, model-free).
Tests of signals and pipes need a real process; they must not need real weights.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakes import scripted_backend  # noqa: E402

from stars_engine import backends  # noqa: E402
from stars_tui import cli  # noqa: E402

DELAY = float(os.environ.get("FAKE_STARS_DELAY", "0.01"))  # seconds per token, so a run can be interrupted


if __name__ == "__main__":
    backends.register(scripted_backend("local", delay=DELAY))
    cli.main()
