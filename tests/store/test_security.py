"""The security holes of issue 11, each pinned: exports never replace what is not a regular
file, text never reaches a terminal as escapes, and exports carry no live formulas or HTML."""

from __future__ import annotations

import csv
import os
import stat

import pytest
from markdown_it import MarkdownIt

from stars_engine.events import AttemptScored, RunFinished, RunStarted, RunStats, SegmentAccepted

from .helpers import cli, record_events

ESCAPES = "\x1b[31mred\x1b[0m \x1b]8;;https://evil.example\x07link\x1b]8;;\x07 \x1b]52;c;cm0gLXJmIH4=\x07 \x9b2J"
HTML = '<script>alert(1)</script><img src=x onerror="alert(2)">'
FORMULAS = ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def hostile_run(text: str) -> list:
    """One run whose prompt, attempts, segments and reply all carry ``text``."""
    return [
        RunStarted(strategy="stars", params={}, messages=[{"role": "user", "content": f"hi {text}"}],
                   policy_id="p", reward_id="r", seed=1, prompt_tokens=3),
        AttemptScored(segment=0, attempt=0, text=text, tokens=2, reward=-0.5, threshold=0.1,
                      verdict="rejected", elapsed_ms=1.0),
        AttemptScored(segment=0, attempt=1, text=text, tokens=2, reward=0.5, threshold=0.1,
                      verdict="accepted", elapsed_ms=1.0),
        SegmentAccepted(segment=0, text=text, reward=0.5, attempts=2, exhausted=False, tokens=2, threshold=0.1),
        RunFinished(text=text, stop_reason="eos", stats=RunStats(tokens_generated=4, tokens_accepted=2)),
    ]


@pytest.fixture
def hostile_db(tmp_path):
    db = tmp_path / "s.db"
    recorder = record_events(db, hostile_run(ESCAPES), title=f"title {ESCAPES}")
    return db, recorder


# -- 2. export --force replaces only a regular file ------------------------------------------
def test_force_never_replaces_a_fifo_or_a_device(hostile_db, tmp_path, capsys):
    db, recorder = hostile_db
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)
    for target in (fifo, "/dev/null"):
        code, _, err = cli(["export", recorder.run_id, "-o", str(target), "-f", "md", "--force", "--db", str(db)],
                           capsys)
        assert code == 2 and "not a regular file" in err and err.count("\n") == 1, err
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".pipe")] == []


def test_an_export_gets_the_users_umask(hostile_db, tmp_path, capsys):
    db, recorder = hostile_db
    old = os.umask(0o022)
    try:
        assert cli(["export", recorder.run_id, "-o", str(tmp_path / "a.md"), "--db", str(db)], capsys)[0] == 0
        os.umask(0o077)
        assert cli(["export", recorder.run_id, "-o", str(tmp_path / "b.md"), "--db", str(db)], capsys)[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.md").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.md").stat().st_mode) == 0o600


# -- 3. terminal escapes are shown, never sent ----------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [["sessions", "list"], ["sessions", "show", "{session}"], ["replay", "{run}", "--plain"],
     ["sessions", "search", "hi"], ["sessions", "show", "{session}", "--json"]],
    ids=["list", "show", "replay", "search", "show-json"],
)
def test_no_escape_sequence_reaches_the_terminal(hostile_db, capsys, argv):
    db, recorder = hostile_db
    argv = [a.format(session=recorder.session_id, run=recorder.run_id) for a in argv]
    code, out, err = cli([*argv, "--db", str(db)], capsys)
    assert code == 0, err
    assert "\x1b" not in out + err and "\x9b" not in out + err and "\x07" not in out + err
    assert "\\x1b" in out or "\\u001b" in out


def test_an_error_message_quoting_stored_text_shows_it_escaped(tmp_path, capsys):
    code, _, err = cli(["sessions", "show", "\x1b]52;c;eA==\x07", "--db", str(tmp_path / "s.db")], capsys)
    assert code == 2 and "\x1b" not in err and err.count("\n") == 1


# -- 4. no injection into exports -------------------------------------------------------------
@pytest.mark.parametrize("formula", FORMULAS)
def test_csv_cells_that_look_like_formulas_are_neutralised(tmp_path, capsys, formula):
    db = tmp_path / "s.db"
    recorder = record_events(db, hostile_run(formula))
    out = tmp_path / "a.csv"
    assert cli(["export", recorder.run_id, "-o", str(out), "--db", str(db)], capsys)[0] == 0
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["text"] for r in rows] == ["'" + formula] * 2
    assert [r["reward"] for r in rows] == ["-0.5", "0.5"]  # numbers are left as numbers


def test_markdown_shows_html_literally(tmp_path, capsys):
    db = tmp_path / "s.db"
    recorder = record_events(db, hostile_run(HTML), title=HTML)
    out = tmp_path / "a.md"
    assert cli(["export", recorder.session_id, "-o", str(out), "--db", str(db)], capsys)[0] == 0
    rendered = MarkdownIt("commonmark").render(out.read_text())
    assert "<script" not in rendered and "<img" not in rendered
    assert rendered.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4  # title, prompt, reply, segment
