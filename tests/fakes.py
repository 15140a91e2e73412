"""Deterministic, torch-free stand-ins for the policy and the reward.

They exist for fast tests of the algorithm's bookkeeping and of the UI; the
tests that claim the product works use the real default models.
"""

from __future__ import annotations

import random
import threading
import time

from stars_engine.policy.base import Candidate, Sampling

WORDS = "the a kind clear answer helps you with it gently and well because so then".split()


class ScriptedPolicy:
    """Emits words as tokens; each token is one word plus a space.

    ``eos_after`` ends every candidate once the reply would reach that many
    tokens; ``delay`` sleeps per token so UI tests can watch a run happen.
    """

    model_id = "scripted-policy"
    runtime = {"device": "none", "dtype": "words"}
    backend = "scripted"
    server_url = ""
    served_model = ""

    def __init__(self, eos_after: int | None = None, delay: float = 0.0):
        self.forward_passes = 0
        self.eos_after = eos_after
        self.delay = delay
        self.reply: list[str] = []
        self.round: list[Candidate] = []
        self.rng = random.Random(0)

    def check_prompt(self, messages, max_new_tokens):
        return sum(len(m["content"].split()) for m in messages) + 3

    def start(self, messages, seed):
        self.rng = random.Random(seed)
        self.reply = []
        self.round = []
        self.forward_passes += 1
        return self.check_prompt(messages, 0)

    def sample(self, n, max_tokens, sampling: Sampling, cancel: threading.Event | None = None):
        words = [[] for _ in range(n)]
        eos = [False] * n
        for _step in range(max_tokens):
            self.forward_passes += 1
            if self.delay:
                time.sleep(self.delay)
            for i in range(n):
                if eos[i]:
                    continue
                words[i].append(self.rng.choice(WORDS) + " ")
                if self.eos_after is not None and len(self.reply) + len(words[i]) >= self.eos_after:
                    eos[i] = True
            if all(eos) or (cancel is not None and cancel.is_set()):
                break
        self.round = [
            Candidate(token_ids=tuple(range(len(w))), text="".join(w), eos=e) for w, e in zip(words, eos)
        ]
        return list(self.round)

    def commit(self, candidate: Candidate) -> None:
        if candidate not in self.round:
            self.forward_passes += 1
        self.reply.extend(candidate.text.split(" ")[:-1] if candidate.text else [])
        self.round = []

    def discard(self) -> None:
        self.round = []

    def prefix_text(self) -> str:
        return "".join(w + " " for w in self.reply)


class ScriptedReward:
    """Reward = share of "good" words in the reply, so rejection has something to do."""

    reward_id = "scripted-reward"
    rubric = None
    server_url = served_model = ""
    GOOD = {"kind", "clear", "helps", "gently", "well"}

    def __init__(self, fail_after: int | None = None):
        self.calls = 0
        self.fail_after = fail_after

    def score(self, prompt, replies):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("reward model exploded")
        out = []
        for reply in replies:
            words = reply.split()
            out.append(sum(w in self.GOOD for w in words) / len(words) if words else 0.0)
        return out
