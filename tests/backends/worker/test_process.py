"""The real default models in a worker process give the very run the in-process engine gives."""

from __future__ import annotations

import os
import threading

import pytest
from decoding.checks import check_stream

from stars_engine.backends.spec import ModelSpec
from stars_engine.backends.worker.process import WORKER_NICENESS, start
from stars_engine.engine import run
from stars_engine.errors import StarsError
from stars_engine.events import AttemptScored, RunFinished
from stars_engine.params import Params

pytestmark = pytest.mark.real
MESSAGES = [{"role": "user", "content": "Give me one tip for sleeping well."}]


@pytest.fixture(scope="module")
def worker_models():
    policy, reward = start(ModelSpec())
    yield policy, reward
    policy.close()


def comparable(events):
    """Everything but wall-clock fields."""
    out = []
    for e in events:
        d = e.to_dict()
        d.pop("started_at", None), d.pop("elapsed_ms", None), d.pop("runtime", None)
        if isinstance(e, RunFinished):
            d["stats"].pop("wall_seconds")
        out.append(d)
    return out


def test_a_run_in_the_worker_equals_the_same_run_in_process(worker_models, real_policy, real_reward):
    policy, reward = worker_models
    params = Params(seed=4, segment_tokens=4, max_new_tokens=12, max_attempts=3, candidates_per_round=2)
    remote = list(run(policy, reward, MESSAGES, params))
    local = list(run(real_policy, real_reward, MESSAGES, params))
    check_stream(remote, params)
    assert comparable(remote) == comparable(local)
    assert remote[0].runtime["process"] == "worker" and remote[0].runtime["dtype"] == real_policy.runtime["dtype"]
    assert remote[-1].stats.policy_forward_passes == local[-1].stats.policy_forward_passes > 0


def test_siblings_in_the_worker_keep_their_own_runs_side_by_side(worker_models, real_policy, real_reward):
    """Two siblings' runs interleaved in the worker, round by round, give each the run it gives alone
    in process, with its own forward-pass count; a released sibling is gone from the worker."""
    policy, reward = worker_models
    params = [Params(seed=4, segment_tokens=4, max_new_tokens=12, max_attempts=3, candidates_per_round=2),
              Params(seed=5, strategy="specrej", initial_n=4, max_new_tokens=12)]
    siblings = [policy.sibling(), policy.sibling()]
    streams = [run(s, reward, MESSAGES, p) for s, p in zip(siblings, params)]
    remote: list[list] = [[], []]
    while any(streams):
        for i, stream in enumerate(streams):
            event = next(stream, None) if stream is not None else None
            if event is None:
                streams[i] = None
            else:
                remote[i].append(event)
    for events, p, sibling in zip(remote, params, siblings):
        local = list(run(real_policy, real_reward, MESSAGES, p))
        assert comparable(events) == comparable(local)
        assert sibling.forward_passes == events[-1].stats.policy_forward_passes > 0
    assert siblings[0].handle != siblings[1].handle != policy.handle == 0
    siblings[0].release()
    with pytest.raises(RuntimeError, match=f"no policy {siblings[0].handle} in the model process"):
        siblings[0].start(MESSAGES, 1)
    siblings[1].release()
    assert list(run(policy, reward, MESSAGES, params[0]))[-1].stats.policy_forward_passes > 0  # handle 0 stays


def test_cancel_reaches_the_worker_mid_round(worker_models):
    policy, reward = worker_models
    cancel = threading.Event()
    params = Params(seed=1, strategy="best-of-n", best_of_n=2, max_new_tokens=400)
    threading.Timer(1.0, cancel.set).start()
    events = list(run(policy, reward, MESSAGES, params, cancel))
    assert events[-1].stop_reason == "cancelled"
    assert events[-1].stats.policy_forward_passes < 400


def test_the_rubric_is_read_and_replaced_in_the_worker(worker_models):
    policy, reward = worker_models
    before = reward.score("hi", ["You are welcome, glad to help."])
    rubric = reward.rubric
    reward.rubric = type(rubric)(prefer=["Go away."], avoid=rubric.prefer, relevance_weight=0.0)
    try:
        after = reward.score("hi", ["You are welcome, glad to help."])
    finally:
        reward.rubric = rubric
    assert after < before
    assert reward.score("hi", ["You are welcome, glad to help."]) == before


def test_errors_in_the_worker_come_back_as_one_line(worker_models):
    policy, _ = worker_models
    with pytest.raises(StarsError, match="exceeds the model's context"):
        policy.check_prompt(MESSAGES, 100_000)
    attempts = [e for e in run(policy, worker_models[1], MESSAGES, Params(seed=2, max_new_tokens=4))
                if isinstance(e, AttemptScored)]
    assert attempts  # the worker still serves after a refused request


def test_a_model_that_cannot_load_is_a_one_line_error():
    with pytest.raises(StarsError, match="chat model path does not exist"):
        start(ModelSpec(model="./no/such/folder"))


def test_the_worker_runs_at_a_lower_priority_than_its_parent(worker_models):
    """Every thread of the worker (torch's included) is niced, so a busy machine serves the UI first."""
    pid = worker_models[0].worker.process.pid
    parent = os.getpriority(os.PRIO_PROCESS, 0)
    threads = [int(tid) for tid in os.listdir(f"/proc/{pid}/task")] if os.path.isdir(f"/proc/{pid}/task") else [pid]
    assert all(os.getpriority(os.PRIO_PROCESS, tid) == min(parent + WORKER_NICENESS, 19) for tid in threads)
