"""A model folder's own Python never runs on the served paths, even with ``y`` on standard input.

Each path that reads a local folder beside a server is tried with a folder
whose config or tokenizer names its own Python (that Python would write a
RAN file): ``--server`` with ``--model DIR``, ``--reward-server`` with
``--reward DIR``, and, with no option, the folder a server's card names in
``root``. The servers are fakes; no vLLM is started.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from weights import model_folders

from stars_engine.backends.served.connect import served_policies
from stars_engine.backends.served.policy import ServerCodec
from stars_engine.backends.served.reward import served_reward
from stars_engine.errors import StarsError

from .fake_server import fake_server, ok

FOLDERS = [model_folders.custom_code, model_folders.custom_tokenizer]


def serving(root: str | None = None):
    """A server with one model, 'm', started on ``root``, answering the requests a run's start makes."""

    def answer(path, _n, request):
        if path == "/v1/models":
            return ok({"data": [{"id": "m", "max_model_len": 512, "root": root}]})
        if path == "/tokenize":
            return ok({"tokens": [1, 2, 3]})
        if path == "/v1/embeddings":
            return ok({"data": [{"index": i, "embedding": [1.0, float(i)]} for i in range(len(request["input"]))]})
        return ok({"choices": []})

    return answer


def stars(*args: str) -> subprocess.CompletedProcess:
    """``stars ARGS`` with ``y`` answering any question on standard input."""
    return subprocess.run([sys.executable, "-m", "stars_tui", *args], input="y\n" * 5, capture_output=True,
                          text=True, timeout=300)


def assert_refused(proc: subprocess.CompletedProcess, folder: Path) -> None:
    assert not (folder / "RAN").exists(), "the folder's code ran"
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "needs custom code, which stars does not run" in proc.stderr


@pytest.mark.parametrize("make", FOLDERS)
def test_served_chat_with_a_local_tokenizer_folder_never_runs_its_code(tmp_path, make):
    folder = make(tmp_path)
    with fake_server(serving()) as (url, _):
        proc = stars("run", "hi", "--server", url, "--model", str(folder), "--no-save")
    assert_refused(proc, folder)


@pytest.mark.parametrize("make", FOLDERS)
def test_served_reward_with_a_local_reward_folder_never_runs_its_code(tmp_path, make):
    folder = make(tmp_path)
    with fake_server(serving()) as (url, _):
        proc = stars("run", "hi", "--server", url, "--reward-server", url, "--reward", str(folder), "--no-save")
    assert_refused(proc, folder)


@pytest.mark.parametrize("make", FOLDERS)
def test_the_local_loaders_refuse_it_in_process_too(tmp_path, monkeypatch, make):
    folder = make(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n" * 5))
    with fake_server(serving()) as (url, _):
        with pytest.raises(StarsError, match="needs custom code, which stars does not run"):
            served_policies([url], tokenizer=str(folder))
        with pytest.raises(StarsError, match="needs custom code, which stars does not run"):
            served_reward(url, reward=str(folder))
    assert not (folder / "RAN").exists()


@pytest.mark.parametrize("make", FOLDERS)
def test_the_folder_a_servers_card_names_is_not_used_and_its_code_never_runs(tmp_path, monkeypatch, make):
    """No option names the folder: the server does. Its tokenizer would need its code, so the server
    tokenizes instead, for the chat model and for the rubric's embedder alike."""
    folder = make(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n" * 5))
    with fake_server(serving(root=str(folder))) as (url, _):
        [policy] = served_policies([url])
        assert isinstance(policy.codec, ServerCodec) and policy.vocab_size is None
        reward = served_reward(url)
        assert reward.embed.tokenizer is None
    assert not (folder / "RAN").exists()


@pytest.mark.parametrize("make", FOLDERS)
def test_the_cli_with_a_servers_folder_never_runs_its_code(tmp_path, make):
    """``stars run --server URL`` alone: the card's root is the hostile folder; the run then fails on
    the (fake) server's empty completion, in one line, having never run the folder's code."""
    folder = make(tmp_path)
    with fake_server(serving(root=str(folder))) as (url, _):
        proc = stars("run", "hi", "--server", url, "--reward-server", url, "--no-save")
    assert not (folder / "RAN").exists(), "the folder's code ran"
    assert proc.returncode in (1, 2) and proc.stderr.count("\n") <= 2, proc.stderr
    assert "Traceback" not in proc.stderr and "custom code" not in proc.stderr
