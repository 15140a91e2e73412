"""Shared fixtures: the real default models, loaded once per test session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import stars_engine  # noqa: F401  - first, so its OpenMP setting is in place before torch loads

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def real_policy():
    from stars_engine.backends.local.load import load_policy

    return load_policy()


@pytest.fixture(scope="session")
def real_policy_fp32():
    """The default chat model in fp32 whatever this machine would pick (exact-arithmetic checks)."""
    from stars_engine.backends.local.load import load_policy

    return load_policy(dtype="fp32")


@pytest.fixture(scope="session")
def real_reward():
    from stars_engine.backends.local.load import load_reward

    return load_reward()


@pytest.fixture(autouse=True)
def _real_weights_only_in_real_tests(request, monkeypatch):
    """``-m "not real"`` is model-free: a test that reaches the bundled weights without the mark fails."""
    if request.node.get_closest_marker("real") is not None:
        return
    from stars_engine.backends.local import load as loading
    from stars_engine.weights import sources as models

    def refuse(*args, **kwargs):
        raise AssertionError("this test reaches the real default weights: mark it @pytest.mark.real")

    for module, name in ((loading, "default_policy_dir"), (models, "bundled_gguf"), (models, "bundled_minilm")):
        monkeypatch.setattr(module, name, refuse)
