"""Two processes recording into one database at once: nothing lost, no "database is locked"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from stars_engine.store import open_store

WORKER = Path(__file__).with_name("record_worker.py")
RUNS = 15


def test_two_processes_record_into_one_new_database(tmp_path):
    db = tmp_path / "shared" / "s.db"
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(db), str(RUNS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [w.communicate(timeout=240) for w in workers]
    for worker, (_, err) in zip(workers, results, strict=True):
        assert worker.returncode == 0, err
        assert "locked" not in err and "Traceback" not in err
    recorded = sum(int(out) for out, _ in results)
    with open_store(db) as store:
        sessions = store.list_sessions()
        runs = [run for s in sessions for run in store.runs_of(s.id)]
        assert len(runs) == 2 * RUNS
        assert {run.status for run in runs} == {"finished"}
        assert sum(run.attempts for run in runs) == recorded
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
