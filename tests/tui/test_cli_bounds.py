"""Every number, file and output the CLI is given has a bound: refused in one line that names it, never a
traceback, never a hang."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stars_engine.store import open_store
from stars_tui import cli

FAKE_STARS = Path(__file__).resolve().parents[1] / "fake_stars.py"


def stars(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stars_tui", *args], capture_output=True, text=True,
                          timeout=120, **kwargs)


def run_main(monkeypatch, capsys, argv: list[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as end:
        cli.main(argv)
    return end.value.code, capsys.readouterr().err


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """A database with one recorded session (scripted models); the tests only read it."""
    path = tmp_path_factory.mktemp("db") / "s.db"
    done = subprocess.run([sys.executable, str(FAKE_STARS), "run", "hello", "--db", str(path), "--seed", "1",
                           "--max-new-tokens", "8"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return path


@pytest.mark.parametrize("speed", ["-1", "nan", "inf", "-inf", "1e-300", "1e300", "0.001", "1001"])
def test_replay_refuses_an_absurd_speed_naming_the_range(monkeypatch, capsys, tmp_path, speed):
    code, err = run_main(monkeypatch, capsys, ["replay", "x", "--plain", "--speed", speed,
                                               "--db", str(tmp_path / "s.db")])
    assert code == 2 and err.count("\n") == 1
    assert "Invalid value for '--speed'" in err and "is not 0 (at once) or between 0.01 and 1000" in err
    assert not (tmp_path / "s.db").exists()  # refused before the database is opened


@pytest.mark.parametrize("speed", ["0", "0.01", "1000"])
def test_replay_takes_the_ends_of_the_range(db, capsys, monkeypatch, speed):
    code, err = run_main(monkeypatch, capsys, ["replay", "-", "--plain", "--speed", speed, "--db", str(db)])
    assert "--speed" not in err  # got past the option (the id '-' then matches nothing)


@pytest.mark.parametrize("argv", [
    ["run", "hi", "--no-save", "--threads", "99999999999999999999"],
    ["sessions", "list", "--limit", "99999999999999999999"],
    ["sessions", "search", "x", "-n", "9223372036854775808"],
    ["serve", "--port", "-99999999999999999999"],
])
def test_an_integer_beyond_sqlites_range_is_refused_naming_the_range(monkeypatch, capsys, tmp_path, argv):
    code, err = run_main(monkeypatch, capsys, [*argv, *(["--db", str(tmp_path / "s.db")] if argv[0] == "sessions"
                                                        else [])])
    assert code == 2 and err.count("\n") == 1
    assert "is not in the range -9223372036854775808..9223372036854775807" in err


def test_a_seed_beyond_its_range_is_refused_by_params(monkeypatch, capsys):
    code, err = run_main(monkeypatch, capsys, ["run", "hi", "--no-save", "--seed", "9223372036854775808"])
    assert code == 2 and "9223372036854775807" in err and err.count("\n") == 1


@pytest.mark.parametrize("target", ["{fifo}", "/dev/zero", "/dev/urandom", "{dir}"])
def test_import_refuses_what_is_not_a_regular_file_without_reading_it(monkeypatch, capsys, tmp_path, target):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)  # no writer: a blocking open would hang
    target = target.format(fifo=fifo, dir=tmp_path)
    code, err = run_main(monkeypatch, capsys, ["import", target, "--db", str(tmp_path / "s.db")])
    assert code == 2 and err.count("\n") == 1
    assert f"import file {target} is a" in err and "not a regular file" in err
    assert not (tmp_path / "s.db").exists()


SHOWING = [["sessions", "list", "--db", "{db}"], ["sessions", "show", "{session}", "--json", "--db", "{db}"],
           ["replay", "{run}", "--plain", "--db", "{db}"], ["sessions", "--help"]]


def filled(argv: list[str], db: Path) -> list[str]:
    with open_store(db) as store:
        session = store.list_sessions(1)[0].id
        run = store.runs_of(session)[0].id
    return [sys.executable, "-m", "stars_tui", *(a.format(db=db, session=session, run=run) for a in argv)]


@pytest.mark.parametrize("argv", SHOWING, ids=lambda argv: "-".join(a.strip("{}-") for a in argv[:3]))
def test_a_full_disk_on_stdout_is_one_line(db, argv):
    with open("/dev/full", "w") as full:
        done = subprocess.run(filled(argv, db), stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr == "error: cannot write to standard output: No space left on device\n"


@pytest.mark.parametrize("argv", SHOWING, ids=lambda argv: "-".join(a.strip("{}-") for a in argv[:3]))
def test_a_closed_pipe_ends_quietly(db, argv):
    reader, writer = os.pipe()
    os.close(reader)  # the reader left before the first byte (as `| head -1` does after its line)
    try:
        done = subprocess.run(filled(argv, db), stdout=writer, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(writer)
    assert done.stderr == ""
    assert done.returncode == 141  # 128 + SIGPIPE, as `stars run | head` and git report it


@pytest.mark.parametrize("command", [["import", "{file}"], ["replay", "{file}", "--plain"]])
def test_an_export_line_nested_too_deeply_is_one_line(monkeypatch, capsys, tmp_path, command):
    file = tmp_path / "deep.jsonl"
    file.write_text('{"type": ' + "[" * 100_000 + "]" * 100_000 + "}\n", encoding="utf-8")
    argv = [a.format(file=file) for a in command]
    code, err = run_main(monkeypatch, capsys, [*argv, "--db", str(tmp_path / "s.db")])
    assert code == 2 and err.startswith(f"error: {file}") and err.count("\n") == 1  # one line, no traceback
    assert not (tmp_path / "s.db").exists()
