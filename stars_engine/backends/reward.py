"""The reward a spec names: the embedding rubric or a classifier, in-process or on a vLLM pooling server.

Shared by every backend (the worker loads it in its own process): which
backend runs the chat model does not decide where the reward scores.
"""

from __future__ import annotations

from ..errors import StarsError
from ..reward.base import Reward
from .spec import ModelSpec


def load_reward(spec: ModelSpec) -> Reward:
    """The reward ``spec`` names (slow: call once); on ``reward_server`` it is checked with one scoring call."""
    if spec.reward_server is not None:
        from .served.reward import served_reward

        return served_reward(spec.reward_server, spec.served_reward, reward=spec.reward, rubric=spec.rubric,
                             allow_download=spec.allow_download)
    if spec.served_reward is not None:
        raise StarsError("--served-reward needs --reward-server")
    from .local.load import load_reward as load_local

    return load_local(spec.reward, spec.rubric, spec.device, spec.allow_download)
