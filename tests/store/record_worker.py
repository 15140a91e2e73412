"""A separate process that records scripted runs into one database (the concurrency test's worker).

Usage: python record_worker.py DB RUNS; prints the number of attempts it recorded.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakes import ScriptedPolicy, ScriptedReward  # noqa: E402

from stars_engine.engine import run  # noqa: E402
from stars_engine.events import AttemptScored  # noqa: E402
from stars_engine.params import Params  # noqa: E402
from stars_engine.store import Recorder  # noqa: E402


def main(db: Path, runs: int) -> int:
    attempts = 0
    params = Params(segment_tokens=2, max_new_tokens=12, max_attempts=4, candidates_per_round=2, seed=1)
    for i in range(runs):
        events = run(ScriptedPolicy(delay=0.0005), ScriptedReward(), [{"role": "user", "content": f"run {i}"}], params)
        attempts += sum(isinstance(e, AttemptScored) for e in Recorder(db).record(events))
    return attempts


if __name__ == "__main__":
    print(main(Path(sys.argv[1]), int(sys.argv[2])))
