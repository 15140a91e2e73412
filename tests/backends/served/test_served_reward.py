"""Reward models on real vLLM pooling servers: the same scores as in-process, and clean faults.

Each server here is started once for its module (a server takes 1-3 minutes
on a small CPU) and always stopped. ``.ci/run`` runs this file in its own
pytest session after the chat server's tests, so at most two vLLM servers
(the rubric's and the chat model's, for the run with both served) are up at once.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from decoding.checks import check_stream
from reward.contract import check_reward

from stars_engine.backends.local.load import load_reward
from stars_engine.backends.reward import load_reward as served_load
from stars_engine.backends.spec import ModelSpec
from stars_engine.engine import run
from stars_engine.events import AttemptScored, RunFailed, RunStarted, event_from_dict
from stars_engine.params import Params
from stars_engine.store import Recorder, open_store
from stars_engine.weights.sources import bundled_minilm

from .reward_models import build_tiny_rm
from .servers import running_server

pytestmark = [pytest.mark.served, pytest.mark.real]

PROMPT = "How do I boil an egg?"
PAIRS_REPLIES = [
    "",
    "Put it in",
    "Put the egg in boiling water for nine minutes, then cool it in cold water so it peels easily.",
    "No.",
    "Eggs? Go away.",
    "Bring a pot of water to the boil, lower the egg in gently with a spoon",
    "A soft egg takes six minutes; a hard one ten.",
    "I cannot help with that.",
]
POOLING = ("--runner", "pooling", "--no-enable-prefix-caching", "--enforce-eager")


@pytest.fixture(scope="module")
def tiny_rm(tmp_path_factory):
    return build_tiny_rm(tmp_path_factory.mktemp("tiny-rm"))


@pytest.fixture(scope="module")
def classifier_server(tiny_rm):
    with running_server(tiny_rm, "tiny-rm", (*POOLING, "--max-model-len", "1024")) as server:
        yield server


@pytest.fixture(scope="module")
def rubric_server():
    with running_server(bundled_minilm(), "minilm", (*POOLING, "--max-model-len", "256")) as server:
        yield server


def test_a_served_classifier_scores_as_the_in_process_one(tiny_rm, classifier_server):
    local = load_reward(str(tiny_rm))
    served = served_load(ModelSpec(reward=str(tiny_rm), reward_server=classifier_server.url))
    assert (served.server_url, served.served_model, served.reward_id) == (
        classifier_server.url, "tiny-rm", f"{tiny_rm} (vllm:tiny-rm)"
    )
    for batch in (PAIRS_REPLIES[:4], PAIRS_REPLIES):
        mine, theirs = local.score(PROMPT, batch), served.score(PROMPT, batch)
        assert theirs == pytest.approx(mine, abs=1e-3)
    assert max(mine) - min(mine) > 0.05, "the scores differ by more than the tolerance"


def test_a_served_classifier_keeps_the_reward_contract(tiny_rm, classifier_server):
    check_reward(served_load(ModelSpec(reward=str(tiny_rm), reward_server=classifier_server.url)))


def test_the_wrong_model_name_is_one_line(tiny_rm, classifier_server):
    from stars_engine.errors import StarsError

    with pytest.raises(StarsError, match="serves tiny-rm, not 'skywork': check --served-reward"):
        served_load(ModelSpec(reward=str(tiny_rm), reward_server=classifier_server.url, served_reward="skywork"))


def test_the_reward_server_killed_mid_run_fails_cleanly_and_keeps_the_attempts(
    tmp_path, tiny_rm, classifier_server, real_policy
):
    """Runs last against this server: it kills it after the third scoring call."""
    served = served_load(ModelSpec(reward=str(tiny_rm), reward_server=classifier_server.url))
    served.client.retries, served.client.backoff = 1, 0.1
    calls = {"n": 0}
    score = served.score

    def score_then_kill(prompt, replies):
        calls["n"] += 1
        if calls["n"] == 3:
            classifier_server.kill()
        return score(prompt, replies)

    served.score = score_then_kill
    db = tmp_path / "s.db"
    recorder = Recorder(db)
    params = Params(seed=5, segment_tokens=4, max_new_tokens=32, candidates_per_round=2, max_attempts=2,
                    threshold=0.45, threshold_mode="schedule")
    events = list(recorder.record(run(real_policy, served, [{"role": "user", "content": PROMPT}], params)))
    failed = events[-1]
    assert isinstance(failed, RunFailed)
    assert classifier_server.url in failed.message and "\n" not in failed.message
    scored = [e for e in events if isinstance(e, AttemptScored)]
    assert len(scored) == 2  # the baseline, one round of two, then the kill
    with open_store(db) as store:
        assert store.get_run(recorder.run_id).status == "failed"
        assert [e for e in store.run_events(recorder.run_id) if isinstance(e, AttemptScored)] == scored


def test_the_rubric_over_served_minilm_scores_as_in_process(rubric_server, real_reward):
    served = served_load(ModelSpec(reward_server=rubric_server.url))
    assert served.rubric == real_reward.rubric
    for batch in (PAIRS_REPLIES[:4], PAIRS_REPLIES * 2):
        assert served.score(PROMPT, batch) == pytest.approx(real_reward.score(PROMPT, batch), abs=1e-3)


def test_the_served_rubric_keeps_the_reward_contract(rubric_server):
    check_reward(served_load(ModelSpec(reward_server=rubric_server.url)))


def test_a_classifier_asked_of_an_embedding_server_is_one_line(tiny_rm, rubric_server):
    from stars_engine.errors import StarsError

    with pytest.raises(StarsError, match="does not serve /classify") as info:
        served_load(ModelSpec(reward=str(tiny_rm), reward_server=rubric_server.url))
    assert "\n" not in str(info.value)


def stars_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stars_tui", *args], capture_output=True, text=True, timeout=600, check=False
    )


def test_a_stars_run_with_both_models_served_records_a_well_formed_stream(tmp_path, rubric_server, vllm_url):
    db = tmp_path / "both.db"
    params = Params(seed=4, segment_tokens=8, max_new_tokens=24, candidates_per_round=2, max_attempts=3,
                    threshold=0.45, threshold_mode="schedule")
    result = stars_cli(
        "run", PROMPT, "--json", "--db", str(db), "--server", vllm_url, "--reward-server", rubric_server.url,
        "--seed", "4", "--segment-tokens", "8", "--max-new-tokens", "24", "--candidates-per-round", "2",
        "--max-attempts", "3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    events = [event_from_dict(json.loads(line)) for line in result.stdout.splitlines()]
    check_stream(events, params)
    started = events[0]
    assert isinstance(started, RunStarted)
    assert (started.backend, started.server_url) == ("vllm", vllm_url)
    assert (started.reward_id, started.reward_server_url, started.served_reward) == (
        "embedding-rubric (vllm:minilm)", rubric_server.url, "minilm"
    )
    with open_store(db) as store:
        [session] = store.list_sessions()
        [saved] = store.runs_of(session.id)
        assert saved.status == "finished" and saved.reward_id == started.reward_id
        assert store.run_events(saved.id) == events


def test_stars_models_says_what_the_reward_server_serves(rubric_server):
    result = stars_cli("models", "--json", "--reward-server", rubric_server.url)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["reward server"] == f"{rubric_server.url} (vLLM pooling)"
    assert info["served reward"].startswith(f"minilm ({bundled_minilm()}, 256 tokens of context")
