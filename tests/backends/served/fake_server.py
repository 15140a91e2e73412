"""A small in-process HTTP server that answers what a test tells it to, for injecting faults."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Reply = tuple[int, bytes]


@contextmanager
def fake_server(answer: Callable[[str, int], Reply]) -> Iterator[tuple[str, list[str]]]:
    """Serve ``answer(path, call_number)`` on a free port; yield its URL and the paths asked for."""
    calls: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            calls.append(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            status, body = answer(self.path, len(calls))
            if status == 0:  # drop the connection without a reply
                self.close_connection = True
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


