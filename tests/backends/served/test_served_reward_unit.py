"""The served reward's formatting, math and faults, against a stand-in for the server.

``PoolingStub`` answers ``/classify`` and ``/v1/embeddings`` by running the
in-process model on exactly what it was sent, one input at a time, as vLLM
does. So these tests show that the ids and texts the served reward sends give
the in-process scores; the real server is in ``test_served_reward.py``.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from fakes import ScriptedPolicy

from stars_engine.backends.served.client import ServerError, convert
from stars_engine.backends.served.reward import ServedClassifierReward, ServedEmbedder
from stars_engine.engine import run
from stars_engine.events import AttemptScored, RunFailed
from stars_engine.params import Params
from stars_engine.reward.pairs import max_length, pair_ids
from stars_engine.reward.rubric import RubricReward
from stars_engine.store import Recorder, open_store

from .reward_models import build_tiny_rm

PROMPT = "How do I boil an egg?"
REPLIES = ["", "Put it in", "Put it in boiling water for nine minutes, then cool it in cold water.", "No."]


class PoolingStub:
    """``post`` answers like vLLM's pooling endpoints; ``requests`` keeps every (path, payload)."""

    base_url = "http://stub"

    def __init__(self, classify=None, embed=None):
        self.classify, self.embed = classify, embed
        self.requests: list[tuple[str, dict]] = []
        self.fault = None

    def post(self, path: str, payload: dict, shape=Any):
        """The answer, checked against ``shape`` as the real client checks a server's reply."""
        self.requests.append((path, payload))
        if self.fault is not None:
            return convert(self.fault(path, payload), shape, self.base_url)
        if path == "/classify":
            data = {"data": [{"index": i, "probs": [self.classify(ids)]} for i, ids in enumerate(payload["input"])]}
        else:
            data = {"data": [{"index": i, "embedding": v.tolist()} for i, v in enumerate(self.embed(payload["input"]))]}
        return convert(data, shape, self.base_url)


@pytest.fixture(scope="module")
def tiny_rm(tmp_path_factory):
    return build_tiny_rm(tmp_path_factory.mktemp("tiny-rm"))


@pytest.fixture(scope="module")
def local_rm(tiny_rm):
    from stars_engine.backends.local.load import load_reward

    return load_reward(str(tiny_rm))


@pytest.fixture
def served_rm(local_rm):
    import torch

    model = local_rm.model

    def classify(ids):
        with torch.inference_mode():
            return float(model(input_ids=torch.tensor([ids])).logits[0, 0])

    stub = PoolingStub(classify=classify)
    limit = max_length(local_rm.tokenizer)
    return ServedClassifierReward(stub, "tiny-rm", local_rm.tokenizer, "tiny-rm (stub)", limit), stub


def test_the_served_classifier_sends_the_in_process_ids_and_gets_its_scores(local_rm, served_rm):
    served, stub = served_rm
    scores = served.score(PROMPT, REPLIES)
    assert len(stub.requests) == 1, "one batched request per round"
    path, payload = stub.requests[0]
    assert path == "/classify" and payload["use_activation"] is False and payload["model"] == "tiny-rm"
    limit = max_length(local_rm.tokenizer)
    assert payload["input"] == [pair_ids(local_rm.tokenizer, PROMPT, r, limit)["input_ids"] for r in REPLIES]
    assert "<|im_start|>assistant" in local_rm.tokenizer.decode(payload["input"][1]), "the chat template formats it"
    assert scores == pytest.approx(local_rm.score(PROMPT, REPLIES), abs=1e-4)
    assert len(set(scores)) == len(REPLIES)


def _reply(data):
    return lambda path, payload: data


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ({"data": [{"index": 0, "probs": [0.1]}]}, "returned 1 scores for 4 inputs"),
        ({"data": [{"index": i, "probs": [math.nan]} for i in range(4)]}, "NaN"),
        ({"data": [{"index": i, "probs": [0.1, 0.2]} for i in range(4)]}, "exactly one score"),
        ({"data": [{"index": i, "probs": ["x"]} for i in range(4)]}, r"Expected `float`, got `str` - at `\$.data\[0\]"),
        ({"error": "oops"}, "missing required field `data`"),
    ],
    ids=["too-few", "nan", "two-logits", "not-a-number", "no-data"],
)
def test_a_malformed_classify_reply_is_one_line(served_rm, reply, message):
    served, stub = served_rm
    stub.fault = _reply(reply)
    with pytest.raises(ServerError, match=message) as info:
        served.score(PROMPT, REPLIES)
    assert "\n" not in str(info.value) and str(info.value).startswith("http://stub: ")


@pytest.mark.real
def test_the_rubric_over_served_vectors_scores_as_in_process(real_reward):
    stub = PoolingStub(embed=real_reward.embed)
    served = RubricReward(ServedEmbedder(stub, "minilm"), real_reward.rubric, "served rubric")
    exemplars = [p["input"] for _, p in stub.requests]
    assert exemplars == [real_reward.rubric.prefer, real_reward.rubric.avoid]
    stub.requests.clear()
    for _ in range(3):
        assert served.score(PROMPT, REPLIES) == pytest.approx(real_reward.score(PROMPT, REPLIES), abs=1e-5)
    sent = [p["input"] for _, p in stub.requests]
    assert sent == [REPLIES, [PROMPT], REPLIES, REPLIES], "exemplars once per rubric, the prompt once"
    assert all(p["truncate_prompt_tokens"] == 256 for _, p in stub.requests)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ({"data": [{"index": 0, "embedding": [1.0, 0.0]}]}, "returned 1 vectors for 2 inputs"),
        ({"data": [{"index": i, "embedding": [math.nan, 1.0]} for i in range(2)]}, "NaN"),
        ({"data": [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [1.0, 2.0]}]}, "malformed"),
    ],
    ids=["too-few", "nan", "ragged"],
)
def test_a_malformed_embeddings_reply_is_one_line(reply, message):
    stub = PoolingStub()
    stub.fault = _reply(reply)
    with pytest.raises(ServerError, match=message):
        ServedEmbedder(stub, "minilm")(["a", "b"])


def test_a_reward_server_failing_mid_run_fails_the_run_and_keeps_its_attempts(tmp_path, served_rm):
    served, stub = served_rm
    calls = []

    def down_after_three(path, payload):
        calls.append(path)
        if len(calls) > 3:
            raise ServerError("http://stub", "server not reachable (connection refused: is the server running?)")
        return {"data": [{"index": i, "probs": [0.0]} for i in range(len(payload["input"]))]}

    stub.fault = down_after_three
    db = tmp_path / "s.db"
    recorder = Recorder(db)
    params = Params(seed=3, segment_tokens=2, max_new_tokens=20, candidates_per_round=2, max_attempts=2,
                    threshold=5.0, threshold_mode="fixed")
    events = list(recorder.record(run(ScriptedPolicy(), served, [{"role": "user", "content": "hi"}], params)))
    assert isinstance(events[-1], RunFailed)
    started = events[0]
    assert (started.reward_server_url, started.served_reward) == ("http://stub", "tiny-rm")
    assert events[-1].message.endswith("server not reachable (connection refused: is the server running?)")
    scored = [e for e in events if isinstance(e, AttemptScored)]
    assert len(scored) == 4  # the baseline call, then two rounds of two, then the failure
    with open_store(db) as store:
        run_row = store.get_run(recorder.run_id)
        assert run_row.status == "failed"
        replayed = store.run_events(recorder.run_id)
    assert replayed[0] == started, "where the reward ran is stored with the run"
    assert [e for e in replayed if isinstance(e, AttemptScored)] == scored


def test_a_served_reward_name_needs_a_reward_server():
    from stars_engine.backends.reward import load_reward
    from stars_engine.backends.spec import ModelSpec
    from stars_engine.errors import StarsError

    with pytest.raises(StarsError, match="--served-reward needs --reward-server"):
        load_reward(ModelSpec(served_reward="minilm"))


@pytest.mark.real
def test_a_reward_server_that_is_down_is_one_error_line(monkeypatch, capsys):

    from stars_engine.backends.served.launch import free_port
    from stars_tui import cli

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "hi", "--no-save", "--reward-server", url])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    *notes, last = err.splitlines()  # a first load on a new machine notes its one-time work ("…") first
    assert all(note.endswith("…") for note in notes), notes
    assert last == f"error: {url}/v1/models: server not reachable (connection refused: is the server running?)"


@pytest.mark.parametrize("kind", ["classifier", "rubric"])
def test_concurrent_runs_overlap_their_reward_requests(served_rm, kind):
    """The bench's --concurrency: two threads' requests are on the wire at once (neither waits on the
    other), which the barrier proves; if the served reward serialised them, it would break."""
    import threading

    import torch

    from stars_engine.backends.served.reward import ServedEmbedder

    served, stub = served_rm
    both_in_flight = threading.Barrier(2, timeout=30)

    def answer(path, payload):
        both_in_flight.wait()
        if path == "/classify":
            return {"data": [{"index": i, "probs": [0.5]} for i in range(len(payload["input"]))]}
        return {"data": [{"index": i, "embedding": [1.0, 0.0]} for i in range(len(payload["input"]))]}

    if kind == "rubric":
        served = ServedEmbedder(stub, "minilm", served.tokenizer)
    stub.fault = answer
    results, errors = [], []

    def call():
        try:
            results.append(served.score(PROMPT, REPLIES) if kind == "classifier" else served(REPLIES))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 2
    if kind == "rubric":
        assert all(torch.equal(r, results[0]) for r in results)
