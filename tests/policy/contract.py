"""The ``Policy`` contract, as tests: the same checks over every backend's policy.

Each function drives one part of the protocol (the single prefix, the entropy
cut, the branches) and asserts what ``policy/base.py`` promises of it, so a
backend that keeps its own cache, pipe or server behind the protocol is held
to the same behaviour. A backend that lacks an ability refuses it in one line.
"""

from __future__ import annotations

import pytest

from stars_engine.errors import StarsError
from stars_engine.policy.base import Candidate, Policy, Sampling

MESSAGES = [{"role": "user", "content": "Give me one tip for sleeping well."}]
SAMPLING = Sampling(temperature=1.0, top_p=1.0, top_k=0)


def check_candidates(round_: list[Candidate], n: int, max_tokens: int) -> None:
    assert len(round_) == n and all(isinstance(c, Candidate) for c in round_)
    for c in round_:
        assert 1 <= c.tokens <= max_tokens and all(isinstance(t, int) for t in c.token_ids)
        assert isinstance(c.text, str) and isinstance(c.eos, bool) and (c.eos or c.tokens == max_tokens)
        assert c.cut_entropy is None


def check_single_prefix(policy: Policy) -> None:
    """start / sample / commit / discard, the seed, and committing an earlier round's candidate."""
    prompt = policy.start(MESSAGES, 5)
    assert isinstance(prompt, int) and prompt > 0 and policy.check_prompt(MESSAGES, 8) == prompt
    passes = policy.forward_passes
    first = policy.sample(3, 4, SAMPLING)
    check_candidates(first, 3, 4)
    assert policy.forward_passes > passes
    policy.start(MESSAGES, 5)
    assert [c.token_ids for c in policy.sample(3, 4, SAMPLING)] == [c.token_ids for c in first], "same seed, same draws"
    policy.discard()
    second = policy.sample(2, 4, SAMPLING)
    check_candidates(second, 2, 4)
    policy.discard()
    earlier = next((c for c in first if not c.eos), None)
    if earlier is None:
        return
    policy.commit(earlier)  # an exhausted segment's best came from an earlier round
    after = policy.sample(2, 4, SAMPLING)
    check_candidates(after, 2, 4)
    policy.commit(after[0])
    assert policy.check_prompt(MESSAGES, 8) == prompt, "the prompt is the prompt, whatever was committed"


def check_sample_until_unsure(policy: Policy, able: bool) -> None:
    """One candidate cut before the first token past ``min`` whose entropy reaches the threshold."""
    policy.start(MESSAGES, 7)
    if not able:
        with pytest.raises(StarsError) as refused:
            policy.sample_until_unsure(12, 2, 0.5, SAMPLING)
        assert "\n" not in str(refused.value)
        return
    cut = policy.sample_until_unsure(12, 2, 0.5, SAMPLING)
    assert isinstance(cut, Candidate) and 1 <= cut.tokens <= 12
    if cut.cut_entropy is not None:
        assert cut.cut_entropy >= 0.5 and cut.tokens >= 2 and not cut.eos
    policy.discard()
    again = policy.sample_until_unsure(12, 2, 50.0, SAMPLING)  # no entropy reaches 50 nats: never cut
    assert again.cut_entropy is None and (again.eos or again.tokens == 12)
    policy.commit(again)


def check_branches(policy: Policy) -> None:
    """fork / grow / keep: each branch returned whole, a kept one grows from where it was, one is committed."""
    policy.start(MESSAGES, 9)
    policy.fork(3)
    grown = policy.grow(3, SAMPLING)
    check_candidates(grown, 3, 3)
    live = [i for i, c in enumerate(grown) if not c.eos]
    if not live:
        policy.commit(grown[0])
        return
    policy.keep(live)
    longer = policy.grow(3, SAMPLING)
    assert len(longer) == len(live)
    for row, i in zip(longer, live):
        assert row.token_ids[: grown[i].tokens] == grown[i].token_ids and grown[i].tokens < row.tokens <= 6
    policy.commit(longer[0])
    after = policy.sample(1, 2, SAMPLING)
    check_candidates(after, 1, 2)
    policy.discard()
