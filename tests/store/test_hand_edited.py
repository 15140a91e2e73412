"""Issue 22, hand-edited databases: every reading command answers a damaged row with one line (or
reads what is intact), never a traceback, and leaves the file byte-for-byte as it was."""

from __future__ import annotations

import sqlite3

import pytest

from .helpers import cli, fingerprint

DAMAGE = {
    "dropped-column": ("ALTER TABLE runs DROP COLUMN stats", "no such column: stats"),
    "stats-not-json": ("UPDATE runs SET stats = 'not json {'", "stats is not JSON"),
    "null-title": ("UPDATE sessions SET title = NULL", "title must be str, got null"),
    "reward-of-text": ("UPDATE attempts SET reward = 'abc'", "reward must be float, got str"),
    "stats-missing-a-count": ("UPDATE runs SET stats = '{\"tokens_generated\": \"many\"}'",
                              "stats: tokens_generated must be int"),
    "segment-far-away": ("UPDATE attempts SET segment = 4000000000000 WHERE seq = 1", "for segment 4000000000000"),
    "messages-not-a-list": ("UPDATE runs SET messages = '{\"role\": 1}'", "messages: must be array, got object"),
    "params-infinite": ("UPDATE runs SET params = '{\"threshold\": 1e999}'", "params.threshold: inf is not"),
    "verdict-null": ("UPDATE attempts SET verdict = NULL", "verdict must be str, got null"),
}
READERS = {
    "list": ["sessions", "list"],
    "list-json": ["sessions", "list", "--json"],
    "show": ["sessions", "show", "{session}"],
    "show-json": ["sessions", "show", "{session}", "--json"],
    "search": ["sessions", "search", "kind"],
    "replay": ["replay", "{session}", "--plain"],
    "export-md": ["export", "{session}", "-o", "{tmp}/x.md"],
    "export-jsonl": ["export", "{session}", "-o", "{tmp}/x.jsonl"],
    "export-html": ["export", "{run}", "-o", "{tmp}/x.html"],
    "export-csv": ["export", "{run}", "-o", "{tmp}/x.csv"],
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_every_reading_command_answers_a_hand_edit_in_one_line_and_changes_nothing(good_db, tmp_path, capsys,
                                                                                   damage):
    db, recorder = good_db
    sql, words = DAMAGE[damage]
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute(sql)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = fingerprint(db)
    refused = []
    for name, argv in READERS.items():
        argv = [a.format(session=recorder.session_id, run=recorder.run_id, tmp=tmp_path) for a in argv]
        code, out, err = cli([*argv, "--db", str(db)], capsys)
        assert "Traceback" not in out + err, (name, err)
        assert code in (0, 1, 2), (name, code, err)  # 1: a search that found nothing
        if code == 2:
            assert err.startswith("error: ") and err.count("\n") == 1, (name, err)
            assert words in err, (name, err)
            refused.append(name)
        assert fingerprint(db) == before, name
    assert refused, "no command noticed the damage"
