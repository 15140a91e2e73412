"""Quitting during a run ends the process, and the run is closed as cancelled, not cut off."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHILD = Path(__file__).with_name("quit_during_run.py")


def test_quit_during_a_run_exits_and_records_the_run_as_cancelled(tmp_path):
    # The timeout only stops a hung child; the check is that it exits on its own.
    done = subprocess.run(
        [sys.executable, str(CHILD), str(tmp_path / "stars.db")],
        capture_output=True, text=True, timeout=90,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "cancelled"
