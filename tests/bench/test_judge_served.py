"""The chat judge and ``rm:URL`` on a server, against a stand-in server that answers what each test
says: which requests go out, how a letter outside the top 20 is read, and lying replies as one line
(the real vLLM server: tests/backends/served/test_served_judges.py)."""

from __future__ import annotations

import pytest
from backends.served.fake_server import fake_server, ok
from backends.served.reward_models import build_tiny_rm

from stars_engine.backends.served.client import ServerClient
from stars_engine.backends.served.policy import LocalCodec, ServedPolicy
from stars_engine.bench.heldout import build_judges, check_judges, parse_judges
from stars_engine.bench.judge import LETTERS, compare, judge_messages
from stars_engine.bench.judge_served import ServedChatJudge
from stars_engine.errors import StarsError

PROMPT, GOOD, BAD = "How do I boil an egg?", "Boil it for nine minutes.", "Go away."


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from stars_engine.weights.convert import default_policy_dir

    return AutoTokenizer.from_pretrained(default_policy_dir())


def served_judge(url: str, tokenizer) -> ServedChatJudge:
    policy = ServedPolicy(ServerClient(url, retries=0), "m", LocalCodec(tokenizer))
    return build_judges(["chat"], policy, None)["chat"]


def top(logprobs: dict[int, float]) -> dict:
    """A completions reply of one token whose top list is ``logprobs``."""
    listed = {f"token_id:{token}": value for token, value in logprobs.items()}
    return {"choices": [{"index": 0, "text": "A", "logprobs": {"tokens": ["token_id:1"], "top_logprobs": [listed]}}]}


def test_the_served_chat_judge_reads_both_letters_from_the_top_list_in_both_orders(tokenizer):
    a, b = (tokenizer.encode(letter, add_special_tokens=False)[0] for letter in LETTERS)
    asked = []

    def answer(path, n, request):
        asked.append(request)
        good_first = GOOD in tokenizer.decode(request["prompt"]).split("Reply B")[0]
        return ok(top({a: -0.5, b: -2.5, 7: -3.0} if good_first else {a: -0.9, b: -1.4, 7: -3.0}))

    with fake_server(answer) as (url, _paths):
        judge = served_judge(url, tokenizer)
        assert judge.judge_id == "pairwise chat judge (vllm:m), mean log-odds of both orders, tie below 0.1"
        verdict = compare(judge, PROMPT, GOOD, BAD)
    assert len(asked) == 2  # one request per order: both letters were in the top list
    assert all(r["max_tokens"] == 1 and r["logprobs"] == 20 and r["return_tokens_as_token_ids"] for r in asked)
    assert asked[0]["prompt"] == LocalCodec(tokenizer).encode_chat(judge_messages(PROMPT, GOOD, BAD))
    assert asked[1]["prompt"] == LocalCodec(tokenizer).encode_chat(judge_messages(PROMPT, BAD, GOOD))
    # good first: A by 2.0; good second: still A (the bad reply) by 0.5, so -0.5 for the good one
    assert (verdict.as_first, verdict.as_second) == pytest.approx((2.0, -0.5))
    assert verdict.margin == pytest.approx(0.75) and verdict.outcome == "win"
    assert verdict.position_bias == pytest.approx(1.25)


def test_a_letter_outside_the_top_list_is_asked_for_exactly_not_guessed(tokenizer):
    a, b = (tokenizer.encode(letter, add_special_tokens=False)[0] for letter in LETTERS)
    asked = []

    def answer(path, n, request):
        asked.append(request)
        if "prompt_logprobs" in request:  # the second request: the prompt ends with the missing letter
            ids = request["prompt"]
            return ok({"choices": [{"index": 0, "prompt_logprobs": [None] * (len(ids) - 1)
                                    + [{str(ids[-1]): {"logprob": -12.0, "rank": 900}}]}]})
        return ok(top({a: -0.1, 5: -3.0}))

    with fake_server(answer) as (url, _paths):
        judge = served_judge(url, tokenizer)
        assert judge.prefer(PROMPT, GOOD, BAD) == pytest.approx(-0.1 - -12.0)
    first, second = asked
    assert second["prompt"] == [*first["prompt"], b] and second["prompt_logprobs"] == 0


@pytest.mark.parametrize("reply, message", [
    (top({1: 0.5}), "not what a vLLM server sends"),  # a log-probability above 0
    ({"choices": [{"index": 0, "logprobs": {"tokens": [], "top_logprobs": [{"A": -0.1}]}}]}, "not token_id:N"),
    ({"choices": [{"index": 0, "logprobs": None}]}, "the reply has none"),
    ({"choices": []}, "asked for 1 completion, got 0"),
    ({"choices": [{"index": 0, "logprobs": {"tokens": [], "top_logprobs": "\x1b[31mred"}}]},
     "not what a vLLM server sends"),
])
def test_a_reply_without_usable_log_probabilities_is_one_line(tokenizer, reply, message):
    with fake_server(lambda path, n: ok(reply)) as (url, _paths):
        judge = served_judge(url, tokenizer)
        with pytest.raises(StarsError, match=message) as refused:
            judge.prefer(PROMPT, GOOD, BAD)
    assert len(str(refused.value).splitlines()) == 1 and "\x1b" not in str(refused.value)


def test_a_missing_letter_the_second_reply_does_not_give_is_one_line(tokenizer):
    def answer(path, n, request):
        if "prompt_logprobs" in request:
            return ok({"choices": [{"index": 0, "prompt_logprobs": [None, {"3": {"logprob": -1.0}}]}]})
        return ok(top({5: -0.2}))

    with fake_server(answer) as (url, _paths), pytest.raises(StarsError, match="none for token"):
        served_judge(url, tokenizer).prefer(PROMPT, GOOD, BAD)


@pytest.fixture(scope="module")
def tiny_rm(tmp_path_factory):
    return build_tiny_rm(tmp_path_factory.mktemp("served-judge-rm") / "rm")


def models(*cards: dict) -> dict:
    return {"object": "list", "data": list(cards)}


def test_an_rm_url_judge_scores_through_the_served_reward_client(tiny_rm):
    from stars_engine.reward.pairs import max_length, pair_ids

    sent = []

    def answer(path, n, request):
        if path == "/v1/models":
            return ok(models({"id": "judge-rm", "root": str(tiny_rm), "max_model_len": 1024}))
        sent.append(request)
        return ok({"data": [{"index": i, "probs": [float(len(ids))]} for i, ids in enumerate(request["input"])]})

    with fake_server(answer) as (url, _paths):
        name = f"rm:{url}"
        assert parse_judges(f"chat,{name}") == ["chat", name]
        check_judges([name])
        judge = build_judges([name], None, None)[name]
        verdict = compare(judge, PROMPT, GOOD, BAD)
    assert judge.judge_id == f"reward judge ({tiny_rm} (vllm:judge-rm))"
    from transformers import AutoTokenizer

    rm_tokenizer = AutoTokenizer.from_pretrained(tiny_rm)
    ids = [pair_ids(rm_tokenizer, PROMPT, r, max_length(rm_tokenizer))["input_ids"] for r in (GOOD, BAD)]
    assert sent[-1] == {"model": "judge-rm", "input": [ids[1], ids[0]], "use_activation": False}
    assert verdict.margin == pytest.approx(len(ids[0]) - len(ids[1])) and verdict.position_bias == 0


@pytest.mark.parametrize("cards, message", [
    ([{"id": "a", "root": "/x"}, {"id": "b", "root": "/y"}], "needs a server of one model; it serves a, b"),
    ([{"id": "a"}], "does not say which folder a was started on"),
    ([{"id": "a", "root": "/no/such/folder"}], "path does not exist"),
])
def test_an_rm_url_judge_that_cannot_score_is_one_line(cards, message):
    with fake_server(lambda path, n: ok(models(*cards))) as (url, _paths):
        with pytest.raises(StarsError, match=message) as refused:
            build_judges([f"rm:{url}"], None, None)
    assert len(str(refused.value).splitlines()) == 1 and f"rm:{url}" in str(refused.value)


def test_a_malformed_rm_url_is_refused_before_any_request():
    with pytest.raises(StarsError, match="is not a server URL"):
        check_judges(["rm:http://"])


def test_the_bench_refuses_a_malformed_rm_url_in_one_line_with_exit_2(capsys):
    from stars_tui import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", "--judge", "chat,rm:https://:80"])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err == "error: --judge rm: 'https://:80' is not a server URL: use " \
                                               "http://HOST:PORT or https://HOST:PORT"
