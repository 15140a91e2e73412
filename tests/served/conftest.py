"""One real vLLM server on the bundled chat model, shared by the whole test session.

These tests are marked ``served`` and run only with ``-m served`` (after
``scripts/setup-vllm.sh``); ``.ci/run`` does both.
"""

from __future__ import annotations

import pytest

from .servers import policy_server


@pytest.fixture(scope="session")
def vllm_server():
    """The running server (``.url``, ``.kill()``); started once, stopped at the end of the session."""
    with policy_server() as server:
        yield server


@pytest.fixture(scope="session")
def vllm_url(vllm_server) -> str:
    return vllm_server.url
