"""One real vLLM server on the bundled chat model, shared by the whole test session.

These tests are marked ``served`` and run only with ``-m served`` (after
``scripts/setup-vllm.sh``); ``.ci/run`` does both. ``STARS_TEST_VLLM_URL``
points them at a server already running on the bundled model under the name
``smollm2`` (``stars serve``), which saves its start while working on them.
"""

from __future__ import annotations

import os

import pytest

from .servers import policy_server


@pytest.fixture(scope="session")
def vllm_server():
    """The session's server (``.url``, ``.kill()``); started once, stopped at the end of the session."""
    with policy_server() as server:
        yield server


@pytest.fixture(scope="session")
def vllm_url(request) -> str:
    """The base URL of the session's server, or of ``STARS_TEST_VLLM_URL`` when that is set."""
    if os.environ.get("STARS_TEST_VLLM_URL"):
        return os.environ["STARS_TEST_VLLM_URL"].rstrip("/")
    return request.getfixturevalue("vllm_server").url
