"""Faults against real vLLM servers: a wrong name, a dead port, and a server killed mid-run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stars_engine import engine
from stars_engine.backends.served.client import ServerError
from stars_engine.backends.served.connect import served_policies
from stars_engine.backends.served.launch import free_port
from stars_engine.events import AttemptScored, RunFailed
from stars_engine.params import Params
from stars_engine.store import Recorder, open_store

from .servers import POLICY_NAME, policy_server

pytestmark = [pytest.mark.served, pytest.mark.real]


def stars_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stars_tui", *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_a_wrong_model_name_is_one_line_before_any_run(vllm_url):
    with pytest.raises(ServerError) as err:
        served_policies([vllm_url], "no-such-model")
    assert str(err.value) == f"{vllm_url}: serves {POLICY_NAME}, not 'no-such-model': check --served-model"


def test_the_cli_reports_a_wrong_name_and_a_dead_server_in_one_line(vllm_url, tmp_path):
    wrong = stars_cli("run", "hi", "--no-save", "--server", vllm_url, "--served-model", "nope")
    dead_url = f"http://127.0.0.1:{free_port()}"
    dead = stars_cli("run", "hi", "--no-save", "--server", dead_url)
    for result, url in ((wrong, vllm_url), (dead, dead_url)):
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {url}"), result.stderr
    assert "refused" in dead.stderr


def test_the_cli_runs_a_reply_through_the_server(vllm_url, tmp_path):
    db = tmp_path / "runs.db"
    result = stars_cli(
        "run", "Name a colour.", "--server", vllm_url, "--db", str(db), "--seed", "5", "--max-new-tokens", "16"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    with open_store(db) as store:
        [session] = store.list_sessions()
        [run] = store.runs_of(session.id)
        started = store.run_events(run.id)[0]
    assert run.status == "finished" and run.final_text == result.stdout.rstrip("\n")
    assert (started.backend, started.server_url, started.served_model) == ("vllm", vllm_url, POLICY_NAME)


def test_a_server_killed_mid_run_fails_cleanly_and_keeps_the_attempts(real_reward, tmp_path):
    """The run ends with one RunFailed line naming the server; every attempt scored before is saved."""
    db = tmp_path / "runs.db"
    params = Params(seed=2, segment_tokens=8, max_new_tokens=64, candidates_per_round=2, max_attempts=4,
                    threshold=0.45, threshold_mode="schedule")
    messages = [{"role": "user", "content": "Describe a quiet morning."}]
    with policy_server(["--enforce-eager"]) as server:  # no compile: this server lives for one short run
        [policy] = served_policies([server.url])
        policy.client.backoff = 0.05  # the retries still happen, quickly
        recorder = Recorder(db)
        seen = []
        for event in recorder.record(engine.run(policy, real_reward, messages, params)):
            seen.append(event)
            if sum(isinstance(e, AttemptScored) for e in seen) == 3:
                server.kill()
    failed = seen[-1]
    assert isinstance(failed, RunFailed), failed
    assert failed.message.startswith(server.url) and "\n" not in failed.message
    attempts = [e for e in seen if isinstance(e, AttemptScored)]
    assert len(attempts) >= 3
    with open_store(db) as store:
        run = store.get_run(recorder.run_id)
        saved = [e for e in store.run_events(recorder.run_id) if isinstance(e, AttemptScored)]
    assert run.status == "failed" and run.error == failed.message
    assert saved == attempts
