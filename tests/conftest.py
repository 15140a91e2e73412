"""Shared fixtures: the real default models, loaded once per test session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import stars_engine  # noqa: F401  - first, so its OpenMP setting is in place before torch loads

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def real_policy():
    from stars_engine.loading import load_policy

    return load_policy()


@pytest.fixture(scope="session")
def real_policy_fp32():
    """The default chat model in fp32 whatever this machine would pick (exact-arithmetic checks)."""
    from stars_engine.loading import load_policy

    return load_policy(dtype="fp32")


@pytest.fixture(scope="session")
def real_reward():
    from stars_engine.loading import load_reward

    return load_reward()
