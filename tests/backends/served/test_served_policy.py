"""The served chat backend against a real vLLM server on the bundled model."""

from __future__ import annotations

import pytest
from decoding.checks import check_stream

from stars_engine import engine
from stars_engine.backends.served.connect import served_policies
from stars_engine.backends.served.policy import LocalCodec, ServedPolicy, ServerCodec
from stars_engine.events import AttemptScored, RunFailed, RunFinished, SegmentAccepted
from stars_engine.params import Params

from .servers import POLICY_NAME

pytestmark = [pytest.mark.served, pytest.mark.real]

MESSAGES = [{"role": "user", "content": "Give one tip for staying focused while studying."}]
STARS = Params(seed=11, strategy="stars", segment_tokens=8, max_new_tokens=32, candidates_per_round=2,
               max_attempts=4, threshold=0.45, threshold_mode="schedule")


def attempts(events) -> list[tuple]:
    """Every scored attempt, without its timing."""
    return [(a.segment, a.attempt, a.text, a.tokens, a.reward, a.verdict, a.eos) for a in events
            if isinstance(a, AttemptScored)]


def events_of(policy, reward, params: Params, messages=MESSAGES) -> list:
    return list(engine.run(policy, reward, messages, params))


@pytest.fixture(scope="module")
def policy(vllm_url) -> ServedPolicy:
    [served] = served_policies([vllm_url])
    return served


def test_the_stream_is_well_formed_and_the_reply_is_the_models_text(policy, real_reward, vllm_url):
    events = events_of(policy, real_reward, STARS)
    assert not isinstance(events[-1], RunFailed), events[-1]
    check_stream(events, STARS)
    started, finished = events[0], events[-1]
    assert (started.backend, started.server_url, started.served_model) == ("vllm", vllm_url, POLICY_NAME)
    assert started.policy_id == f"vllm:{POLICY_NAME}"
    assert isinstance(policy.codec, LocalCodec)  # the server's folder is on this machine
    # the reply is what the server generated: its accepted ids decoded by the model's tokenizer
    assert finished.text.strip()
    assert finished.text == policy.codec.tokenizer.decode(policy.reply_ids, skip_special_tokens=True)
    # and the prompt went as the chat template's ids, counted the same way
    assert started.prompt_tokens == len(policy.codec.encode_chat(MESSAGES)) == len(policy.prompt_ids)


def test_each_request_sends_the_prompt_plus_the_accepted_segments(policy, real_reward):
    """Rejected rounds free nothing and exhausted segments commit an earlier round's best:
    either way the next request's prompt is exactly the prompt and what was accepted."""
    committed: list[tuple[int, tuple[int, ...]]] = []  # (requests sent so far, ids committed)
    original = policy.commit

    def spy(candidate):
        committed.append((len(policy.requests), candidate.token_ids))
        original(candidate)

    policy.commit = spy
    try:
        params = STARS.with_changes(threshold=0.99, threshold_mode="fixed")  # every segment exhausts
        events = events_of(policy, real_reward, params)
    finally:
        del policy.commit
    assert isinstance(events[-1], RunFinished), events[-1]
    segments = [e for e in events if isinstance(e, SegmentAccepted)]
    assert segments and all(s.exhausted for s in segments)
    assert len(policy.requests) == 2 * len(segments)  # two rounds of two per segment: one rejected round each
    for sent, request in enumerate(policy.requests):
        accepted = [t for before, ids in committed if before <= sent for t in ids]
        assert request["prompt"] == policy.prompt_ids + accepted
    assert policy.reply_ids == [t for _, ids in committed for t in ids]


def test_the_same_seed_gives_the_same_reply(policy, real_reward):
    first = events_of(policy, real_reward, STARS)
    second = events_of(policy, real_reward, STARS)
    other = events_of(policy, real_reward, STARS.with_changes(seed=12))

    assert attempts(first) == attempts(second)
    assert first[-1].text == second[-1].text
    assert attempts(other) != attempts(first)


def test_the_servers_tokenizer_gives_the_same_prompt_and_reply(policy, vllm_url, real_reward):
    """Without local files the server tokenizes and detokenizes; the run is the same."""
    remote = ServedPolicy(policy.client, POLICY_NAME, ServerCodec(policy.client, POLICY_NAME), policy.context_length)
    params = STARS.with_changes(max_new_tokens=16)
    here, there = events_of(policy, real_reward, params), events_of(remote, real_reward, params)
    assert isinstance(there[-1], RunFinished), there[-1]
    assert remote.prompt_ids == policy.prompt_ids
    assert attempts(there) == attempts(here)
    assert there[-1].text == here[-1].text


def test_best_of_n_is_one_request(policy, real_reward):
    params = Params(seed=3, strategy="best-of-n", best_of_n=4, max_new_tokens=16)
    events = events_of(policy, real_reward, params)
    assert isinstance(events[-1], RunFinished), events[-1]
    assert [r["n"] for r in policy.requests] == [4]
    assert len([e for e in events if isinstance(e, AttemptScored)]) == 4
