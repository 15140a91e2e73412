"""A small JSON-over-HTTP client for a served model (vLLM's OpenAI-compatible server).

Standard library only. Connections are kept alive and pooled: a request takes
an idle connection (or opens one) and gives it back once its reply is read
whole, so a client is safe to share between threads (the bench keeps several
runs in flight) and a STARS run, one small request per segment, pays for a TCP
connect once instead of every round. A connection the server closed while it
sat idle is noticed on the next request and that request is sent again once on
a fresh connection. Transient failures are retried a bounded number of times;
everything else becomes one ``ServerError`` line that names the URL.

A server is a stranger: ``timeout`` is a deadline for the whole request (a
server that drips a byte at a time cannot hold a run forever), a reply body is
capped at ``MAX_REPLY_BYTES``, and ``decode`` checks a reply's shape against
``replies``. Its error text enters the program as one line with its control
characters made visible, so no printer can pass an escape sequence through.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.parse
from typing import Any, TypeVar

import msgspec

from ...display.controls import one_line
from ...errors import StarsError

T = TypeVar("T")

RETRY_STATUS = frozenset({502, 503, 504})
MAX_REPLY_BYTES = 64 * 2**20  # far above any real reply (a 64-way round of 4k tokens is ~5 MiB)
MAX_ERROR_BYTES = 64 * 2**10  # an error reply is only read for its message
CHUNK = 2**16
SCHEMES = {"http": http.client.HTTPConnection, "https": http.client.HTTPSConnection}
MAX_IDLE = 32  # idle connections kept per client (a bench keeps up to 16 requests in flight)
IDLE_SECONDS = 3.0  # an idle connection older than this is closed, not reused: servers drop them
# after a few seconds (uvicorn, under vLLM: 5 s), and a request sent into a closed one is lost


class ServerError(StarsError):
    """A served model failed: down, refused, timed out, or answered with an error."""

    def __init__(self, url: str, message: str, status: int | None = None):
        self.url = url
        self.status = status
        super().__init__(one_line(f"{url}: {message}"))


def check_url(url: str, option: str = "--server") -> str:
    """``url`` without a trailing slash, if it is an http(s) URL with a host; else one line."""
    refusal = StarsError(one_line(f"{option} {url!r} is not a server URL: use http://HOST:PORT or https://HOST:PORT"))
    try:
        parts = urllib.parse.urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:  # a port that is not a number, brackets that are not an IPv6 address
        raise refusal from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise refusal
    return url.strip().rstrip("/")


def decode(body: bytes, shape: Any, where: str, what: str = "the reply") -> Any:
    """``body`` as ``shape`` (a ``replies`` struct, or ``Any``); anything else is one ``ServerError`` line."""
    try:
        return msgspec.json.decode(body, type=shape)
    except msgspec.ValidationError as exc:
        raise ServerError(where, f"{what} is not what a vLLM server sends: {exc}") from None
    except msgspec.DecodeError:
        raise ServerError(where, f"unparseable reply: {body[:80]!r}") from None
    except RecursionError:
        raise ServerError(where, f"{what} is JSON nested too deeply to be a server's reply") from None


def convert(data: Any, shape: type[T], where: str, what: str = "the reply") -> T:
    """Already-parsed JSON (a stand-in server's answer) checked as ``shape``, as ``decode`` checks bytes."""
    try:
        return msgspec.convert(data, shape)
    except msgspec.ValidationError as exc:
        raise ServerError(where, f"{what} is not what a vLLM server sends: {exc}") from None


def server_message(body: bytes) -> str:
    """The server's own error text from an error reply, on one line."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return " ".join(text.split())[:300]
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            data = err
        elif isinstance(err, str):
            return " ".join(err.split())[:300]
        for key in ("message", "detail"):
            if key in data:
                return " ".join(str(data[key]).split())[:300]
    return " ".join(text.split())[:300]


def _size(count: int) -> str:
    return f"{count // 2**20} MiB" if count >= 2**20 and count % 2**20 == 0 else f"{count:,} bytes"


class ServerClient:
    """GET and POST JSON against one server, with bounded retries and one-line errors."""

    def __init__(
        self, base_url: str, *, timeout: float = 120.0, retries: int = 3, backoff: float = 0.5,
        max_reply: int = MAX_REPLY_BYTES, keep_alive: bool = True,
    ):
        self.base_url = check_url(base_url)
        parts = urllib.parse.urlsplit(self.base_url)
        self._connection = SCHEMES[parts.scheme]
        self._host, self._port, self._prefix = parts.hostname, parts.port, parts.path.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_reply = max_reply
        self.keep_alive = keep_alive  # False: a new connection per request (how requests were sent before)
        self._idle: list[tuple[float, http.client.HTTPConnection]] = []
        self._pool_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ServerClient({self.base_url!r})"

    def get(self, path: str, shape: Any = Any) -> Any:
        return self._call("GET", path, None, shape)

    def post(self, path: str, payload: dict[str, Any], shape: Any = Any) -> Any:
        return self._call("POST", path, payload, shape)

    def served_models(self) -> list[str]:
        """The model names the server answers to (``/v1/models``)."""
        return list(self._cards())

    def model_card(self, name: str | None, what: str = "model", option: str = "--served-model"):
        """The ``/v1/models`` entry for ``name`` (the only one when ``name`` is None); a mismatch is one line."""
        cards = self._cards()
        if name is None and len(cards) == 1:
            return next(iter(cards.values()))
        if name in cards:
            return cards[name]
        served = ", ".join(sorted(cards)) or "nothing"
        if name is None:
            raise ServerError(self.base_url, f"serves {served}: pick the {what} with {option}")
        raise ServerError(self.base_url, f"serves {served}, not {name!r}: check {option}")

    def _cards(self) -> dict:
        from .replies import ModelList

        return {card.id: card for card in self.get("/v1/models", ModelList).data}

    def _call(self, method: str, path: str, payload: dict[str, Any] | None, shape: Any) -> Any:
        for attempt in range(self.retries + 1):
            try:
                return self._once(method, path, payload, shape)
            except _Transient as exc:
                if attempt == self.retries:
                    raise exc.error from None
                time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")

    def _once(self, method: str, path: str, payload: dict[str, Any] | None, shape: Any) -> Any:
        """One request, on an idle connection if there is one; sent again on a fresh one only when
        the reused connection turns out to have been closed by the server before it answered."""
        url = self.base_url + path
        data = None if payload is None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            status, body = self._exchange(self._take(), method, path, data, headers, url)
        except _Stale:
            status, body = self._exchange(self._new(), method, path, data, headers, url)
        if status >= 400:
            error = ServerError(url, f"HTTP {status}: {server_message(body)}", status=status)
            if status in RETRY_STATUS:
                raise _Transient(error)
            raise error
        return decode(body, shape, url, f"the reply to {path}")

    def _exchange(
        self, connection: http.client.HTTPConnection, method: str, path: str, data: bytes | None,
        headers: dict[str, str], url: str,
    ) -> tuple[int, bytes]:
        """Send, and read the whole reply within the deadline. The connection goes back to the pool
        only when its reply was read whole in time and the server keeps it open; else it is closed."""
        reused = connection.sock is not None  # a new connection connects in request()
        deadline = _Deadline(connection, self.timeout)
        kept = False
        try:
            connection.request(method, self._prefix + path, body=data, headers=headers)
            reply = connection.getresponse()
            cap = self.max_reply if reply.status < 400 else MAX_ERROR_BYTES
            body = _read(reply, cap, url, error=reply.status >= 400)
            kept = deadline.finish() and self.keep_alive and not reply.will_close and _read_whole(reply)
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            if not deadline.finish() or isinstance(exc, TimeoutError):
                raise ServerError(url, f"no reply within {self.timeout:g} s (timed out)") from None
            if reused and isinstance(exc, ConnectionError | http.client.HTTPException):
                raise _Stale() from None  # closed by the server while it sat idle: nothing was answered
            raise _failure(url, exc) from None
        finally:
            deadline.finish()
            if kept:
                self._give_back(connection)
            else:
                connection.close()
        if deadline.expired:
            raise ServerError(url, f"no reply within {self.timeout:g} s (timed out)")
        return reply.status, body

    def _new(self) -> http.client.HTTPConnection:
        return self._connection(self._host, self._port, timeout=self.timeout)

    def _take(self) -> http.client.HTTPConnection:
        """The most recently used idle connection that is young enough, else a new one."""
        now = time.monotonic()
        with self._pool_lock:
            while self._idle:
                since, connection = self._idle.pop()
                if now - since < IDLE_SECONDS:
                    return connection
                connection.close()
        return self._new()

    def _give_back(self, connection: http.client.HTTPConnection) -> None:
        with self._pool_lock:
            if len(self._idle) < MAX_IDLE:
                self._idle.append((time.monotonic(), connection))
                return
        connection.close()

    def close(self) -> None:
        """Close the idle connections (requests in flight keep theirs until they finish)."""
        with self._pool_lock:
            idle, self._idle = self._idle, []
        for _, connection in idle:
            connection.close()


class _Deadline:
    """The whole request's deadline: when it passes, the socket is shut down, which wakes whatever
    read or write the request is blocked in (a server that drips a byte at a time cannot hold it)."""

    def __init__(self, connection: http.client.HTTPConnection, seconds: float):
        self.connection = connection
        self.expired = False
        self._done = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def finish(self) -> bool:
        """Stop the clock; False if the deadline had already passed (the socket is then shut)."""
        with self._lock:
            self._done = True
        self._timer.cancel()
        return not self.expired

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            sock = self.connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _read(reply: http.client.HTTPResponse, cap: int, url: str, error: bool = False) -> bytes:
    """The reply's body, refused once it passes ``cap`` bytes (an error reply is cut there instead)."""
    declared = reply.getheader("Content-Length")
    if not error and declared and declared.isdigit() and int(declared) > cap:
        raise ServerError(url, f"the reply is {int(declared):,} bytes, over the {_size(cap)} cap on a server reply")
    chunks, total = [], 0
    while chunk := reply.read1(CHUNK) if hasattr(reply, "read1") else reply.read(CHUNK):
        chunks.append(chunk)
        total += len(chunk)
        if total > cap:
            if error:
                break
            raise ServerError(url, f"the reply passed the {_size(cap)} cap on a server reply")
    return b"".join(chunks)


def _read_whole(reply: http.client.HTTPResponse) -> bool:
    """Whether nothing of the reply is left on its connection, so the next request can use it
    (closing a reply read to its Content-Length frees the connection; the socket stays open)."""
    if reply.length == 0:
        reply.close()
    return reply.isclosed()


def _failure(url: str, exc: BaseException) -> Exception:
    """A request that failed below HTTP: worth a retry when the connection was refused or lost."""
    if isinstance(exc, ConnectionRefusedError):
        return _Transient(ServerError(url, f"server not reachable ({_describe(exc)})"))
    if isinstance(exc, ConnectionError | http.client.HTTPException):
        # reset or closed mid-reply (RemoteDisconnected is both)
        return _Transient(ServerError(url, f"connection lost ({_describe(exc)})"))
    return ServerError(url, f"server not reachable ({_describe(exc)})")


class _Stale(Exception):
    """A reused keep-alive connection was found closed: send the request again on a new one."""


class _Transient(Exception):
    """A failure worth another try; carries the error to raise when tries run out."""

    def __init__(self, error: ServerError):
        self.error = error


def _describe(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused: is the server running?"
    if isinstance(reason, ConnectionResetError):
        return "connection reset"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return " ".join(str(reason).split()) or type(reason).__name__
