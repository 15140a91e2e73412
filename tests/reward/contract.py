"""The ``Reward`` contract, as tests: the same checks over every reward (in-process, worker, served)."""

from __future__ import annotations

import math

from stars_engine.reward.base import Reward
from stars_engine.reward.rubric import Rubric

PROMPT = "How do I sleep well?"
REPLIES = ["Keep a regular bedtime and a dark, cool room.", "", "no"]


def check_reward(reward: Reward) -> None:
    """One score per reply, finite, the same alone as in a batch; a rubric, where there is one, can be replaced."""
    assert isinstance(reward.reward_id, str) and reward.reward_id
    assert isinstance(reward.server_url, str) and isinstance(reward.served_model, str)
    scores = reward.score(PROMPT, REPLIES)
    assert len(scores) == len(REPLIES) and all(isinstance(s, float) and math.isfinite(s) for s in scores)
    alone = reward.score(PROMPT, REPLIES[:1])
    assert math.isclose(alone[0], scores[0], abs_tol=1e-3), "a reply's score does not depend on its batch"
    rubric = reward.rubric
    if rubric is None:
        return
    assert isinstance(rubric, Rubric)
    try:
        reward.rubric = Rubric(prefer=["no"], avoid=["Keep a regular bedtime."], relevance_weight=0.0)
        flipped = reward.score(PROMPT, REPLIES)
        assert flipped[2] > flipped[0], "the new exemplars decide the scores"
    finally:
        reward.rubric = rubric
    assert reward.score(PROMPT, REPLIES) == scores
