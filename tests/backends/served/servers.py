"""Real vLLM servers for the served tests: one context manager, reused by every fixture.

A fixture that needs a server with other arguments (a pooling reward model,
a server to kill) calls ``running_server`` with its own ``extra_args``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from stars_engine.backends.served.launch import VllmServer, free_port

POLICY_NAME = "smollm2"


@contextlib.contextmanager
def running_server(model_dir: str | Path, served_name: str, extra_args: Sequence[str] = ()) -> Iterator[VllmServer]:
    """Start vLLM on ``model_dir`` on a free port, wait for ``/health``, and always stop it."""
    server = VllmServer(model_dir, port=free_port(), served_name=served_name, extra_args=extra_args)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def policy_server(extra_args: Sequence[str] = ()) -> contextlib.AbstractContextManager[VllmServer]:
    """A server on the converted bundled chat model, named ``POLICY_NAME``."""
    from stars_engine.weights.convert import default_policy_dir

    return running_server(default_policy_dir(), POLICY_NAME, extra_args)
