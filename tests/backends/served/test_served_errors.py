"""The served policy's one-line errors, against a fake server that answers wrongly on purpose.

The real server's behaviour (and a real server killed mid-run) is tested in the
``served`` tests; these inject what a healthy vLLM does not do on demand.
"""

from __future__ import annotations

import json

import pytest
from fakes import ScriptedReward

from stars_engine import engine
from stars_engine.backends.served.client import ServerError
from stars_engine.backends.served.connect import served_policies
from stars_engine.backends.served.launch import free_port
from stars_engine.errors import StarsError
from stars_engine.events import RunFailed, RunStarted
from stars_engine.params import Params
from stars_engine.policy.base import Sampling

from .fake_server import fake_server, ok

PROMPT = [{"role": "user", "content": "hi"}]


def vllm_like(completions):
    """Answers /v1/models (one model, 'm'), /tokenize and /detokenize; ``completions(n)`` answers the
    n-th request to anything else."""
    count = 0

    def answer(path, _):
        nonlocal count
        if path == "/v1/models":
            return ok({"data": [{"id": "m", "max_model_len": 64, "root": "/not/here"}]})
        if path == "/tokenize":
            return ok({"tokens": [1, 2, 3]})
        if path == "/detokenize":
            return ok({"prompt": "x"})
        count += 1
        return completions(count)

    return answer


def test_a_server_that_refuses_token_id_prompts_fails_the_run_in_one_line():
    refusal = 400, json.dumps({"error": {"message": "prompt must be a string"}}).encode()
    with fake_server(vllm_like(lambda n: refusal)) as (url, _):
        [policy] = served_policies([url])
        events = list(engine.run(policy, ScriptedReward(), PROMPT, Params(seed=1, max_new_tokens=8)))
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFailed)
    assert events[-1].message == f"{url}/v1/completions: HTTP 400: prompt must be a string"


def test_a_reply_without_token_ids_is_one_line():
    with fake_server(vllm_like(lambda n: ok({"choices": [{"index": 0, "text": "hello"}]}))) as (url, _):
        [policy] = served_policies([url])
        policy.start(PROMPT, 0)
        with pytest.raises(ServerError, match="no token ids: does the server support return_tokens_as_token_ids"):
            policy.sample(1, 4, Sampling())


def test_fewer_choices_than_asked_is_one_line():
    one = {"choices": [{"index": 0, "token_ids": [5], "finish_reason": "length"}]}
    with fake_server(vllm_like(lambda n: ok(one))) as (url, _):
        [policy] = served_policies([url])
        policy.start(PROMPT, 0)
        with pytest.raises(ServerError, match="asked for 3 completions, got 1"):
            policy.sample(3, 4, Sampling())


def test_the_server_tokenizes_when_no_local_files_and_the_context_is_checked():
    with fake_server(vllm_like(lambda n: ok({}))) as (url, calls):
        [policy] = served_policies([url])
        assert policy.check_prompt(PROMPT, 61) == 3
        with pytest.raises(StarsError, match="exceeds the model's context of 64 tokens"):
            policy.check_prompt(PROMPT, 62)
    assert "/tokenize" in calls


def test_replicas_must_answer_and_serve_the_same_model():
    def named(name):
        return lambda path, n: ok({"data": [{"id": name}]})

    with fake_server(named("a")) as (first, _), fake_server(named("b")) as (second, _):
        with pytest.raises(StarsError, match="the replicas serve different models"):
            served_policies([first, second])
        with pytest.raises(ServerError, match=f"^{second}: serves b, not 'a'"):
            served_policies([first, second], "a")
        dead = f"http://127.0.0.1:{free_port()}"
        with pytest.raises(ServerError, match=f"^{dead}/v1/models: server not reachable"):
            served_policies([first, dead], "a")


def test_policies_are_spread_round_robin_over_replicas():
    answer = vllm_like(lambda n: ok({}))
    with fake_server(answer) as (first, _), fake_server(answer) as (second, _):
        policies = served_policies([first, second], count=5)
    assert [p.server_url for p in policies] == [first, second, first, second, first]


@pytest.mark.anyio
async def test_the_workbench_shows_a_server_error_and_stays_usable(tmp_path):
    from tui.helpers import SIZE, chat

    from stars_tui.app import StarsApp

    def completions(n):
        if n == 1:  # the first request, in the first run
            return 500, json.dumps({"error": {"message": "EngineCore encountered an issue"}}).encode()
        choice = {"token_ids": [7, 2], "finish_reason": "stop"}
        return ok({"choices": [{**choice, "index": i} for i in range(2)]})

    with fake_server(vllm_like(completions)) as (url, _):
        [policy] = served_policies([url])
        params = Params(seed=1, candidates_per_round=2, max_attempts=2, max_new_tokens=8, segment_tokens=16,
                        threshold=0.45, threshold_mode="schedule")
        app = StarsApp(lambda: policy, ScriptedReward, db_path=tmp_path / "runs.db", params=params)
        async with app.run_test(size=SIZE) as pilot:
            await chat(pilot, "hello")
            screen = app.chat_screen
            assert screen.state.failed.message == f"{url}/v1/completions: HTTP 500: EngineCore encountered an issue"
            await chat(pilot, "again")
            assert screen.state.failed is None and screen.state.done and screen.state.text == "x"
