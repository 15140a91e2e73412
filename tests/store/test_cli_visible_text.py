"""Every CLI printer shows outside text through the one visible-controls path: bidi controls and line
separators included, in tables, transcripts, replays, JSON and failure lines."""

from __future__ import annotations

import json
import re

import pytest
import typer

from stars_engine.display.controls import UNSAFE
from stars_engine.events import RunFailed, RunFinished, RunStats
from stars_tui.commands.run import show

from .helpers import cli, record_events
from .test_security import hostile_run

# a right-to-left override that makes "exe.txt" read as "txt.exe", isolates, marks, and separators
BIDI = "invoice\u202eexe.txt \u2066x\u2069 \u200f\u061c\u200e"
SEPARATORS = "one\u2028two\u2029three\x85four"
HOSTILE = f"{BIDI} {SEPARATORS} \x1b]52;c;aGk=\x07"
RAW = re.compile(f"[{UNSAFE}]")


@pytest.fixture
def hostile_db(tmp_path):
    db = tmp_path / "s.db"
    ok = record_events(db, hostile_run(HOSTILE), title=f"title {BIDI}")
    failed = record_events(db, [*hostile_run(HOSTILE)[:-1], RunFailed(message=f"server said {HOSTILE}")])
    return db, ok, failed


@pytest.mark.parametrize("argv", [
    ["sessions", "list"], ["sessions", "list", "--json"], ["sessions", "show", "{ok}"],
    ["sessions", "show", "{failed}"], ["sessions", "show", "{failed}", "--json"], ["sessions", "search", "invoice"],
    ["sessions", "search", "invoice", "--json"], ["replay", "{ok_run}", "--plain"],
    ["replay", "{failed_run}", "--plain"],
], ids=lambda argv: "-".join(a.strip("{}") for a in argv))
def test_no_bidi_control_or_line_separator_reaches_the_terminal(hostile_db, capsys, argv):
    db, ok, failed = hostile_db
    argv = [a.format(ok=ok.session_id, failed=failed.session_id, ok_run=ok.run_id, failed_run=failed.run_id)
            for a in argv]
    code, out, err = cli([*argv, "--db", str(db)], capsys)
    assert code == 0, err
    assert not RAW.search(out + err), [c for c in out + err if RAW.match(c)]
    assert "\\u202e" in out


def test_json_output_reads_back_as_the_stored_text(hostile_db, capsys):
    db, ok, _ = hostile_db
    code, out, _ = cli(["sessions", "show", ok.session_id, "--json", "--db", str(db)], capsys)
    assert code == 0 and json.loads(out)["runs"][0]["final_text"] == HOSTILE


def test_a_failed_run_in_replay_shows_its_message_visible(hostile_db, capsys):
    db, _, failed = hostile_db
    _, out, _ = cli(["replay", failed.run_id, "--plain", "--db", str(db)], capsys)
    assert "run failed: server said invoice\\u202eexe.txt" in out


def test_the_run_printers_failure_line_is_one_visible_line(capsys):
    with pytest.raises(typer.Exit) as end:
        show(iter([RunFailed(message=f"server said {HOSTILE}\nsecond line")]), as_json=False)
    err = capsys.readouterr().err
    assert end.value.exit_code == 1
    assert err.startswith("error: server said invoice\\u202eexe.txt") and err.count("\n") == 1
    assert not RAW.search(err)


def test_run_json_lines_are_safe_and_read_back(capsys):
    show(iter([RunFinished(text=HOSTILE, stop_reason="eos", stats=RunStats())]), as_json=True)
    out = capsys.readouterr().out
    assert not RAW.search(out) and out.count("\n") == 1
    assert json.loads(out)["text"] == HOSTILE
