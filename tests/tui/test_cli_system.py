"""``--system TEXT|@FILE`` on the command line: a bad file is one line and exit 2, before any model loads;
with the real default models, ``stars run --system @file`` sends the file first and records it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from stars_engine.events import RunStarted
from stars_engine.store import open_store
from stars_tui.commands.options import SYSTEM_BYTES, read_system

STARS_ENV = {**os.environ, "PYTHONUTF8": "1"}


def stars(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stars_tui", *args], capture_output=True, text=True,
                          timeout=300, env=STARS_ENV)


def test_system_text_file_and_a_literal_at_sign(tmp_path):
    (tmp_path / "sys.txt").write_text("Answer in one line.\n", encoding="utf-8")
    assert read_system(None) == ""
    assert read_system("Be brief.") == "Be brief."
    assert read_system(f"@{tmp_path / 'sys.txt'}") == "Answer in one line.\n"
    assert read_system("@@home") == "@home"


@pytest.mark.parametrize("command", ["run", "chat"])
@pytest.mark.parametrize("case", ["missing", "folder", "oversized", "latin-1"])
def test_a_bad_system_file_is_one_line_and_exit_2(tmp_path, command, case):
    path = {"missing": tmp_path / "nope.txt", "folder": tmp_path, "oversized": tmp_path / "big.txt",
            "latin-1": tmp_path / "latin.txt"}[case]
    if case == "oversized":
        path.write_bytes(b"a" * (SYSTEM_BYTES + 1))
    if case == "latin-1":
        path.write_bytes("caf\xe9".encode("latin-1"))
    args = ["hi"] if command == "run" else []
    proc = stars(command, *args, "--system", f"@{path}", "--db", str(tmp_path / "s.db"))
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("error:") and "--system file" in line and "Traceback" not in proc.stderr
    assert not (tmp_path / "s.db").exists()  # refused before the database (or a model) was touched


@pytest.mark.real
def test_real_run_sends_the_system_file_first_and_records_it(tmp_path):
    system = "You are a terse assistant. Answer with one word."
    (tmp_path / "system.txt").write_text(system, encoding="utf-8")
    db = tmp_path / "s.db"
    proc = stars("run", "Name a yellow fruit.", "--system", f"@{tmp_path / 'system.txt'}", "--json",
                 "--db", str(db), "--max-new-tokens", "8", "--segment-tokens", "4", "--seed", "3")
    assert proc.returncode == 0, proc.stderr
    started = json.loads(proc.stdout.splitlines()[0])
    assert started["type"] == "RunStarted"
    assert started["messages"] == [{"role": "system", "content": system},
                                   {"role": "user", "content": "Name a yellow fruit."}]
    assert started["rubric"]["prefer"] and started["rubric"]["relevance_weight"] == 0.5  # the default rubric
    with open_store(db) as store:
        [session] = store.list_sessions()
        assert session.system_prompt == system and (session.turns, session.runs) == (1, 1)
        [run] = store.runs_of(session.id)
        first = store.run_events(run.id)[0]
        assert isinstance(first, RunStarted) and first.messages[0]["content"] == system
        assert run.rubric == started["rubric"]
        assert [m.role for m in store.messages_of(session.id)] == ["user", "assistant"]
    shown = stars("sessions", "show", session.id, "--db", str(db))
    assert shown.returncode == 0 and f"system prompt: {system}" in shown.stdout
