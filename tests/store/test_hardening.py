"""Issue 11's store cases: each bad input is one ``error:`` line, exit code 2, and no database changed."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from fakes import ScriptedPolicy, ScriptedReward, scripted_backend

from stars_engine import backends
from stars_engine.engine import run
from stars_engine.errors import StarsError
from stars_engine.params import Params
from stars_engine.store import Recorder, open_store
from stars_engine.store import export as export_module
from stars_engine.store import recorder as recorder_module
from stars_engine.store.schema import KNOWN_MIGRATIONS

from .helpers import cli, fingerprint, record_fake
from .test_bad_input import assert_refused

LONG = {"segment_tokens": 4, "max_new_tokens": 400, "max_attempts": 4}


@pytest.fixture
def fake_models():
    """``stars run`` with the scripted models, registered as the in-process backend."""
    with backends.registered(scripted_backend(eos_after=200)):
        yield


def corrupt_a_middle_page(db: Path) -> None:
    """Overwrite one page inside the file: the size and the header stay right."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    data = bytearray(db.read_bytes())
    page = pages // 2
    data[page * page_size:(page + 1) * page_size] = os.urandom(page_size)
    db.write_bytes(bytes(data))


def test_a_corrupt_page_is_found_before_the_model_loads_and_before_an_export(good_db, tmp_path, capsys, monkeypatch):
    db, recorder = good_db
    corrupt_a_middle_page(db)
    before = fingerprint(db)
    with backends.registered(scripted_backend(load=lambda spec, count: pytest.fail("the model loaded"))):
        assert_refused(["run", "hi", "--db", str(db)], capsys, "damaged")
    assert_refused(["export", recorder.run_id, "-o", str(tmp_path / "x.md"), "--db", str(db)], capsys, "damaged")
    assert not (tmp_path / "x.md").exists()
    assert fingerprint(db) == before


def test_a_database_with_a_future_migration_names_it(good_db, tmp_path, capsys):
    db, _ = good_db
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                     "VALUES ('stars', '9999_tomorrow', '')")
    conn.close()
    before = fingerprint(db)
    err = assert_refused(["sessions", "list", "--db", str(db)], capsys, "9999_tomorrow", max(KNOWN_MIGRATIONS))
    assert "schema 1, this one reads up to 1" not in err
    assert fingerprint(db) == before


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder stars cannot write to: a read-only mount for root (who ignores modes), else mode 0555."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        yield folder, lambda: folder.chmod(0o555)
        folder.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"root, and cannot mount a read-only folder here: {mounted.stderr.decode().strip()}")
    yield folder, lambda: subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    subprocess.run(["umount", str(folder)], check=True)


def test_a_healthy_database_in_a_read_only_folder_is_called_read_only(good_db, read_only_folder, capsys):
    db, _ = good_db
    folder, make_read_only = read_only_folder
    shutil.copy(db, folder / "s.db")
    make_read_only()
    before = fingerprint(folder / "s.db")
    err = assert_refused(["sessions", "list", "--db", str(folder / "s.db")], capsys, "read-only")
    assert "damaged" not in err and "truncated" not in err
    assert fingerprint(folder / "s.db") == before


def test_a_full_disk_during_export_is_one_line_and_leaves_nothing(good_db, tmp_path, capsys, monkeypatch):
    db, recorder = good_db
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, text):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(export_module.os, "fdopen", lambda *a, **k: Full(real_fdopen(*a, **k)))
    assert_refused(["export", recorder.run_id, "-o", str(tmp_path / "x.md"), "--db", str(db)], capsys,
                   "No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in db.parent.iterdir())
    assert not (tmp_path / "x.md").exists()


def test_a_full_disk_while_recording_names_the_real_cause(good_db, capsys, monkeypatch, fake_models):
    db, _ = good_db
    real_connect = recorder_module.connect

    def full_after_now(path, *args, **kwargs):
        conn = real_connect(path, *args, **kwargs)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    monkeypatch.setattr(recorder_module, "connect", full_after_now)
    err = assert_refused(["run", "a long one", "--db", str(db), *sum((["--" + k.replace("_", "-"), str(v)]
                                                                        for k, v in LONG.items()), [])],
                         capsys, "full")
    assert "NotFoundError" not in err and "cannot record the run" in err


def test_a_session_with_a_live_run_cannot_be_deleted(tmp_path, capsys):
    db = tmp_path / "s.db"
    recorder = Recorder(db)
    live = recorder.record(run(ScriptedPolicy(), ScriptedReward(), [{"role": "user", "content": "hi"}],
                               Params(**LONG, seed=1)))
    for _ in range(3):
        next(live)
    assert_refused(["sessions", "delete", recorder.session_id, "--yes", "--db", str(db)], capsys, "still recording")
    with open_store(db) as store:  # deleted behind its back anyway: the writer says so in one line
        store.db.execute("PRAGMA foreign_keys = OFF")
        for table in ("attempts", "segments", "param_changes", "messages", "runs", "sessions"):
            column = "id" if table == "sessions" else "session_id" if table in ("runs", "messages") else "run_id"
            value = recorder.session_id if column in ("id", "session_id") else recorder.run_id
            store.db.execute(f"DELETE FROM {table} WHERE {column} = ?", [value])
        store.db.conn.commit()
    with pytest.raises(StarsError, match="was deleted while it was recording"):
        for _ in live:
            pass


@pytest.mark.parametrize("argv", [["sessions", "rename", "{s}", "\udced\udca0\udc80"],
                                  ["sessions", "search", "\udced\udca0\udc80"]], ids=["rename", "search"])
def test_undecodable_titles_and_searches_are_refused(good_db, capsys, argv):
    db, recorder = good_db
    before = fingerprint(db)
    assert_refused([a.format(s=recorder.session_id) for a in argv] + ["--db", str(db)], capsys, "not valid UTF-8")
    assert fingerprint(db) == before


def test_list_shows_each_runs_status_and_show_counts_an_interrupted_runs_attempts(tmp_path, capsys):
    db = tmp_path / "s.db"
    record_fake(db, "finished one")
    recorder = Recorder(db)
    partial = recorder.record(run(ScriptedPolicy(), ScriptedReward(), [{"role": "user", "content": "cut short"}],
                                  Params(**LONG, seed=1)))
    events = [next(partial) for _ in range(4)]
    partial.close()  # the stream stopped: the run reads as interrupted
    code, out, _ = cli(["sessions", "list", "--db", str(db)], capsys)
    assert code == 0 and "status" in out.splitlines()[0]
    assert "interrupted" in out and "finished" in out
    code, out, _ = cli(["sessions", "show", recorder.session_id, "--db", str(db)], capsys)
    recorded = sum(type(e).__name__ == "AttemptScored" for e in events)
    assert code == 0 and f"{recorded} attempts recorded" in out and recorded > 0


def test_export_to_standard_output_and_formats_that_contradict_the_extension(good_db, tmp_path, capsys):
    db, recorder = good_db
    code, out, err = cli(["export", recorder.run_id, "-o", "-", "-f", "md", "--db", str(db)], capsys)
    assert code == 0 and out.startswith("# ") and "standard output" in err
    assert_refused(["export", recorder.run_id, "-o", "-", "--db", str(db)], capsys, "--format")
    target = tmp_path / "x.md"
    assert_refused(["export", recorder.run_id, "-o", str(target), "-f", "csv", "--db", str(db)], capsys,
                   "does not match", "--force")
    assert not target.exists()
    assert cli(["export", recorder.run_id, "-o", str(target), "-f", "csv", "--force", "--db", str(db)], capsys)[0] == 0
    assert target.read_text().startswith("session_id,")
