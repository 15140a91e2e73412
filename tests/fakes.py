"""Deterministic, torch-free stand-ins for the policy and the reward.

They exist for fast tests of the algorithm's bookkeeping and of the UI; the
tests that claim the product works use the real default models.
"""

from __future__ import annotations

import random
import threading
import time

from stars_engine.backends import Backend
from stars_engine.policy.base import Candidate, Sampling

WORDS = "the a kind clear answer helps you with it gently and well because so then".split()
# next-token entropy (nats) at each reply position, cycled: what CARDS cuts on
ENTROPIES = (1.0, 2.5, 3.5, 0.5, 4.0, 2.0, 3.2, 1.5, 0.8, 2.9, 3.7)


def scripted_entropy(position: int) -> float:
    return ENTROPIES[position % len(ENTROPIES)]


class ScriptedPolicy:
    """Emits words as tokens; each token is one word plus a space.

    ``eos_after`` ends every candidate once the reply would reach that many
    tokens; ``delay`` sleeps per token so UI tests can watch a run happen. The
    next-token entropy at reply position ``t`` is ``scripted_entropy(t)``.
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
        self.branches: list[list[str]] | None = None
        self.rng = random.Random(0)

    def check_prompt(self, messages, max_new_tokens):
        return sum(len(m["content"].split()) for m in messages) + 3

    def start(self, messages, seed):
        self.rng = random.Random(seed)
        self.reply = []
        self.round = []
        self.branches = None
        self.forward_passes += 1
        return self.check_prompt(messages, 0)

    def _draw(self, rows: list[list[str]], max_tokens, cancel, cut=None) -> tuple[list[bool], float | None]:
        """Append up to ``max_tokens`` words to each row in lockstep; (EOS per row, entropy that cut)."""
        eos = [False] * len(rows)
        for step in range(max_tokens):
            self.forward_passes += 1
            if cut is not None and step >= cut[0]:
                entropy = scripted_entropy(len(self.reply) + step)
                if entropy >= cut[1]:
                    return eos, entropy
            if self.delay:
                time.sleep(self.delay)
            for i, row in enumerate(rows):
                if eos[i]:
                    continue
                row.append(self.rng.choice(WORDS) + " ")
                if self.eos_after is not None and len(self.reply) + len(row) >= self.eos_after:
                    eos[i] = True
            if all(eos) or (cancel is not None and cancel.is_set()):
                break
        return eos, None

    @staticmethod
    def _candidate(words: list[str], eos: bool, cut_entropy: float | None = None) -> Candidate:
        return Candidate(token_ids=tuple(range(len(words))), text="".join(words), eos=eos, cut_entropy=cut_entropy)

    def sample(self, n, max_tokens, sampling: Sampling, cancel: threading.Event | None = None):
        words: list[list[str]] = [[] for _ in range(n)]
        eos, _ = self._draw(words, max_tokens, cancel)
        self.round = [self._candidate(w, e) for w, e in zip(words, eos)]
        return list(self.round)

    def sample_until_unsure(self, max_tokens, min_tokens, entropy_threshold, sampling, cancel=None):
        words: list[str] = []
        eos, cut = self._draw([words], max_tokens, cancel, (min_tokens, entropy_threshold))
        self.round = [self._candidate(words, eos[0], cut)]
        return self.round[0]

    def fork(self, n):
        self.branches = [[] for _ in range(n)]
        self.round = []

    def grow(self, max_tokens, sampling, cancel=None):
        eos, _ = self._draw(self.branches, max_tokens, cancel)
        self.round = [self._candidate(list(b), e) for b, e in zip(self.branches, eos)]
        return list(self.round)

    def keep(self, rows):
        if any(self.round[i].eos for i in rows):
            raise ValueError("a branch that ended cannot be kept growing")
        self.branches = [list(self.branches[i]) for i in rows]  # a repeated row is a copy that grows apart
        self.round = [self.round[i] for i in rows]

    def commit(self, candidate: Candidate) -> None:
        if not any(c is candidate for c in self.round):
            self.forward_passes += 1
        self.reply.extend(candidate.text.split(" ")[:-1] if candidate.text else [])
        self.round = []
        self.branches = None

    def discard(self) -> None:
        self.round = []
        self.branches = None


class SiblingPolicy(ScriptedPolicy):
    """A scripted policy that holds several runs alive at once, as the real backends do: ``sibling()``
    is a fresh scripted policy with the same options, ``together`` how a comparison runs them
    ("interleaved" as in-process, "at once" as served). Siblings made and released are kept, to check."""

    def __init__(self, together: str = "interleaved", **options) -> None:
        super().__init__(**options)
        self.together = together
        self.options = options
        self.siblings: list[SiblingPolicy] = []
        self.released = False

    def sibling(self) -> SiblingPolicy:
        twin = type(self)(self.together, **self.options)
        self.siblings.append(twin)
        return twin

    def release(self) -> None:
        self.released = True


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


def scripted_backend(name: str = "local", load=None, **policy_options) -> Backend:
    """The scripted policy and reward as a backend, to register in place of a real one
    (``backends.registered``): the front end chooses it as it would the real one."""

    def scripted(spec, count):
        return [ScriptedPolicy(**policy_options) for _ in range(count)], ScriptedReward()

    return Backend(name, load or scripted, parallel=True)
