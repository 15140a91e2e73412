"""The soak of ``benchmarks/soak.py``, short: two recording processes, an import of a few MB and a
stream of reading commands on one real SQLite file; every run finishes with every attempt recorded.
(The recording runs use the scripted policy and reward: what is under test is the store.)"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"
spec = importlib.util.spec_from_file_location("soak", SCRIPT)
soak = sys.modules["soak"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(soak)


def test_a_short_soak_loses_nothing(tmp_path):
    report = soak.soak(tmp_path, seconds=20, import_mb=3, readers=1)
    assert report["import"]["code"] == 0, report["import"]
    assert report["imported_sessions"] == report["import_sessions"] > 100
    assert report["runs"] >= 2 and report["runs_with_error"] == [] and report["runs_lost_data"] == []
    assert report["reads"] >= 1 and report["reads_failed"] == [] and report["actor_stderr"] == []
    assert report["integrity"] == "ok" and report["ok"]
