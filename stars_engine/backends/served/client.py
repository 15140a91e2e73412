"""A small JSON-over-HTTP client for a served model (vLLM's OpenAI-compatible server).

Standard library only: one request per call on its own connection, so a client
is safe to share between threads (the bench keeps several runs in flight).
Transient failures are retried a bounded number of times; everything else
becomes one ``ServerError`` line that names the URL.

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
        max_reply: int = MAX_REPLY_BYTES,
    ):
        self.base_url = check_url(base_url)
        parts = urllib.parse.urlsplit(self.base_url)
        self._connection = SCHEMES[parts.scheme]
        self._host, self._port, self._prefix = parts.hostname, parts.port, parts.path.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_reply = max_reply

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
        url = self.base_url + path
        data = None if payload is None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        connection = self._connection(self._host, self._port, timeout=self.timeout)
        expired = threading.Event()
        watchdog = threading.Timer(self.timeout, _expire, (connection, expired))
        watchdog.daemon = True
        watchdog.start()
        try:
            connection.request(method, self._prefix + path, body=data, headers=headers)
            reply = connection.getresponse()
            cap = self.max_reply if reply.status < 400 else MAX_ERROR_BYTES
            body = _read(reply, cap, url, error=reply.status >= 400)
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            if expired.is_set() or isinstance(exc, TimeoutError):
                raise ServerError(url, f"no reply within {self.timeout:g} s (timed out)") from None
            raise _failure(url, exc) from None
        finally:
            watchdog.cancel()
            connection.close()
        if expired.is_set():
            raise ServerError(url, f"no reply within {self.timeout:g} s (timed out)")
        if reply.status >= 400:
            error = ServerError(url, f"HTTP {reply.status}: {server_message(body)}", status=reply.status)
            if reply.status in RETRY_STATUS:
                raise _Transient(error)
            raise error
        return decode(body, shape, url, f"the reply to {path}")


def _expire(connection: http.client.HTTPConnection, expired: threading.Event) -> None:
    """The deadline passed: wake whatever read or write the request is blocked in."""
    expired.set()
    sock = connection.sock
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


def _failure(url: str, exc: BaseException) -> Exception:
    """A request that failed below HTTP: worth a retry when the connection was refused or lost."""
    if isinstance(exc, ConnectionRefusedError):
        return _Transient(ServerError(url, f"server not reachable ({_describe(exc)})"))
    if isinstance(exc, ConnectionError | http.client.HTTPException):
        # reset or closed mid-reply (RemoteDisconnected is both)
        return _Transient(ServerError(url, f"connection lost ({_describe(exc)})"))
    return ServerError(url, f"server not reachable ({_describe(exc)})")


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
