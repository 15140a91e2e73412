"""The Policy contract over a real vLLM server: the same checks as tests/policy/test_conformance.py."""

from __future__ import annotations

import pytest
from policy.contract import check_branches, check_sample_until_unsure, check_single_prefix

from stars_engine import backends
from stars_engine.backends import UNSURE
from stars_engine.backends.spec import ModelSpec

pytestmark = [pytest.mark.served, pytest.mark.real]


@pytest.fixture(scope="module")
def served(vllm_url):
    spec = ModelSpec(server=[vllm_url])
    [policy], _reward = backends.load(spec)  # chosen as `stars run --server URL` chooses it
    return policy, backends.choose(spec).abilities


def test_single_prefix(served):
    check_single_prefix(served[0])


def test_sample_until_unsure_is_refused_in_one_line(served):
    policy, abilities = served
    assert UNSURE not in abilities
    check_sample_until_unsure(policy, able=False)


def test_branches(served):
    check_branches(served[0])
