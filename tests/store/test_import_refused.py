"""An import is checked against the event dataclasses before anything is written: each bad file
is one ``error:`` line, and the database is byte-for-byte what it was (a new one is not created)."""

from __future__ import annotations

import json

import pytest

from .bad_imports import CASES, apply
from .helpers import cli, fingerprint, record_fake
from .test_bad_input import assert_refused


@pytest.fixture
def export_lines(tmp_path, capsys):
    source = tmp_path / "source.db"
    recorder, _ = record_fake(source, "be kind", max_new_tokens=12)
    path = tmp_path / "good.jsonl"
    assert cli(["export", recorder.session_id, "-o", str(path), "--db", str(source)], capsys)[0] == 0
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def existing_db(tmp_path):
    db = tmp_path / "mine.db"
    record_fake(db, "my own session")
    return db


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_import_is_refused_and_changes_nothing(export_lines, existing_db, tmp_path, capsys, case):
    words = CASES[case][1]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(line) + "\n" for line in apply(case, export_lines)))
    before = fingerprint(existing_db)
    assert_refused(["import", str(bad), "--db", str(existing_db)], capsys, words)
    assert fingerprint(existing_db) == before
    assert_refused(["import", str(bad), "--db", str(tmp_path / "new.db")], capsys, words)
    assert not (tmp_path / "new.db").exists()


def test_the_unchanged_export_imports(export_lines, existing_db, tmp_path, capsys):
    good = tmp_path / "good-again.jsonl"
    good.write_text("".join(json.dumps(line) + "\n" for line in export_lines))
    assert cli(["import", str(good), "--db", str(existing_db)], capsys)[0] == 0


@pytest.mark.parametrize("turn, words", [(-5, "turn must be 0 to 2147483647"), (2**31, "turn must be 0 to"),
                                         ("x", "turn must be int"), (2**64, "beyond SQLite's 64-bit")])
def test_a_run_line_with_a_turn_out_of_range_is_refused_and_changes_nothing(export_lines, existing_db, tmp_path,
                                                                            capsys, turn, words):
    lines = [dict(line, turn=turn) if line["type"] == "run" else line for line in export_lines]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(line) + "\n" for line in lines))
    before = fingerprint(existing_db)
    assert_refused(["import", str(bad), "--db", str(existing_db)], capsys, words)
    assert fingerprint(existing_db) == before
