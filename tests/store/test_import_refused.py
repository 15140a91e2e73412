"""An import is checked against the event dataclasses before anything is written: each bad file
is one ``error:`` line, and the database is byte-for-byte what it was (a new one is not created)."""

from __future__ import annotations

import json

import pytest

from .helpers import cli, fingerprint, record_fake
from .test_bad_input import assert_refused


def _first(lines, kind):
    return next(i for i, line in enumerate(lines) if line["type"] == kind)


def _set(kind, **values):
    def change(lines):
        lines[_first(lines, kind)].update(values)
        return lines
    return change


def _insert_after(kind, event):
    def change(lines):
        lines.insert(_first(lines, kind) + 1, event)
        return lines
    return change


def _append(event):
    return lambda lines: [*lines, event]


ORPHAN = {"type": "SegmentAccepted", "segment": 0, "text": "x", "reward": 0.5, "attempts": 1, "exhausted": False}
SECOND_START = {"type": "RunStarted", "strategy": "stars", "params": {}, "messages": [{"role": "user", "content": "x"}],
                "policy_id": "p", "reward_id": "r", "seed": 1, "prompt_tokens": 1}
LATE_ATTEMPT = {"type": "AttemptScored", "segment": 0, "attempt": 0, "text": "x", "tokens": 1, "reward": 0.1,
                "threshold": None, "verdict": "accepted", "elapsed_ms": 1.0}

CASES = {
    "reward-is-text": (_set("AttemptScored", reward="abc"), "reward must be float"),
    "segment-is-text": (_set("AttemptScored", segment="x"), "segment must be int"),
    "params-is-a-list": (_set("RunStarted", params=[1, 2]), "params must be"),
    "eos-is-text": (_set("AttemptScored", eos="yes"), "eos must be bool"),
    "messages-is-text": (_set("RunStarted", messages="hello"), "messages must be"),
    "unknown-verdict": (_set("AttemptScored", verdict="maybe"), "unknown verdict"),
    "nan-reward": (_set("AttemptScored", reward=float("nan")), "NaN is not a number"),
    "infinite-reward": (_set("SegmentAccepted", reward=float("inf")), "Infinity is not a number"),
    "surrogate-title": (_set("session", title="\ud800 title"), "surrogate"),
    "surrogate-reply": (_set("RunFinished", text="bad \udcff"), "surrogate"),
    "invalid-params": (_set("RunStarted", params={"segment_tokens": 0}), "segment_tokens"),
    "stats-of-text": (_set("RunFinished", stats={"tokens_generated": "many"}), "stats must be"),
    "unknown-stop-reason": (_set("RunFinished", stop_reason="tired"), "unknown stop_reason"),
    "missing-field": (_set("AttemptScored", verdict=None), "verdict must be str"),
    "accepted-without-attempts": (_insert_after("RunStarted", ORPHAN), "has no attempts"),
    "a-second-run-start": (_insert_after("AttemptScored", SECOND_START), "second RunStarted"),
    "events-after-the-end": (_append(LATE_ATTEMPT), "after the run finished"),
    "odd-run-id": (_set("run", id="../../x"), "needs an id"),
    "unknown-run-status": (_set("run", status="sleeping"), "unknown run status"),
}


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
    change, words = CASES[case]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(line) + "\n" for line in change(export_lines)))
    before = fingerprint(existing_db)
    assert_refused(["import", str(bad), "--db", str(existing_db)], capsys, words)
    assert fingerprint(existing_db) == before
    assert_refused(["import", str(bad), "--db", str(tmp_path / "new.db")], capsys, words)
    assert not (tmp_path / "new.db").exists()


def test_the_unchanged_export_imports(export_lines, existing_db, tmp_path, capsys):
    good = tmp_path / "good-again.jsonl"
    good.write_text("".join(json.dumps(line) + "\n" for line in export_lines))
    assert cli(["import", str(good), "--db", str(existing_db)], capsys)[0] == 0
