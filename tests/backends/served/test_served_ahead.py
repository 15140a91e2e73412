"""A one-candidate round's next request, sent ahead while the candidate is scored, against a stand-in vLLM.

The stand-in draws ids from the prompt and the seed alone, as a seeded server
does, so a request sent ahead and one sent later on the same prefix answer the
same; what these tests check is which requests are sent, in which order, and
that every run reads the same replies with and without sending ahead.
"""

from __future__ import annotations

import time

import pytest

from stars_engine.backends.served.client import ServerClient, ServerError
from stars_engine.backends.served.policy import ServedPolicy, ServerCodec
from stars_engine.policy.base import Sampling

from .fake_server import fake_server, ok

SAMPLING = Sampling(temperature=0.8, top_p=0.95, top_k=50)
EOS_ID = 99


def vllm(fail_seeds=(), eos_after=None):
    """A stand-in whose completions' ids follow from the prompt and seed (with ``/tokenize``,
    ``/detokenize``); a request with a seed in ``fail_seeds`` gets an HTTP 500."""
    return lambda path, _n, request: answer(path, request, fail_seeds, eos_after)


def answer(path, request, fail_seeds, eos_after):
    if path == "/tokenize":
        return ok({"tokens": [1, 2, 3]})
    if path == "/detokenize":
        return ok({"prompt": " ".join(map(str, request["tokens"]))})
    if request["seed"] in fail_seeds:
        return 500, b'{"message": "engine died"}'
    choices = []
    for index in range(request["n"]):
        ids = [(sum(request["prompt"]) + request["seed"] + 7 * index + i) % 50 for i in range(request["max_tokens"])]
        ended = eos_after is not None and len(request["prompt"]) + len(ids) >= eos_after
        if ended:
            ids[-1] = EOS_ID
        choices.append({"index": index, "token_ids": ids, "finish_reason": "stop" if ended else "length"})
    return ok({"choices": choices})


def served(url: str, ahead: bool) -> ServedPolicy:
    client = ServerClient(url)
    return ServedPolicy(client, "m", ServerCodec(client, "m"), ahead=ahead)


def play(policy: ServedPolicy, verdicts: str, n: int = 1) -> list[tuple[int, ...]]:
    """Rounds of ``n`` candidates: ``a`` commits the first, ``r`` discards the round."""
    policy.start([{"role": "user", "content": "hi"}], seed=5)
    seen = []
    for verdict in verdicts:
        candidates = policy.sample(n, 4, SAMPLING)
        seen.append(candidates[0].token_ids)
        if verdict == "a":
            policy.commit(candidates[0])
        else:
            policy.discard()
    return seen


def completions(paths: list[str]) -> int:
    return sum(p == "/v1/completions" for p in paths)


@pytest.mark.parametrize("verdicts", ["aaaa", "arar", "rrra", "aarr"])
def test_runs_read_the_same_replies_and_record_the_same_requests_with_and_without_sending_ahead(verdicts):
    with fake_server(vllm()) as (url, calls):
        plain = served(url, ahead=False)
        replies = play(plain, verdicts)
        plain_sent = completions(calls)
        calls.clear()
        ahead = served(url, ahead=True)
        assert play(ahead, verdicts) == replies
        assert ahead.requests == plain.requests
        assert ahead.reply_ids == plain.reply_ids
        taken = sum(v == "a" for v in verdicts[:-1])  # an accepted round's next request is the one sent ahead
        expected = len(verdicts) + (len(verdicts) - taken)
        deadline = time.monotonic() + 5
        while completions(calls) < expected and time.monotonic() < deadline:  # the last one is on its own thread
            time.sleep(0.01)
    assert ahead.ahead_used == taken
    assert plain_sent == len(verdicts) and completions(calls) == expected


def test_a_rejected_rounds_request_sent_ahead_is_counted_as_wasted_tokens():
    with fake_server(vllm()) as (url, _):
        policy = served(url, ahead=True)
        play(policy, "r")
        deadline = time.monotonic() + 5
        while policy.ahead_wasted == 0 and time.monotonic() < deadline:  # its reply comes in on its own thread
            time.sleep(0.01)
    assert policy.ahead_wasted == 4 and policy.ahead_used == 0


def test_rounds_of_several_candidates_and_rounds_that_ended_send_nothing_ahead():
    with fake_server(vllm()) as (url, calls):
        play(served(url, ahead=True), "aa", n=3)
        assert completions(calls) == 2
        calls.clear()
    with fake_server(vllm(eos_after=6)) as (url, calls):
        policy = served(url, ahead=True)
        policy.start([{"role": "user", "content": "hi"}], seed=5)
        [candidate] = policy.sample(1, 4, SAMPLING)
        assert candidate.eos
        assert completions(calls) == 1


def test_a_request_sent_ahead_that_failed_is_raised_only_if_it_is_taken():
    with fake_server(vllm()) as (url, _):
        probe = served(url, ahead=False)
        play(probe, "aa")
        second_seed = probe.requests[1]["seed"]
    with fake_server(vllm(fail_seeds=(second_seed,))) as (url, _):
        policy = served(url, ahead=True)
        with pytest.raises(ServerError, match="HTTP 500: engine died"):
            play(policy, "aa")
    # rejected, the failed request is dropped and the retry (the same request on the old prefix) fails alike
    with fake_server(vllm(fail_seeds=(second_seed,))) as (url, _):
        with pytest.raises(ServerError, match="HTTP 500"):
            play(served(url, ahead=True), "ra")


def test_a_new_run_drops_what_the_last_one_sent_ahead():
    with fake_server(vllm()) as (url, calls):
        policy = served(url, ahead=True)
        first = play(policy, "aa")
        assert play(policy, "aa") == first  # the same seed: the same run, nothing taken from the one before
        assert policy.ahead_used == 2
