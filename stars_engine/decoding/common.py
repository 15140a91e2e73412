"""Bookkeeping every strategy shares: the run context, live params, the tally.

Strategies are generators of events. They read params from ``RunContext.params``
at segment boundaries only, so a change made mid-run by the TUI lands at the
next segment and is announced with ``ParamsChanged``.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..events import ACCEPTED, REJECTED, AttemptScored, ParamsChanged, RunStarted, RunStats, last_user_message
from ..params import RUN_LEVEL_FIELDS, ParamsSource
from ..policy.base import Candidate, Policy, Sampling
from ..reward.base import Reward, rubric_record


@dataclass
class Tally:
    """Compute spent so far in one run (what ``RunStats`` reports)."""

    tokens_generated: int = 0
    tokens_accepted: int = 0
    reward_calls: int = 0
    attempts: int = 0
    judged: int = 0
    judged_accepted: int = 0
    segments: int = 0
    final_reward: float | None = None
    started: float = field(default_factory=time.perf_counter)

    def count_attempt(self, candidate: Candidate, verdict: str) -> None:
        self.attempts += 1
        self.tokens_generated += candidate.tokens
        if verdict in (ACCEPTED, REJECTED):
            self.judged += 1
            self.judged_accepted += verdict == ACCEPTED

    def stats(self, forward_passes: int) -> RunStats:
        return RunStats(
            tokens_generated=self.tokens_generated,
            tokens_accepted=self.tokens_accepted,
            tokens_discarded=self.tokens_generated - self.tokens_accepted,
            reward_calls=self.reward_calls,
            policy_forward_passes=forward_passes,
            wall_seconds=round(time.perf_counter() - self.started, 4),
            acceptance_rate=(self.judged_accepted / self.judged) if self.judged else None,
            final_reward=self.final_reward,
            segments=self.segments,
            attempts=self.attempts,
        )


@dataclass
class RunContext:
    """What one run needs; built by ``engine.run``."""

    policy: Policy
    reward: Reward
    messages: list[dict[str, str]]
    params_source: ParamsSource
    cancel: threading.Event = field(default_factory=threading.Event)
    tally: Tally = field(default_factory=Tally)
    pinned: frozenset[str] = frozenset()  # fields the strategy keeps for the run beyond RUN_LEVEL_FIELDS

    def __post_init__(self) -> None:
        self.initial = self.params_source()
        self.current = self.initial
        self.seed = self.initial.seed if self.initial.seed is not None else secrets.randbits(31)
        self.rng = random.Random(self.seed)
        self._passes_at_start = self.policy.forward_passes

    @property
    def prompt(self) -> str:
        """The text the reward model sees as the prompt: the last user turn."""
        return last_user_message(self.messages)

    def refresh_params(self, segment: int) -> ParamsChanged | None:
        """Take the params source's current value; run-level fields keep the run's value."""
        latest = self.params_source()
        pinned = {k: getattr(self.initial, k) for k in RUN_LEVEL_FIELDS | self.pinned}
        latest = latest.with_changes(**pinned)
        changes = self.current.diff(latest)
        if not changes:
            return None
        self.current = latest
        return ParamsChanged(
            segment=segment,
            changes={k: list(v) for k, v in changes.items()},
            params=latest.to_dict(),
        )

    def sampling(self) -> Sampling:
        p = self.current
        return Sampling(temperature=p.temperature, top_p=p.top_p, top_k=p.top_k)

    def score(self, replies: list[str]) -> list[float]:
        scores = [float(s) for s in self.reward.score(self.prompt, replies)]
        if len(scores) != len(replies):
            raise RuntimeError(f"reward model returned {len(scores)} scores for {len(replies)} replies")
        self.tally.reward_calls += len(replies)
        return scores

    def started(self, prompt_tokens: int, baseline: float | None) -> RunStarted:
        return RunStarted(
            strategy=self.initial.strategy,
            params=self.initial.to_dict(),  # as asked: seed None is "random" (the one drawn is ``seed``)
            messages=[dict(m) for m in self.messages],
            policy_id=self.policy.model_id,
            runtime=dict(self.policy.runtime),
            reward_id=self.reward.reward_id,
            seed=self.seed,
            prompt_tokens=prompt_tokens,
            baseline_reward=baseline,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            backend=self.policy.backend,
            server_url=self.policy.server_url,
            served_model=self.policy.served_model,
            reward_server_url=self.reward.server_url,
            served_reward=self.reward.served_model,
            rubric=rubric_record(self.reward),
        )

    def attempt(
        self, segment: int, index: int, candidate: Candidate, reward: float,
        threshold: float | None, verdict: str, share_ms: float, decision_round: int | None = None,
    ) -> AttemptScored:
        """Count one scored candidate and describe it as an event."""
        self.tally.count_attempt(candidate, verdict)
        return AttemptScored(
            segment=segment, attempt=index, text=candidate.text, tokens=candidate.tokens, reward=reward,
            threshold=threshold, verdict=verdict, elapsed_ms=round(share_ms, 3), eos=candidate.eos,
            cut_entropy=candidate.cut_entropy, round=decision_round,
        )

    def stats(self) -> RunStats:
        return self.tally.stats(self.policy.forward_passes - self._passes_at_start)
