"""The CLI behaves like a Unix tool: one-line errors, honest help, exit codes scripts can read.

Runs model-free: ``tests/fake_stars.py`` is ``stars`` with the scripted policy and reward.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from stars_engine import backends
from stars_engine.backends.spec import ModelSpec
from stars_engine.store import open_store
from stars_tui import cli

FAKE_STARS = Path(__file__).resolve().parents[1] / "fake_stars.py"


def stars(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stars_tui", *args], capture_output=True, text=True,
                          timeout=120, **kwargs)


@pytest.mark.parametrize(
    "argv",
    [["run", "hi", "--segment-tokens", "abc"], ["run"], ["nope"], ["sessions", "list", "--limit", "0"],
     ["export", "x"], ["run", "hi", "--no-such-option"]],
    ids=["not-an-int", "missing-prompt", "unknown-command", "out-of-range", "missing-option", "unknown-option"],
)
def test_usage_errors_are_one_line(argv):
    proc = stars(*argv)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "╭" not in proc.stderr and "-h" in proc.stderr


def test_help_shows_flags_as_flags_and_the_argument_by_name():
    root, run = stars("-h").stdout, stars("run", "-h").stdout
    assert "<bool>" not in root + run and "{" not in run.splitlines()[0]
    assert run.startswith("Usage: stars run [OPTIONS] PROMPT")
    assert "--db" in root  # `stars --db FILE` works on the root command


def test_root_db_option_applies_to_every_command(tmp_path):
    db = tmp_path / "root.db"
    fake = subprocess.run([sys.executable, str(FAKE_STARS), "--db", str(db), "run", "hello there",
                           "--max-new-tokens", "6"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "FAKE_STARS_DELAY": "0"})
    assert fake.returncode == 0, fake.stderr
    listed = stars("--db", str(db), "sessions", "list", "--json")
    assert [s["title"] for s in json.loads(listed.stdout)] == ["hello there"]


def test_a_closed_pipe_cancels_the_run_quietly(tmp_path):
    db = tmp_path / "s.db"
    proc = subprocess.Popen([sys.executable, str(FAKE_STARS), "run", "hi", "--json", "--max-new-tokens", "400",
                             "--db", str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert json.loads(proc.stdout.readline())["type"] == "RunStarted"
    proc.stdout.close()  # `| head -1`
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141 and err == ""
    with open_store(db) as store:
        (session,) = store.list_sessions()
        (run,) = store.runs_of(session.id)
    assert (run.status, run.stop_reason) == ("finished", "cancelled")


def test_ctrl_c_exits_130_and_keeps_the_run_as_cancelled(tmp_path):
    db = tmp_path / "s.db"
    proc = subprocess.Popen([sys.executable, str(FAKE_STARS), "run", "hi", "--json", "--max-new-tokens", "400",
                             "--db", str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.readline()
    proc.stdout.readline()  # the run is decoding
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert json.loads(out.splitlines()[-1])["stop_reason"] == "cancelled"
    with open_store(db) as store:
        (session,) = store.list_sessions()
        assert session.statuses == ("cancelled",)


@pytest.mark.parametrize(
    ("argv", "stdin", "words"),
    [
        (["run", b"\xed\xa0\x80"], None, "the prompt is not valid UTF-8"),
        (["run", "hi", "--system", b"\xed\xa0\x80"], None, "--system is not valid UTF-8"),
        (["run", "-"], b"caf\xe9 au lait", "standard input is not UTF-8"),
        (["run", "-"], b"\xed\xa0\x80", "standard input is not UTF-8"),
    ],
    ids=["argv-surrogate", "system-surrogate", "stdin-latin1", "stdin-surrogate"],
)
def test_undecodable_prompts_are_one_line(tmp_path, argv, stdin, words):
    args = [a if isinstance(a, bytes) else a.encode() for a in argv]
    db = str(tmp_path / "s.db").encode()
    proc = subprocess.run([sys.executable.encode(), b"-m", b"stars_tui", *args, b"--db", db],
                          input=stdin or b"", capture_output=True, timeout=120)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert words in err
    assert not (tmp_path / "s.db").exists()


def test_a_bad_reward_or_rubric_is_refused_before_the_chat_model_loads(tmp_path, capsys):
    def no_weights(*args, **kwargs):
        raise AssertionError("a model was loaded before the options were checked")

    real = backends.choose(ModelSpec())
    refusing = backends.registered(dataclasses.replace(real, load=no_weights))
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"prefer": ["be kind"] * 40_000, "avoid": ["be rude"]}))
    many = tmp_path / "many.json"
    many.write_text(json.dumps({"prefer": ["be kind"] * 500, "avoid": ["be rude"]}))
    cases = [
        (["--rubric", str(big)], "larger than"),
        (["--rubric", str(many)], "at most 200 exemplars"),
        (["--reward", str(tmp_path / "none")], "reward model path does not exist"),
        (["--reward", str(tmp_path)], "no config.json"),
        (["--reward", "./x", "--rubric", str(many)], "--rubric only applies"),
        (["--device", "mps"], "no such device"),
    ]
    with refusing:
        for options, words in cases:
            with pytest.raises(SystemExit) as info:
                cli.main(["run", "hi", "--db", str(tmp_path / "s.db"), *options])
            err = capsys.readouterr().err
            assert info.value.code == 2 and words in err and err.count("\n") == 1, err
    assert not (tmp_path / "s.db").exists()
