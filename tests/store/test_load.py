"""Issue 22, data lost under load: a lock held by another connection never costs a recording run its
events, readers never take the write lock, and an import leaves the lock free between short batches."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time

import pytest
from fakes import ScriptedPolicy, ScriptedReward

from stars_engine.engine import run
from stars_engine.errors import StarsError
from stars_engine.events import AttemptScored, RunFinished
from stars_engine.params import Params
from stars_engine.store import Recorder, export_session, import_jsonl, open_store
from stars_engine.store import connect as connect_module
from stars_engine.store import importer as importer_module
from stars_engine.store.recorder import RunWriter

from .helpers import cli, fingerprint, record_fake

BUSY_MS = 200  # the busy timeout for these tests; every hold below outlasts it
PARAMS = Params(segment_tokens=2, max_new_tokens=16, max_attempts=4, candidates_per_round=2, seed=3)


@pytest.fixture(autouse=True)
def short_busy_timeout(monkeypatch):
    monkeypatch.setattr(connect_module, "BUSY_TIMEOUT_MS", BUSY_MS)


class Holder:
    """Another connection to the same file, holding the write lock (as an import or a sqlite3 shell would)."""

    def __init__(self, db):
        self.conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)

    def hold(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.conn.execute("COMMIT")


def engine_events():
    return run(ScriptedPolicy(eos_after=14), ScriptedReward(), [{"role": "user", "content": "hold on"}], PARAMS)


def test_a_lock_held_past_the_busy_timeout_mid_run_loses_no_event(tmp_path):
    db = tmp_path / "s.db"
    record_fake(db, "an earlier session")
    holder = Holder(db)
    recorder = Recorder(db)
    seen = []
    for i, event in enumerate(recorder.record(engine_events())):
        seen.append(event)
        if i == 1:
            holder.hold()
            time.sleep(3 * BUSY_MS / 1000)  # the run goes on while the lock stays held past the busy timeout
        if i == 8:
            holder.release()
    assert isinstance(seen[-1], RunFinished) and len(seen) > 10
    with open_store(db) as store:
        assert store.run_events(recorder.run_id) == seen
        assert store.get_run(recorder.run_id).status == "finished"


def test_a_lock_held_to_the_end_of_the_run_is_waited_for(tmp_path):
    db = tmp_path / "s.db"
    holder = Holder(db)
    recorder = Recorder(db)
    releaser = None
    seen = []
    for i, event in enumerate(recorder.record(engine_events())):
        seen.append(event)
        if i == 0:
            holder.hold()  # held through every later event, released only while the run's end waits
            releaser = threading.Timer(1.5 * BUSY_MS / 1000, holder.release)  # past the busy timeout, within the wait
        if isinstance(event, RunFinished):
            releaser.start()
    releaser.join()
    with open_store(db) as store:
        assert store.run_events(recorder.run_id) == seen


def test_a_lock_never_freed_says_exactly_what_was_saved(tmp_path):
    db = tmp_path / "s.db"
    holder = Holder(db)
    recorder = Recorder(db)
    seen = []
    with pytest.raises(StarsError) as refusal:
        for i, event in enumerate(recorder.record(engine_events())):
            seen.append(event)
            if i == 4:
                holder.hold()
    holder.release()
    lost = len(seen) - 5
    attempts_lost = sum(isinstance(e, AttemptScored) for e in seen[5:])
    message = str(refusal.value)
    assert f"saved its first 5 of {len(seen)} events" in message and f"the last {lost} (" in message
    assert f"{attempts_lost} AttemptScored" in message and "1 RunFinished" in message
    assert "\n" not in message and recorder.unsaved == message
    with open_store(db) as store:
        assert store.run_events(recorder.run_id) == seen[:5]  # exactly what the message says was kept
        assert store.get_run(recorder.run_id).status == "running"  # the recording process is still alive


@pytest.mark.parametrize("argv", [["sessions", "list"], ["sessions", "show", "{session}"],
                                  ["sessions", "search", "kind"], ["replay", "{run}", "--plain"],
                                  ["export", "{run}", "-o", "{tmp}/x.md"], ["export", "{session}", "-o", "-", "-f",
                                                                            "jsonl"]],
                         ids=["list", "show", "search", "replay", "export-md", "export-jsonl"])
def test_readers_never_wait_for_the_write_lock_nor_change_the_file(good_db, tmp_path, capsys, argv):
    db, recorder = good_db
    holder = Holder(db)
    holder.hold()
    try:
        before = fingerprint(db)
        argv = [a.format(session=recorder.session_id, run=recorder.run_id, tmp=tmp_path) for a in argv]
        code, _, err = cli([*argv, "--db", str(db)], capsys)
        assert code == 0, err
        assert fingerprint(db) == before
    finally:
        holder.release()


def _export_of_many_runs(tmp_path, runs: int):
    db = tmp_path / "source.db"
    first, _ = record_fake(db, "be kind")
    for _ in range(runs - 1):
        record_fake(db, "again", session_id=first.session_id)
    path = tmp_path / "many.jsonl"
    with open_store(db) as store:
        export_session(store, first.session_id, "jsonl", path)
    return path, first.session_id


def test_an_import_leaves_the_write_lock_free_between_short_batches(tmp_path, monkeypatch):
    path, session_id = _export_of_many_runs(tmp_path, 6)
    target = tmp_path / "target.db"
    record_fake(target, "already here")
    monkeypatch.setattr(importer_module, "COMMIT_ROWS", 10)
    other = sqlite3.connect(target, isolation_level=None)
    got_in = []

    def pause(seconds):  # the importer's pause between batches: another writer must get the lock here
        other.execute("PRAGMA busy_timeout = 0")
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO sessions (id, title, created_at, updated_at) VALUES (?, 'x', '', '')",
                      [f"other{len(got_in)}"])
        other.execute("COMMIT")
        got_in.append(seconds)

    monkeypatch.setattr(importer_module.time, "sleep", pause)
    with open_store(target) as store:
        assert import_jsonl(store, path) == [session_id]
        assert len(store.runs_of(session_id)) == 6
    lines = len(path.read_text().splitlines())
    assert len(got_in) >= lines // 10 - 1  # one gap per batch of 10 lines


def test_an_import_that_fails_part_way_removes_what_it_wrote(tmp_path, monkeypatch):
    path, session_id = _export_of_many_runs(tmp_path, 4)
    monkeypatch.setattr(importer_module, "COMMIT_ROWS", 5)  # several batches are committed before the failure
    target = tmp_path / "target.db"
    mine, _ = record_fake(target, "mine")
    real = RunWriter.write
    written = []

    def failing(self, event, at=None, patience=None):
        if len(written) == 30:
            raise sqlite3.OperationalError("disk I/O error")
        written.append(event)
        return real(self, event, at, patience)

    monkeypatch.setattr(RunWriter, "write", failing)
    with open_store(target) as store, pytest.raises(sqlite3.OperationalError):
        import_jsonl(store, path)
    with open_store(target) as store:
        assert [s.id for s in store.list_sessions()] == [mine.session_id]
        assert store.db.execute("SELECT count(*) FROM attempts WHERE run_id NOT IN (SELECT id FROM runs)"
                                ).fetchone()[0] == 0


def test_a_fifo_or_a_device_is_refused_at_once(tmp_path, capsys):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    for source in (fifo, "/dev/zero"):
        code, _, err = cli(["import", str(source), "--db", str(tmp_path / "s.db")], capsys)
        assert code == 2 and "not a regular file" in err and err.count("\n") == 1, err
    assert not (tmp_path / "s.db").exists()


def test_a_line_past_the_cap_is_refused_without_reading_it_whole(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(importer_module, "MAX_LINE_BYTES", 1000)
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"type": "session", "title": "x" * 5000}) + "\n")
    code, _, err = cli(["import", str(path), "--db", str(tmp_path / "s.db")], capsys)
    assert code == 2 and "line 1: longer than" in err and err.count("\n") == 1, err
