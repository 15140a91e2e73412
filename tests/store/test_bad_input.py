"""Bad input: each case is one clear ``error:`` line, exit code 2, and the file left as it was."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from stars_engine.errors import StarsError
from stars_engine.store import open_store

from .helpers import cli, fingerprint, record_fake


def assert_refused(argv, capsys, *words):
    code, out, err = cli(argv, capsys)
    assert code == 2, (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for word in words:
        assert word in err
    return err


def test_a_file_that_is_not_sqlite(tmp_path, capsys):
    path = tmp_path / "notes.db"
    path.write_text("just some notes\n" * 50)
    before = fingerprint(path)
    assert_refused(["sessions", "list", "--db", str(path)], capsys, "not a SQLite database")
    assert fingerprint(path) == before


def test_a_truncated_database(tmp_path, good_db, capsys):
    db, _ = good_db
    cut = tmp_path / "cut.db"
    data = db.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    before = fingerprint(cut)
    assert_refused(["sessions", "list", "--db", str(cut)], capsys, "damaged or truncated")
    assert fingerprint(cut) == before


def test_a_database_from_a_newer_schema(tmp_path, good_db, capsys):
    db, _ = good_db
    newer = tmp_path / "newer.db"
    shutil.copy(db, newer)
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 99")
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('stars', '0099_future', '')"
        )
    conn.close()
    before = fingerprint(newer)
    assert_refused(["sessions", "list", "--db", str(newer)], capsys, "newer version of stars")
    assert fingerprint(newer) == before


def test_another_programs_database(tmp_path, capsys):
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    before = fingerprint(other)
    assert_refused(["sessions", "list", "--db", str(other)], capsys, "not a stars session store")
    assert fingerprint(other) == before


def test_an_unknown_run_id(good_db, tmp_path, capsys):
    db, _ = good_db
    before = fingerprint(db)
    assert_refused(["replay", "zz99", "--plain", "--db", str(db)], capsys, "no run or session", "zz99")
    assert_refused(["export", "zz99", "-o", str(tmp_path / "x.md"), "--db", str(db)], capsys, "zz99")
    assert not (tmp_path / "x.md").exists()
    assert fingerprint(db) == before


@pytest.mark.parametrize("where", ["/proc/stars-nowhere/s.db", "{tmp}/a-file.txt/s.db"])
def test_an_unwritable_path(tmp_path, capsys, where):
    (tmp_path / "a-file.txt").write_text("not a folder")
    path = where.format(tmp=tmp_path)
    assert_refused(["sessions", "list", "--db", path], capsys, "cannot create folder")
    assert (tmp_path / "a-file.txt").read_text() == "not a folder"


def test_exporting_onto_an_existing_file_needs_force(good_db, tmp_path, capsys):
    db, recorder = good_db
    target = tmp_path / "mine.md"
    target.write_text("my own notes")
    argv = ["export", recorder.run_id[:5], "-o", str(target), "--db", str(db)]
    assert_refused(argv, capsys, "already exists", "--force")
    assert target.read_text() == "my own notes"
    code, out, _ = cli([*argv, "--force"], capsys)
    assert code == 0 and "wrote run" in out
    assert target.read_text().startswith("# ")


def test_an_unknown_export_format(good_db, tmp_path, capsys):
    db, recorder = good_db
    assert_refused(["export", recorder.run_id, "-o", str(tmp_path / "x.txt"), "--db", str(db)], capsys, "--format")
    assert_refused(
        ["export", recorder.run_id, "-o", str(tmp_path / "x.md"), "-f", "pdf", "--db", str(db)], capsys, "pdf"
    )
    assert list(tmp_path.glob("x.*")) == []


def test_importing_a_broken_jsonl_adds_nothing(good_db, tmp_path, capsys):
    db, recorder = good_db
    export = tmp_path / "s.jsonl"
    assert cli(["export", recorder.session_id, "-o", str(export), "--db", str(db)], capsys)[0] == 0
    lines = export.read_text().splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join([*lines[:-1], "{not json"]) + "\n")
    fresh = tmp_path / "fresh.db"
    assert_refused(["import", str(broken), "--db", str(fresh)], capsys, f"line {len(lines)}")
    with open_store(fresh) as store:
        assert store.list_sessions() == []


def test_a_jsonl_from_a_newer_stars(tmp_path, capsys):
    path = tmp_path / "new.jsonl"
    path.write_text('{"type": "session", "format": "stars-session", "version": 7, "id": "a", "title": "t"}\n')
    assert_refused(["import", str(path), "--db", str(tmp_path / "s.db")], capsys, "newer version")


def test_an_ambiguous_prefix_names_the_candidates(tmp_path):
    db = tmp_path / "s.db"
    for _ in range(40):
        record_fake(db, max_new_tokens=3)
    with open_store(db) as store:
        ids = [r[0] for r in store.db.execute("SELECT id FROM runs UNION ALL SELECT id FROM sessions")]
        shared = next(i[0] for i in ids if sum(j.startswith(i[0]) for j in ids) > 1)
        with pytest.raises(StarsError, match="more than one"):
            store.resolve(shared)


def test_delete_without_yes_and_without_a_terminal_refuses(good_db, capsys):
    db, recorder = good_db
    assert_refused(["sessions", "delete", recorder.session_id, "--db", str(db)], capsys, "--yes")
    with open_store(db) as store:
        assert store.session(recorder.session_id).runs == 1
