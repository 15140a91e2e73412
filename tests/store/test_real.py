"""The store with the real default models: a recorded run replays equal, and a killed run stays readable."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from stars_engine.engine import run
from stars_engine.events import AttemptScored, RunFinished, event_from_dict
from stars_engine.params import Params
from stars_engine.store import Recorder, export_session, import_jsonl, open_store

pytestmark = pytest.mark.real

STARS = Path(sys.executable).with_name("stars")


def test_real_run_replays_equal_and_survives_export_import(tmp_path, real_policy, real_reward):
    messages = [{"role": "user", "content": "Name one fruit that is yellow."}]
    params = Params(segment_tokens=4, max_new_tokens=12, candidates_per_round=2, max_attempts=4, seed=5)
    recorder = Recorder(tmp_path / "a.db")
    events = list(recorder.record(run(real_policy, real_reward, messages, params)))
    assert isinstance(events[-1], RunFinished) and events[-1].text
    word = max(events[-1].text.replace(".", " ").split(), key=len)
    with open_store(tmp_path / "a.db") as store:
        assert store.run_events(recorder.run_id) == events
        assert recorder.run_id in {hit.run_id for hit in store.search(word)}
        export_session(store, recorder.session_id, "jsonl", tmp_path / "a.jsonl")
    with open_store(tmp_path / "b.db") as store:
        import_jsonl(store, tmp_path / "a.jsonl")
        assert store.run_events(recorder.run_id) == events
        export_session(store, recorder.session_id, "jsonl", tmp_path / "b.jsonl")
    assert (tmp_path / "b.jsonl").read_bytes() == (tmp_path / "a.jsonl").read_bytes()


def test_sigkill_mid_run_keeps_every_recorded_attempt(tmp_path):
    db = tmp_path / "s.db"
    argv = [
        str(STARS),
        "run",
        "Write a short poem about the sea.",
        "--json",
        "--db",
        str(db),
        "--max-new-tokens",
        "96",
        "--segment-tokens",
        "4",
        "--candidates-per-round",
        "2",
        "--seed",
        "2",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    watchdog = threading.Timer(300, proc.kill)
    watchdog.start()
    printed = []
    try:
        for line in proc.stdout:
            event = event_from_dict(json.loads(line))
            assert not isinstance(event, RunFinished), "the run finished before it could be killed"
            if isinstance(event, AttemptScored):
                printed.append(event)
            if len(printed) >= 3:
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.wait()
        watchdog.cancel()
    assert proc.returncode == -signal.SIGKILL
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with open_store(db) as store:
        (session,) = store.list_sessions()
        (info,) = store.runs_of(session.id)
        replayed = store.run_events(info.id)
    assert info.status == "interrupted"
    recorded = [e for e in replayed if isinstance(e, AttemptScored)]
    assert recorded[: len(printed)] == printed
