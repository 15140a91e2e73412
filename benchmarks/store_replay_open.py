"""How long opening a 10,000-attempt run for replay takes (target: under 1 s).

    .venv/bin/python benchmarks/store_replay_open.py [ATTEMPTS] [REPEATS]

Builds a database holding one STARS run of ATTEMPTS scored attempts (made-up
text of realistic length, 4 per segment), then times, REPEATS times, what a
replay does: open the store (checks + migrations) and read the run back as
events. Prints the median and the worst.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from stars_engine.events import AttemptScored, RunFinished, RunStarted, RunStats, SegmentAccepted
from stars_engine.params import Params
from stars_engine.store import open_store
from stars_engine.store.connect import connect, write
from stars_engine.store.recorder import RunWriter

PER_SEGMENT = 4


def synthetic_run(attempts: int):
    yield RunStarted("stars", Params(seed=1).to_dict(), [{"role": "user", "content": "hello"}], "p", "r", 1, 5, 0.1)
    for i in range(attempts):
        segment, attempt = divmod(i, PER_SEGMENT)
        text = f"segment {segment} attempt {attempt} with some words in it, "
        verdict = "accepted" if attempt == PER_SEGMENT - 1 else "rejected"
        yield AttemptScored(segment, attempt, text, 16, 0.1 + attempt / 10, 0.35, verdict, 812.5)
        if verdict == "accepted":
            yield SegmentAccepted(segment, text, 0.4, PER_SEGMENT, False, 16, 0.35)
    yield RunFinished("…", "max_tokens", RunStats(attempts=attempts))


def build(db: Path, attempts: int) -> str:
    with open_store(db) as store, write(store.db):
        writer = RunWriter(store.db)
        for event in synthetic_run(attempts):
            writer.write(event)
        return writer.run_id


def main(attempts: int = 10_000, repeats: int = 5) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "big.db"
        run_id = build(db, attempts)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            with open_store(db) as store:
                events = store.run_events(run_id)
            times.append(time.perf_counter() - started)
        assert sum(isinstance(e, AttemptScored) for e in events) == attempts
        size = db.stat().st_size / 1e6
        print(f"open + read a run of {attempts} attempts ({len(events)} events, {size:.1f} MB database):")
        print(f"  median {statistics.median(times) * 1000:.0f} ms, worst {max(times) * 1000:.0f} ms over {repeats}")
        checks = []
        for _ in range(repeats):  # what a recorder, an export or an import adds: every page read first
            started = time.perf_counter()
            connect(db, verify=True).close()
            checks.append(time.perf_counter() - started)
        print(f"  opening with verify=True (quick_check): median {statistics.median(checks) * 1000:.0f} ms")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
