"""The Reward contract over the scripted fake, the rubric and a classifier in-process, and the worker's reward.

The served rewards are held to it in tests/backends/served/test_served_reward.py.
"""

from __future__ import annotations

import pytest
from backends.served.reward_models import build_tiny_rm
from fakes import ScriptedReward

from stars_engine import backends
from stars_engine.backends.local.load import load_reward
from stars_engine.backends.spec import ModelSpec

from .contract import check_reward


def test_scripted():
    check_reward(ScriptedReward())


@pytest.mark.real
def test_the_rubric_in_process(real_reward):
    check_reward(real_reward)


@pytest.mark.real
def test_a_classifier_in_process(tmp_path):
    check_reward(load_reward(str(build_tiny_rm(tmp_path / "rm"))))


@pytest.mark.real
def test_the_worker_reward():
    [policy], reward = backends.load(ModelSpec(), app=True)
    try:
        check_reward(reward)
    finally:
        policy.close()
