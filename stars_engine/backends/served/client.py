"""A small JSON-over-HTTP client for a served model (vLLM's OpenAI-compatible server).

Standard library only: one request per call on its own connection, so a client
is safe to share between threads (the bench keeps several runs in flight).
Transient failures are retried a bounded number of times; everything else
becomes one ``ServerError`` line that names the URL.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from typing import Any

from ...errors import StarsError

RETRY_STATUS = frozenset({502, 503, 504})


class ServerError(StarsError):
    """A served model failed: down, refused, timed out, or answered with an error."""

    def __init__(self, url: str, message: str, status: int | None = None):
        self.url = url
        self.status = status
        super().__init__(f"{url}: {message}")


def server_message(body: bytes) -> str:
    """The server's own error text from an error reply, on one line."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
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


class ServerClient:
    """GET and POST JSON against one server, with bounded retries and one-line errors."""

    def __init__(self, base_url: str, *, timeout: float = 120.0, retries: int = 3, backoff: float = 0.5):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff

    def __repr__(self) -> str:
        return f"ServerClient({self.base_url!r})"

    def get(self, path: str) -> Any:
        return self._call("GET", path, None)

    def post(self, path: str, payload: dict[str, Any]) -> Any:
        return self._call("POST", path, payload)

    def served_models(self) -> list[str]:
        """The model names the server answers to (``/v1/models``)."""
        return list(self._cards())

    def model_card(self, name: str | None, what: str = "model", option: str = "--served-model") -> dict[str, Any]:
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

    def _cards(self) -> dict[str, dict[str, Any]]:
        reply = self.get("/v1/models")
        try:
            return {m["id"]: m for m in reply["data"]}
        except (KeyError, TypeError):
            raise ServerError(self.base_url, "/v1/models gave no model list") from None

    def _call(self, method: str, path: str, payload: dict[str, Any] | None) -> Any:
        for attempt in range(self.retries + 1):
            try:
                return self._once(method, path, payload)
            except _Transient as exc:
                if attempt == self.retries:
                    raise exc.error from None
                time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")

    def _once(self, method: str, path: str, payload: dict[str, Any] | None) -> Any:
        url = self.base_url + path
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                body = reply.read()
        except urllib.error.HTTPError as exc:
            error = ServerError(url, f"HTTP {exc.code}: {server_message(exc.read())}", status=exc.code)
            if exc.code in RETRY_STATUS:
                raise _Transient(error) from None
            raise error from None
        except TimeoutError:
            raise ServerError(url, f"no reply within {self.timeout:g} s (timed out)") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise ServerError(url, f"no reply within {self.timeout:g} s (timed out)") from None
            if isinstance(reason, ConnectionError):
                raise _Transient(ServerError(url, f"server not reachable ({_describe(reason)})")) from None
            raise ServerError(url, f"server not reachable ({_describe(reason)})") from None
        except (ConnectionError, http.client.HTTPException) as exc:
            # reset or closed mid-reply (RemoteDisconnected is both)
            raise _Transient(ServerError(url, f"connection lost ({_describe(exc)})")) from None
        try:
            return json.loads(body)
        except ValueError:
            raise ServerError(url, f"unparseable reply: {body[:80]!r}") from None


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
