"""A small in-process HTTP server that answers what a test tells it to, for injecting faults."""

from __future__ import annotations

import inspect
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Drip:
    """Raw bytes written one at a time, ``every`` seconds apart (status line and headers included),
    then the connection is closed: a server that answers too slowly, or without a Content-Length."""

    data: bytes
    every: float = 0.0
    fast: int = 0  # how many leading bytes go at once (the status line and headers, say)


Reply = tuple[int, bytes] | tuple[int, Drip]


@contextmanager
def fake_server(
    answer: Callable[..., Reply], keep_alive: bool = False, peers: list[int] | None = None,
    idle_timeout: float | None = None,
) -> Iterator[tuple[str, list[str]]]:
    """Serve ``answer(path, call_number)`` (or ``answer(path, call_number, request_json)``) on a free
    port; yield its URL and the paths asked for.

    ``keep_alive`` answers in HTTP/1.1, keeping each connection open for the next request (as
    vLLM does), closing one that sits idle ``idle_timeout`` seconds; ``peers`` collects the
    client's port per call, so a test can tell connections apart.
    """
    calls: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"
        timeout = idle_timeout

        def _reply(self) -> None:
            calls.append(self.path)
            if peers is not None:
                peers.append(self.client_address[1])
            length = int(self.headers.get("Content-Length") or 0)
            sent = self.rfile.read(length)
            if len(inspect.signature(answer).parameters) == 3:  # it reads the request too
                status, body = answer(self.path, len(calls), json.loads(sent or b"null"))
            else:
                status, body = answer(self.path, len(calls))
            if status == 0:  # drop the connection without a reply
                self.close_connection = True
                return
            if isinstance(body, Drip):
                self.close_connection = True
                step = 1 if body.every else 2**16
                try:
                    self.wfile.write(body.data[: body.fast])
                    for i in range(body.fast, len(body.data), step):
                        self.wfile.flush()
                        time.sleep(body.every)
                        self.wfile.write(body.data[i : i + step])
                except OSError:  # the client gave up
                    pass
                return
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _reply

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", calls
    finally:
        server.shutdown()
        server.server_close()


def ok(data) -> Reply:
    return 200, json.dumps(data).encode()


def raw(body: bytes, status: str = "200 OK") -> bytes:
    """An HTTP reply as bytes, with no Content-Length (the body ends when the connection does)."""
    return f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n".encode() + body


