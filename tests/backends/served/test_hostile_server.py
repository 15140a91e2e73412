"""A server that lies, stalls or floods: every reply is checked in one place and refused in one line.

A fake server injects each fault (no vLLM is started): URLs that are not
http(s), cards and replies of the wrong shape, replies longer than asked or
with ids outside the vocabulary, deeply nested JSON, bodies past the cap, a
server that drips a byte at a time, and error text carrying escape sequences.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fakes import ScriptedReward

from stars_engine import engine
from stars_engine.backends.served.client import MAX_REPLY_BYTES, ServerClient, ServerError
from stars_engine.backends.served.connect import served_policies
from stars_engine.backends.served.policy import ServedPolicy, ServerCodec
from stars_engine.errors import StarsError
from stars_engine.events import RunFailed
from stars_engine.params import Params
from stars_engine.policy.base import Sampling

from .fake_server import Drip, fake_server, ok, raw

PROMPT = [{"role": "user", "content": "hi"}]
ESCAPES = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\x1b]8;;http://evil/\x07link\x1b]8;;\x07"


def card_server(card=None, tokens=None, completion=None):
    """/v1/models with ``card``, /tokenize with ``tokens``, /v1/completions with ``completion``."""
    card = card if card is not None else {"id": "m", "max_model_len": 64}

    def answer(path, _n):
        if path == "/v1/models":
            return ok({"data": [card]})
        if path == "/tokenize":
            return ok(tokens if tokens is not None else {"tokens": [1, 2, 3]})
        if path == "/detokenize":
            return ok({"prompt": "x"})
        return ok(completion)

    return answer


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "localhost:8000", "127.0.0.1:8000",
                                 "http://", "http://127.0.0.1:port", "", "javascript:alert(1)"])
def test_a_url_that_is_not_http_is_refused_in_one_line(url):
    with pytest.raises(StarsError, match="is not a server URL: use http://HOST:PORT or https://HOST:PORT") as info:
        served_policies([url])
    assert "\n" not in str(info.value)


def test_a_url_with_escapes_is_refused_with_them_visible():
    with pytest.raises(StarsError) as info:
        ServerClient("ftp://x" + ESCAPES)
    assert "\x1b" not in str(info.value) and "\\x1b" in str(info.value)


@pytest.mark.parametrize("value", ["4096", 4096.5, -1, 10**30, 2**31, [1], {"n": 1}, True])
def test_a_card_whose_max_model_len_is_not_a_count_is_one_line(value):
    with fake_server(card_server({"id": "m", "max_model_len": value})) as (url, _):
        with pytest.raises(ServerError, match=r"/v1/models: the reply to /v1/models is not what a vLLM server sends: "
                                              r"Expected .* at `\$.data\[0\].max_model_len`"):
            served_policies([url])


@pytest.mark.parametrize("card", [{"name": "m"}, {"id": 5}, {"id": "m", "root": 7}, "m"])
def test_a_card_of_the_wrong_shape_is_one_line(card):
    with fake_server(card_server(card)) as (url, _):
        with pytest.raises(ServerError, match=r"is not what a vLLM server sends: .* `\$.data\[0\]"):
            served_policies([url])


@pytest.mark.parametrize("tokens", [{"tokens": "1 2 3"}, {"tokens": [1.5]}, {"tokens": [-1]}, {"tokens": [2**40]},
                                    {"ids": [1]}, [1, 2]])
def test_tokenize_giving_the_wrong_type_is_one_line(tokens):
    with fake_server(card_server(tokens=tokens)) as (url, _):
        [policy] = served_policies([url])
        with pytest.raises(ServerError, match=r"/tokenize: the reply to /tokenize is not what a vLLM server sends"):
            policy.check_prompt(PROMPT, 8)


def test_a_reply_longer_than_max_tokens_is_refused():
    long = {"choices": [{"index": 0, "token_ids": list(range(10, 30)), "finish_reason": "length"}]}
    with fake_server(card_server(completion=long)) as (url, _):
        [policy] = served_policies([url])
        policy.start(PROMPT, 0)
        with pytest.raises(ServerError, match="asked for at most 4 tokens, got 20"):
            policy.sample(1, 4, Sampling())


@pytest.mark.parametrize(("ids", "bad"), [([5, 100], 100), ([5, 2**31 - 1], 2**31 - 1)])
def test_token_ids_outside_the_vocabulary_are_refused(ids, bad):
    reply = {"choices": [{"index": 0, "token_ids": ids, "finish_reason": "length"}]}
    with fake_server(card_server(completion=reply)) as (url, _):
        client = ServerClient(url)
        policy = ServedPolicy(client, "m", ServerCodec(client, "m"), 64, vocab_size=100)
        policy.start(PROMPT, 0)
        with pytest.raises(ServerError, match=f"token id {bad}, outside the vocabulary \\(0 to 99\\)"):
            policy.sample(1, 4, Sampling())


@pytest.mark.parametrize("ids", [[-3], [2**31], ["7"], [1.5]])
def test_token_ids_that_are_not_int32_are_refused_whatever_the_tokenizer(ids):
    reply = {"choices": [{"index": 0, "token_ids": ids, "finish_reason": "length"}]}
    with fake_server(card_server(completion=reply)) as (url, _):
        [policy] = served_policies([url])
        policy.start(PROMPT, 0)
        with pytest.raises(ServerError, match=r"not what a vLLM server sends: .* `\$.choices\[0\].token_ids\[0\]`"):
            policy.sample(1, 4, Sampling())


def test_old_style_token_id_strings_outside_the_vocabulary_are_refused():
    reply = {"choices": [{"index": 0, "logprobs": {"tokens": ["token_id:-4"]}, "finish_reason": "length"}]}
    with fake_server(card_server(completion=reply)) as (url, _):
        [policy] = served_policies([url])
        policy.start(PROMPT, 0)
        with pytest.raises(ServerError, match="token id -4, outside the vocabulary"):
            policy.sample(1, 4, Sampling())


@pytest.mark.parametrize("depth", [2_000, 200_000])
def test_deeply_nested_json_is_one_line(depth):
    nested = b"[" * depth + b"]" * depth
    with fake_server(lambda p, n: (200, nested)) as (url, _):
        with pytest.raises(ServerError, match="nested too deeply"):
            ServerClient(url).get("/x")
        with pytest.raises(ServerError, match="not what a vLLM server sends|nested too deeply"):
            served_policies([url])


def test_a_body_past_the_cap_is_refused_as_it_streams():
    with fake_server(lambda p, n: (200, Drip(raw(b'"' + b"x" * 50_000 + b'"')))) as (url, _):
        with pytest.raises(ServerError, match="the reply passed the 10,000 bytes cap on a server reply"):
            ServerClient(url, max_reply=10_000).get("/x")


def test_a_declared_length_past_the_cap_is_refused_before_reading():
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 6000000000\r\n\r\n{"
    with fake_server(lambda p, n: (200, Drip(head))) as (url, _):
        with pytest.raises(ServerError, match="the reply is 6,000,000,000 bytes, over the 64 MiB cap"):
            ServerClient(url).get("/x")
    assert MAX_REPLY_BYTES == 64 * 2**20


@pytest.mark.parametrize("where", ["body", "status line"])
def test_the_timeout_is_a_deadline_for_the_whole_request(where):
    """A byte every 0.15 s never trips a 0.5 s socket timeout; the whole reply takes ~6 s."""
    reply = raw(json.dumps({"ok": "x" * 40}).encode())
    fast = reply.index(b"\r\n\r\n") + 4 if where == "body" else 0
    with fake_server(lambda p, n: (200, Drip(reply, every=0.15, fast=fast))) as (url, _):
        with pytest.raises(ServerError, match=r"no reply within 0.5 s \(timed out\)"):
            ServerClient(url, timeout=0.5, retries=0).get("/x")


def test_a_slow_but_complete_reply_within_the_deadline_is_read():
    reply = raw(b'{"ok": 1}')
    with fake_server(lambda p, n: (200, Drip(reply, every=0.005))) as (url, _):
        assert ServerClient(url, timeout=30, retries=0).get("/x") == {"ok": 1}


def test_a_servers_error_text_enters_as_one_visible_line():
    body = json.dumps({"error": {"message": f"bad\n{ESCAPES}\r\nthing"}}).encode()
    with fake_server(lambda p, n: (400, body)) as (url, _):
        with pytest.raises(ServerError) as info:
            ServerClient(url).post("/v1/completions", {})
    message = str(info.value)
    assert "\x1b" not in message and "\x07" not in message and "\n" not in message and "\r" not in message
    assert "\\x1b]52;c;" in message and "bad" in message and "thing" in message


def test_a_servers_error_text_in_a_run_fails_it_with_a_visible_line():
    refusal = 400, json.dumps({"error": {"message": ESCAPES}}).encode()

    def answer(path, n):
        return card_server()(path, n) if path in ("/v1/models", "/tokenize", "/detokenize") else refusal

    with fake_server(answer) as (url, _):
        [policy] = served_policies([url])
        events = list(engine.run(policy, ScriptedReward(), PROMPT, Params(seed=1, max_new_tokens=8)))
    assert isinstance(events[-1], RunFailed)
    assert "\x1b" not in events[-1].message and "\\x1b]52;c;" in events[-1].message


def test_the_cli_prints_a_servers_error_text_with_its_controls_visible(tmp_path):
    body = json.dumps({"error": {"message": "refused " + ESCAPES}}).encode()
    with fake_server(lambda p, n: (404, body)) as (url, _):
        proc = subprocess.run([sys.executable, "-m", "stars_tui", "run", "hi", "--server", url, "--no-save"],
                              capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "HTTP 404: refused \\x1b]52;c;" in proc.stderr


def test_an_error_body_nested_deeply_is_still_one_line():
    nested = b"[" * 100_000 + b"]" * 100_000
    with fake_server(lambda p, n: (400, nested)) as (url, _):
        with pytest.raises(ServerError, match=r"HTTP 400: \[\[\[") as info:
            ServerClient(url).get("/x")
    assert len(str(info.value)) < 400


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/", "https://gpu-box:8443", "http://[::1]:8000"])
def test_http_and_https_urls_are_taken(url):
    assert ServerClient(url).base_url == url.rstrip("/")
