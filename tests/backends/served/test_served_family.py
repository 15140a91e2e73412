"""Speculative Rejection on the served backend (a real vLLM server); CARDS refused there in one line."""

from __future__ import annotations

import pytest
from decoding.checks import check_stream

from stars_engine import engine
from stars_engine.backends.served.connect import served_policies
from stars_engine.events import PRUNED, AttemptScored, RunFailed, RunFinished
from stars_engine.params import Params

pytestmark = [pytest.mark.served, pytest.mark.real]

MESSAGES = [{"role": "user", "content": "Give one tip for staying focused while studying."}]


@pytest.fixture(scope="module")
def policy(vllm_url):
    [served] = served_policies([vllm_url])
    return served


def test_specrej_grows_only_the_kept_branches(policy, real_reward):
    params = Params(strategy="specrej", seed=5, initial_n=6, prune_fraction=0.5, decision_tokens=4,
                    max_new_tokens=12)
    grown: list[list[tuple[int, ...]]] = []
    original = policy.grow

    def spy(*args, **kw):
        out = original(*args, **kw)
        grown.append([c.token_ids for c in out])
        return out

    policy.grow = spy
    try:
        events = list(engine.run(policy, real_reward, MESSAGES, params))
    finally:
        del policy.grow
    assert not isinstance(events[-1], RunFailed), events[-1]
    check_stream(events, params)
    assert sum(isinstance(e, AttemptScored) and e.verdict == PRUNED for e in events) >= 3
    first = policy.requests[0]
    assert first["n"] == 6 and first["prompt"] == policy.prompt_ids  # one request for the fresh fork
    # every later request extends one branch that was kept: a pruned one is never sent again
    pruned = [a for a in events if isinstance(a, AttemptScored) and a.verdict == PRUNED]
    for r, (before, after) in enumerate(zip(grown, grown[1:])):
        assert len(after) == len(before) - sum(a.round == r for a in pruned)
        assert all(any(a[: len(b)] == b for b in before) for a in after)
    assert len(policy.requests) == 1 + sum(len(g) for g in grown[1:])
    assert len({r["seed"] for r in policy.requests}) == len(policy.requests)
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.text


def test_cards_is_refused_on_the_served_backend_in_one_line(policy, real_reward):
    events = list(engine.run(policy, real_reward, MESSAGES, Params(strategy="cards", seed=1, max_new_tokens=8)))
    assert isinstance(events[-1], RunFailed)
    assert "cards runs on the in-process backend only" in events[-1].message
    assert "\n" not in events[-1].message


@pytest.mark.parametrize("params", [
    Params(strategy="smc", seed=5, particles=4, segment_tokens=4, max_new_tokens=12, smc_temperature=0.02,
           ess_threshold=1.0),
    Params(strategy="beam", seed=5, beam_width=2, beam_expansions=2, segment_tokens=4, max_new_tokens=12),
], ids=["smc", "beam"])
def test_smc_and_beam_run_on_the_served_backend(policy, real_reward, params):
    """Each round's branches are token-id prompts extending a branch that went on; a branch sent twice
    (a repeated row) goes with two seeds, so its copies sample apart."""
    events = list(engine.run(policy, real_reward, MESSAGES, params))
    assert not isinstance(events[-1], RunFailed), events[-1]
    check_stream(events, params)
    attempts = [e for e in events if isinstance(e, AttemptScored)]
    assert len({a.round for a in attempts}) >= 2
    first, later = policy.requests[0], policy.requests[1:]
    population = params.particles if params.strategy == "smc" else params.beam_width * params.beam_expansions
    assert first["n"] == population and first["prompt"] == policy.prompt_ids
    assert later and all(r["n"] == 1 and r["prompt"][: len(policy.prompt_ids)] == policy.prompt_ids for r in later)
    assert len({r["seed"] for r in policy.requests}) == len(policy.requests)
    if params.strategy == "beam":  # each beam that goes on is sent W times
        prompts = [tuple(r["prompt"]) for r in later[:population]]
        assert sorted(prompts.count(p) for p in set(prompts)) == [2, 2]
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.text
