"""A fake vLLM server that answers like vLLM's OpenAI-compatible API, and lies on demand.

    .venv/bin/python benchmarks/fake_vllm.py [--port N]     # serve until Ctrl-C

Standard library only. One server serves every fault: the fault is the first
part of the URL's path, so ``--server http://HOST:PORT/osc52@completions``
gets a normal ``/v1/models`` and ``/tokenize``, and an error whose text writes
the clipboard (OSC 52) from ``/v1/completions``. ``ok`` is an honest server.
A fault with no ``@ENDPOINT`` applies to ``/v1/models`` (the first call every
client makes). ``root=HEX`` names a folder (hex of its UTF-8 path) as the
model card's ``root``; ``slow=SECONDS`` delays every completion.

Endpoints: ``/v1/models``, ``/v1/completions``, ``/tokenize``, ``/detokenize``,
``/v1/embeddings``, ``/classify`` and ``/pooling``. Token ids are bytes of
UTF-8 (``/detokenize`` maps them back), completions are deterministic from the
request's seed, embeddings from a hash of each input.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "fake-chat"
CONTEXT = 4096
ENDPOINTS = {"/v1/models": "models", "/v1/completions": "completions", "/tokenize": "tokenize",
             "/detokenize": "detokenize", "/v1/embeddings": "embeddings", "/classify": "classify",
             "/pooling": "pooling"}

# Error texts that a terminal obeys when they are printed raw.
ESCAPES = {
    "osc52": "bad request\x1b]52;c;cm0gLXJmIH4=\x07 (clipboard written)",
    "clear": "\x1b[2J\x1b[3J\x1b[Hscreen cleared",
    "osc8": "see \x1b]8;;https://evil.example/\x1b\\the docs\x1b]8;;\x1b\\ for help",
    "bidi": "model \u202enoitpecxe\u202c busy \u2066x\u2069",
    "c1": "csi \x9b31m red \x9b0m",
    "title": "\x1b]0;pwned\x07title set",
}
CARD_FAULTS = {  # what /v1/models' card says instead of the truth
    "ctx-str": {"max_model_len": "a lot"},
    "ctx-float": {"max_model_len": 1.5},
    "ctx-list": {"max_model_len": [4096]},
    "ctx-dict": {"max_model_len": {"n": 4096}},
    "ctx-neg": {"max_model_len": -5},
    "ctx-bool": {"max_model_len": True},
    "ctx-huge": {"max_model_len": 10**30},
    "id-int": {"id": 5},
    "id-list": {"id": ["fake-chat"]},
    "id-osc52": {"id": "fake\x1b]52;c;aGk=\x07chat"},
    "root-int": {"root": 7},
}
RAW_MODELS = {  # a whole /v1/models reply
    "data-str": {"object": "list", "data": "fake-chat"},
    "data-empty": {"object": "list", "data": []},
    "card-noid": {"object": "list", "data": [{"object": "model"}]},
    "models-list": [1, 2, 3],
}
TOKENIZE_FAULTS = {  # what /tokenize says instead of the truth
    "tok-str": "abc", "tok-null": None, "tok-int": 5, "tok-floats": [1.5, 2.5], "tok-nested": [[1, 2], [3]],
    "tok-neg": [-1, -2, -3], "tok-huge": [2**70, 1], "tok-bool": [True, False], "tok-strs": ["1", "2"],
}
DETOKENIZE_FAULTS = {"detok-int": 5, "detok-list": ["a", "b"], "detok-null": None, "detok-dict": {"a": 1},
                     "detok-osc52": "text\x1b]52;c;aGk=\x07"}
COMPLETION_FAULTS = {  # how each choice's token ids lie
    "long", "ids-neg", "ids-huge", "ids-float", "ids-bool", "ids-str-num", "choices-int", "choices-ints",
    "choices-more", "reply-osc52", "finish-int",
}
EMBEDDING_FAULTS = {"emb-short", "emb-str", "emb-nan", "emb-ragged", "emb-huge-dim"}
BODY_FAULTS = {"huge", "huge-error", "drip", "nested", "nested-error", "slowloris-headers", "not-json", "close"}
DRIP_EVERY = 2.0  # seconds between bytes: well under any per-read socket timeout
HUGE_CHUNK = 1 << 20


def fault_of(path: str) -> tuple[str, str, str]:
    """(fault, the endpoint it targets, the endpoint asked for) from a request path."""
    for suffix, endpoint in ENDPOINTS.items():
        if path.endswith(suffix):
            spec = path[: -len(suffix)].strip("/")
            fault, _, target = spec.partition("@")
            return fault or "ok", target or "models", endpoint
    return "ok", "models", "unknown"


def _ids(text: str) -> list[int]:
    return list(text.encode("utf-8"))


def _text(ids: list[Any]) -> str:
    out = bytearray()
    for i in ids:
        out.append(i % 256 if isinstance(i, int) else 63)
    return out.decode("utf-8", "replace")


def _vector(text: str, dim: int = 16) -> list[float]:
    digest = hashlib.sha256(text.encode("utf-8", "replace")).digest()
    raw = [b / 255 - 0.5 for b in digest[:dim]]
    norm = sum(v * v for v in raw) ** 0.5 or 1.0
    return [v / norm for v in raw]


def _completion_ids(seed: int, row: int, count: int) -> list[int]:
    letters = b"abcdefghijklmnopqrstuvwxyz "
    return [letters[(seed * 7 + row * 13 + k * 5) % len(letters)] for k in range(count)]


def honest(endpoint: str, request: dict[str, Any], fault: str, root: str | None) -> Any:
    """vLLM's reply to ``request``, with the fault applied where it changes the content."""
    if endpoint == "models":
        if fault in RAW_MODELS:
            return RAW_MODELS[fault]
        card = {"id": MODEL, "object": "model", "owned_by": "vllm", "root": root or f"/models/{MODEL}",
                "max_model_len": CONTEXT}
        card.update(CARD_FAULTS.get(fault, {}))
        return {"object": "list", "data": [card]}
    if endpoint == "tokenize":
        messages = request.get("messages") or []
        text = "".join(f"<{m.get('role')}>{m.get('content')}" for m in messages) + "<assistant>"
        tokens = TOKENIZE_FAULTS.get(fault, _ids(text))
        return {"count": 0 if not isinstance(tokens, list) else len(tokens), "max_model_len": CONTEXT,
                "tokens": tokens}
    if endpoint == "detokenize":
        return {"prompt": DETOKENIZE_FAULTS.get(fault, _text(request.get("tokens") or []))}
    if endpoint == "completions":
        return _completion(request, fault)
    if endpoint == "embeddings":
        return _embeddings(request, fault)
    if endpoint in ("classify", "pooling"):
        inputs = request.get("input") or []
        return {"object": "list", "data": [{"index": i, "probs": [0.25 + 0.5 * (i % 2)], "num_classes": 1}
                                           for i in range(len(inputs))]}
    return {"error": {"message": "not found"}}


def _completion(request: dict[str, Any], fault: str) -> Any:
    n, max_tokens = int(request.get("n") or 1), int(request.get("max_tokens") or 16)
    seed = int(request.get("seed") or 0)
    choices = []
    for row in range(n + (1 if fault == "choices-more" else 0)):
        count = max_tokens * 3 if fault == "long" else max_tokens
        ids: list[Any] = _completion_ids(seed, row, count)
        if fault == "ids-neg":
            ids[0] = -7
        elif fault == "ids-huge":
            ids[0] = 2**40
        elif fault == "ids-float":
            ids = [i + 0.5 for i in ids]
        elif fault == "ids-bool":
            ids = [True] * len(ids)
        elif fault == "ids-str-num":
            ids = [str(i) for i in ids]
        elif fault == "reply-osc52":
            ids = _ids("\x1b]52;c;aGk=\x07\x1b[2J\u202eok")[:max_tokens] or ids
        choices.append({"index": row, "text": _text([i for i in ids if isinstance(i, int)]), "token_ids": ids,
                        "finish_reason": 3 if fault == "finish-int" else "length", "logprobs": None})
    if fault == "choices-int":
        return {"id": "cmpl-1", "object": "text_completion", "model": MODEL, "choices": 5}
    if fault == "choices-ints":
        return {"id": "cmpl-1", "object": "text_completion", "model": MODEL, "choices": [1, 2, 3, 4][:n]}
    return {"id": "cmpl-1", "object": "text_completion", "model": MODEL, "choices": choices}


def _embeddings(request: dict[str, Any], fault: str) -> Any:
    inputs = request.get("input") or []
    rows = []
    for i, item in enumerate(inputs):
        vector: Any = _vector(json.dumps(item))
        if fault == "emb-str":
            vector = "0.1,0.2"
        elif fault == "emb-nan":
            vector = [float("nan")] * 16
        elif fault == "emb-ragged":
            vector = vector[: 4 + i]
        elif fault == "emb-huge-dim":
            vector = [0.001] * 4_000_000
        rows.append({"index": i, "object": "embedding", "embedding": vector})
    if fault == "emb-short":
        rows = rows[:-1]
    return {"object": "list", "data": rows}


def error_body(message: str) -> bytes:
    return json.dumps({"object": "error", "message": message, "type": "BadRequestError", "code": 400}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-vllm"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            request = json.loads(raw) if raw else {}
        except ValueError:
            request = {}
        fault, target, endpoint = fault_of(self.path)
        root = None
        if fault.startswith("root="):
            root, fault = bytes.fromhex(fault[5:]).decode(), "ok"
        if fault.startswith("slow="):
            if endpoint == "completions":
                time.sleep(float(fault[5:]))
            fault = "ok"
        if endpoint == "unknown":
            return self._send(404, error_body(f"no route {self.path}"))
        if target != endpoint:
            fault = "ok"
        try:
            if fault in ESCAPES:
                return self._send(400, error_body(ESCAPES[fault]))
            if fault in BODY_FAULTS:
                return self._body_fault(fault)
            self._send(200, json.dumps(honest(endpoint, request, fault, root)).encode())
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body_fault(self, fault: str) -> None:
        if fault == "close":
            self.close_connection = True
            return
        if fault == "not-json":
            return self._send(200, b"<html>\x1b]52;c;aGk=\x07 Bad Gateway</html>")
        if fault in ("nested", "nested-error"):
            depth = 200_000
            return self._send(200 if fault == "nested" else 400, b"[" * depth + b"]" * depth)
        if fault == "slowloris-headers":
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            self.wfile.flush()
            for _ in range(300):
                time.sleep(DRIP_EVERY)
                self.wfile.write(b"X-Drip: 1\r\n")
                self.wfile.flush()
            return
        status = 400 if fault == "huge-error" else 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if fault == "drip":
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b'{"object": "list", "data": [')
            for _ in range(300):  # ten minutes at most
                self.wfile.flush()
                time.sleep(DRIP_EVERY)
                self.wfile.write(b" ")
            return
        self.send_header("Content-Length", str(16 << 30))  # 16 GiB, sent until the client hangs up
        self.end_headers()
        self.wfile.write(b'{"error": {"message": "' if status == 400 else b'{"object": "list", "data": [], "x": "')
        chunk = b"x" * HUGE_CHUNK
        for _ in range(16 << 10):
            self.wfile.write(chunk)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def fake_vllm(port: int = 0) -> Iterator[str]:
    """Serve on a free port in a background thread; yield the base URL (without a fault)."""
    server = _Server(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def root_fault(folder: str) -> str:
    """The fault that makes the model card name ``folder`` as its ``root``."""
    return "root=" + folder.encode().hex()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    with fake_vllm(args.port) as url:
        print(f"serving {url}/FAULT[@ENDPOINT] (faults: ok, {', '.join(sorted([*ESCAPES, *BODY_FAULTS]))} …)",
              flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
