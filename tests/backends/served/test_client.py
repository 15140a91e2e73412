"""The HTTP client's error handling, against a small in-process server that misbehaves on purpose.

The real server's behaviour is tested in the ``served`` tests; this file only
injects faults that a healthy vLLM will not produce on demand.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from stars_engine.backends.served import client as client_module
from stars_engine.backends.served.client import ServerClient, ServerError, server_message
from stars_engine.backends.served.launch import free_port
from stars_engine.errors import StarsError

from .fake_server import fake_server, ok


def test_get_and_post_return_parsed_json_and_list_models():
    def answer(path, _n):
        return ok({"data": [{"id": "m1"}, {"id": "m2"}]}) if path == "/v1/models" else ok({"echo": path})

    with fake_server(answer) as (url, _):
        client = ServerClient(url)
        assert client.served_models() == ["m1", "m2"]
        assert client.post("/v1/completions", {"x": 1}) == {"echo": "/v1/completions"}


def test_a_down_server_is_one_line_naming_the_url():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServerError) as err:
        ServerClient(url, retries=1, backoff=0.01).get("/v1/models")
    message = str(err.value)
    assert isinstance(err.value, StarsError)
    assert url in message and "refused" in message and "\n" not in message


def test_an_http_error_carries_the_servers_own_message():
    body = json.dumps({"error": {"message": "The model `nope` does not exist.", "code": 404}}).encode()
    with fake_server(lambda p, n: (404, body)) as (url, calls):
        with pytest.raises(ServerError) as err:
            ServerClient(url, retries=3, backoff=0.01).post("/v1/completions", {})
    assert str(err.value) == f"{url}/v1/completions: HTTP 404: The model `nope` does not exist."
    assert err.value.status == 404
    assert len(calls) == 1  # a client error is not retried


@pytest.mark.parametrize("status", [502, 503, 504])
def test_transient_statuses_are_retried_then_succeed(status):
    with fake_server(lambda p, n: (status, b"busy") if n < 3 else ok({"done": n})) as (url, calls):
        assert ServerClient(url, retries=3, backoff=0.01).get("/x") == {"done": 3}
    assert len(calls) == 3


def test_retries_are_bounded_and_the_last_error_is_raised():
    with fake_server(lambda p, n: (503, b'{"detail": "overloaded"}')) as (url, calls):
        with pytest.raises(ServerError, match=r"HTTP 503: overloaded"):
            ServerClient(url, retries=2, backoff=0.01).get("/x")
    assert len(calls) == 3


def test_a_dropped_connection_is_retried():
    with fake_server(lambda p, n: (0, b"") if n == 1 else ok({"n": n})) as (url, calls):
        assert ServerClient(url, retries=2, backoff=0.01).get("/x") == {"n": 2}
    assert len(calls) == 2


def test_a_server_error_500_is_not_retried():
    with fake_server(lambda p, n: (500, b'{"message": "EngineCore died"}')) as (url, calls):
        with pytest.raises(ServerError, match="HTTP 500: EngineCore died"):
            ServerClient(url, retries=3, backoff=0.01).get("/x")
    assert len(calls) == 1


def test_a_timeout_is_one_line():
    def slow(path, n):
        time.sleep(1.0)
        return ok({})

    with fake_server(slow) as (url, _):
        with pytest.raises(ServerError, match=r"no reply within 0.2 s \(timed out\)"):
            ServerClient(url, timeout=0.2, retries=0).get("/x")


def test_an_unparseable_reply_is_one_line():
    with fake_server(lambda p, n: (200, b"<html>proxy</html>")) as (url, _):
        with pytest.raises(ServerError, match="unparseable reply"):
            ServerClient(url).get("/x")


def test_the_client_is_safe_to_share_between_threads():
    with fake_server(lambda p, n: ok({"path": p})) as (url, _):
        client = ServerClient(url)
        results: dict[int, object] = {}

        def call(i: int) -> None:
            results[i] = client.get(f"/p{i}")

        threads = [threading.Thread(target=call, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results == {i: {"path": f"/p{i}"} for i in range(16)}


@pytest.mark.parametrize(
    "body, expected",
    [
        (b'{"error": {"message": "bad\\n  thing"}}', "bad thing"),
        (b'{"object": "error", "message": "m"}', "m"),
        (b'{"detail": [{"loc": 1}]}', "[{'loc': 1}]"),
        (b"plain text\nreply", "plain text reply"),
    ],
)
def test_server_message_is_one_line(body, expected):
    assert server_message(body) == expected


def test_requests_one_after_another_share_one_kept_alive_connection():
    peers: list[int] = []
    with fake_server(lambda p, n: ok({"n": n}), keep_alive=True, peers=peers) as (url, _):
        client = ServerClient(url)
        assert [client.get("/x") for _ in range(5)] == [{"n": n} for n in range(1, 6)]
    assert len(set(peers)) == 1


def test_without_keep_alive_every_request_has_its_own_connection():
    peers: list[int] = []
    with fake_server(lambda p, n: ok({"n": n}), keep_alive=True, peers=peers) as (url, _):
        client = ServerClient(url, keep_alive=False)
        for _ in range(3):
            client.get("/x")
    assert len(set(peers)) == 3


def test_a_connection_the_server_closed_while_idle_is_replaced_without_a_retry():
    peers: list[int] = []
    with fake_server(lambda p, n: ok({"n": n}), keep_alive=True, peers=peers, idle_timeout=0.1) as (url, calls):
        client = ServerClient(url, retries=0)
        assert client.get("/x") == {"n": 1}
        time.sleep(0.4)  # the server has closed the idle connection; the client still holds it
        assert client.get("/x") == {"n": 2}
    assert len(calls) == 2 and peers[0] != peers[1]


def test_a_drop_on_a_fresh_connection_is_not_sent_again_outside_the_retries():
    peers: list[int] = []
    with fake_server(lambda p, n: (0, b"") if n > 1 else ok({}), keep_alive=True, peers=peers) as (url, calls):
        client = ServerClient(url, retries=0)
        client.get("/x")
        with pytest.raises(ServerError, match="connection lost"):
            client.get("/x")
    # the kept connection was dropped: sent once more on a new connection, which was dropped too
    assert len(calls) == 3 and peers[0] == peers[1] != peers[2]


def test_idle_connections_past_their_age_are_not_reused(monkeypatch):
    monkeypatch.setattr(client_module, "IDLE_SECONDS", 0.0)
    peers: list[int] = []
    with fake_server(lambda p, n: ok({}), keep_alive=True, peers=peers) as (url, _):
        client = ServerClient(url)
        for _ in range(3):
            client.get("/x")
    assert len(set(peers)) == 3


def test_the_deadline_holds_on_a_reused_connection_and_the_next_request_gets_a_new_one():
    def answer(path, n):
        if n == 2:
            time.sleep(1.0)
        return ok({"n": n})

    peers: list[int] = []
    with fake_server(answer, keep_alive=True, peers=peers) as (url, _):
        client = ServerClient(url, timeout=0.3, retries=0)
        assert client.get("/x") == {"n": 1}
        with pytest.raises(ServerError, match=r"no reply within 0.3 s \(timed out\)"):
            client.get("/x")
        assert client.get("/x") == {"n": 3}
    assert peers[0] == peers[1] != peers[2]


def test_an_error_reply_returns_its_connection_only_when_read_whole():
    peers: list[int] = []
    big = b'{"message": "' + b"x" * (client_module.MAX_ERROR_BYTES * 2) + b'"}'
    replies = {1: (404, b'{"message": "no"}'), 2: (400, big)}
    with fake_server(lambda p, n: replies.get(n, ok({})), keep_alive=True, peers=peers) as (url, _):
        client = ServerClient(url, retries=0)
        for _ in range(2):
            with pytest.raises(ServerError, match="HTTP 4"):
                client.get("/x")
        client.get("/x")
    assert peers[0] == peers[1] != peers[2]  # the cut reply's connection was closed, not reused


def test_close_closes_the_idle_connections():
    with fake_server(lambda p, n: ok({}), keep_alive=True) as (url, _):
        client = ServerClient(url)
        client.get("/x")
        [(_, connection)] = client._idle
        client.close()
        assert connection.sock is None and not client._idle
