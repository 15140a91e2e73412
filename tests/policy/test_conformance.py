"""The Policy contract over the scripted fake, the in-process model and the worker process.

The same checks run against a real vLLM server in tests/backends/served/test_conformance.py.
"""

from __future__ import annotations

import pytest
from fakes import ScriptedPolicy

from stars_engine import backends
from stars_engine.backends import UNSURE
from stars_engine.backends.spec import ModelSpec

from .contract import check_branches, check_sample_until_unsure, check_single_prefix


@pytest.fixture(scope="module")
def worker_policy():
    [policy], _reward = backends.load(ModelSpec(), app=True)  # the workbench's choice: the worker process
    yield policy
    policy.close()


@pytest.fixture(params=["scripted", pytest.param("local", marks=pytest.mark.real),
                        pytest.param("worker", marks=pytest.mark.real)])
def policy_and_abilities(request):
    if request.param == "scripted":
        return ScriptedPolicy(), backends.choose(ModelSpec()).abilities
    if request.param == "local":
        return request.getfixturevalue("real_policy"), backends.choose(ModelSpec()).abilities
    return request.getfixturevalue("worker_policy"), backends.choose(ModelSpec(), app=True).abilities


def test_single_prefix(policy_and_abilities):
    check_single_prefix(policy_and_abilities[0])


def test_sample_until_unsure(policy_and_abilities):
    policy, abilities = policy_and_abilities
    check_sample_until_unsure(policy, UNSURE in abilities)


def test_branches(policy_and_abilities):
    check_branches(policy_and_abilities[0])
