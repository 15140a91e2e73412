"""Bad input on the command line: one line on stderr, exit code 2, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stars_tui import cli

BAD_OPTIONS = [
    (["--segment-tokens", "0"], "segment_tokens: must be between 1 and 4096"),
    (["--segment-tokens", "-3"], "segment_tokens"),
    (["--threshold", "nan"], "threshold: must be a finite number"),
    (["--threshold", "inf"], "threshold: must be a finite number"),
    (["--temperature", "0"], "temperature: must be greater than 0"),
    (["--temperature", "-1"], "temperature"),
    (["--max-attempts", "0"], "max_attempts: must be between 1"),
    (["--candidates-per-round", "0"], "candidates_per_round"),
    (["--best-of-n", "0"], "best_of_n"),
    (["--max-new-tokens", "0"], "max_new_tokens"),
    (["--top-p", "1.5"], "top_p"),
    (["--top-k", "-1"], "top_k"),
    (["--beta", "0"], "beta: must be greater than 0"),
    (["--strategy", "greedy"], "strategy: must be one of stars, best-of-n, vanilla"),
    (["--threshold-mode", "linear"], "threshold_mode"),
    (["--acceptance", "maybe"], "acceptance"),
    (["--device", "tpu"], "unknown device"),
    (["--dtype", "fp16"], "unknown dtype 'fp16'"),
    (["--threads", "0"], "--threads must be from 1 to "),
    (["--threads", "100000"], "--threads must be from 1 to "),
    (["--threads", "99999999999"], "--threads must be from 1 to "),
    (["--weights", "int3"], "unknown weights 'int3': use auto, dense, fp16 or int4"),
    (["--model", "./missing-model"], "chat model path does not exist"),
    (["--reward", "./missing-rm"], "reward model path does not exist"),
    (["--rubric", "./missing.json"], "rubric file does not exist"),
]


def run_main(monkeypatch, capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS)
def test_bad_run_options(monkeypatch, capsys, options, message):
    code, err = run_main(monkeypatch, capsys, ["run", "hello", "--no-save", *options])
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")


def test_empty_prompt(monkeypatch, capsys):
    code, err = run_main(monkeypatch, capsys, ["run", "   ", "--no-save"])
    assert (code, err.strip()) == (2, "error: the prompt is empty")


@pytest.mark.real
@pytest.mark.parametrize(
    ("prompt", "options"),
    [("hi", ["--max-new-tokens", "9000"]), ("word " * 9000, ["--max-new-tokens", "8"])],
    ids=["reply-too-long", "prompt-too-long"],
)
def test_prompt_longer_than_the_context(prompt, options):
    proc = subprocess.run([sys.executable, "-m", "stars_tui", "run", prompt, "--no-save", *options],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "exceeds the model's context of 8192 tokens" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_version_and_help():
    proc = subprocess.run([sys.executable, "-m", "stars_tui", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("stars ")
    for args in (["-h"], ["run", "-h"], ["models", "-h"]):
        proc = subprocess.run([sys.executable, "-m", "stars_tui", *args], capture_output=True, text=True)
        assert proc.returncode == 0 and "Usage" in proc.stdout


def test_cards_on_a_vllm_server_is_refused_before_the_run_starts(tmp_path, capsys):
    """Nothing is contacted, loaded or recorded: one line, exit 2, no RunStarted."""
    db = tmp_path / "s.db"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "hello", "--json", "--db", str(db), "--server", "http://127.0.0.1:9", "--strategy", "cards"])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2 and out == ""
    assert err == ("error: cards cannot run on the vllm backend: a vLLM server cannot stop a segment where the "
                   "next-token entropy is high (leave out --server)\n")
    assert not db.exists()
