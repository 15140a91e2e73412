"""``stars`` with the scripted policy and reward in place of the real models, as a process.

Usage: python tests/fake_stars.py ARGS...   (what ``stars ARGS...`` would do, model-free).
Tests of signals and pipes need a real process; they must not need real weights.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakes import ScriptedPolicy, ScriptedReward  # noqa: E402

from stars_tui import cli  # noqa: E402
from stars_tui.commands import run  # noqa: E402

DELAY = float(os.environ.get("FAKE_STARS_DELAY", "0.01"))  # seconds per token, so a run can be interrupted


def fake_models(models):
    return [ScriptedPolicy(delay=DELAY)], ScriptedReward()


if __name__ == "__main__":
    run.load_models = fake_models
    run.check_models = lambda models: None
    cli.main()
