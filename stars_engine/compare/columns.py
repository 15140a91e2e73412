"""The columns of a comparison and their runs.

The columns run side by side on models loaded once, as the policy allows
(``schedule``: at once on a served model, interleaved in-process, else in
turn); each column runs on a sibling of the policy, so its forward passes and
its reply are its own. Each column's seed is derived from one base seed, so a
comparison is repeated exactly by giving that base seed again, whatever the
schedule.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

from ..bench.strategies import StrategySpec, parse_specs
from ..engine import run
from ..errors import StarsError
from ..events import Event, RunFailed, RunFinished, RunStats, last_user_message
from ..params import Params
from ..policy.base import Policy
from ..reward.base import Reward
from .schedule import IN_TURN, Together, check_schedule, merged

MIN_COLUMNS, MAX_COLUMNS = 2, 4
SEED_LIMIT = 2**63 - 1  # Params' own bound on a seed

ColumnWrapper = Callable[["Column", Iterator[Event]], Iterator[Event]]  # a column's run stream, wrapped


@dataclass(frozen=True)
class Column:
    """One strategy of the comparison: its place, spec and the Params (seed included) it runs with."""

    index: int
    spec: StrategySpec
    params: Params

    @property
    def seed(self) -> int:
        assert self.params.seed is not None
        return self.params.seed


def random_seed() -> int:
    """A fresh base seed (printed, so the comparison can be repeated)."""
    return random.SystemRandom().randrange(2**31)


def column_seeds(base: int, count: int) -> list[int]:
    """Column i's seed is ``base + i`` (wrapping inside the seed range): distinct per column, and
    read back from the base seed alone."""
    return [(base + i) % (SEED_LIMIT + 1) for i in range(count)]


def plan(strategies: str, base: Params, base_seed: int) -> list[Column]:
    """The columns ``--strategies`` names, each with its derived seed; 2-4 specs, else a StarsError."""
    specs = parse_specs(strategies, base)
    if not MIN_COLUMNS <= len(specs) <= MAX_COLUMNS:
        raise StarsError(f"compare takes {MIN_COLUMNS} to {MAX_COLUMNS} strategies, got {len(specs)}")
    seeds = column_seeds(base_seed, len(specs))
    return [Column(i, spec, spec.params(base, seed)) for i, (spec, seed) in enumerate(zip(specs, seeds))]


@dataclass
class Outcome:
    """How one column's run ended (filled in as its events pass)."""

    column: Column
    text: str = ""
    stop_reason: str | None = None
    stats: RunStats | None = None
    error: str | None = None
    run_id: str | None = None

    @property
    def judged(self) -> bool:
        """Only a reply that finished (not failed, not cancelled, not skipped) is ranked."""
        return self.stats is not None and self.error is None and self.stop_reason != "cancelled"

    def to_dict(self) -> dict[str, Any]:
        s = self.stats
        return {
            "column": self.column.index,
            "spec": self.column.spec.label,
            "seed": self.column.seed,
            "run_id": self.run_id,
            "stop_reason": self.stop_reason,
            "error": self.error,
            "text": self.text,
            "tokens_generated": s.tokens_generated if s else None,
            "tokens_kept": s.tokens_accepted if s else None,
            "reward_calls": s.reward_calls if s else None,
            "forward_passes": s.policy_forward_passes if s else None,
            "wall_seconds": s.wall_seconds if s else None,
            "guide_reward": s.final_reward if s else None,
        }


@dataclass
class Comparison:
    """The columns on one prompt: ``events()`` runs them, ``outcomes`` says how each ended, ``schedule``
    how they shared the model."""

    columns: list[Column]
    messages: list[dict[str, str]]
    outcomes: list[Outcome] = field(init=False)
    schedule: str = field(init=False, default=IN_TURN)
    policies: list[Policy] = field(init=False, default_factory=list)  # each column's, once events() runs
    _passes_at_start: dict[int, int] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.outcomes = [Outcome(c) for c in self.columns]

    @property
    def prompt(self) -> str:
        return last_user_message(self.messages)

    def passes(self, column: Column) -> int:
        """The forward passes of the column's run so far (0 before it starts)."""
        if column.index not in self._passes_at_start:
            return 0
        return self.policies[column.index].forward_passes - self._passes_at_start[column.index]

    def events(
        self,
        policy: Policy,
        reward: Reward,
        cancel: threading.Event,
        wrap: ColumnWrapper | None = None,
        on_column_end: Callable[[Outcome], None] | None = None,
        schedule: str | None = None,
    ) -> Iterator[tuple[Column, Event]]:
        """Every column's events, tagged with it, in one stream, run as ``schedule`` says (None: as the
        policy allows; a benchmark sets it to measure one against another). ``wrap`` sees each
        column's run stream (its store recorder); after ``cancel`` every running column stops within
        a token, and a column not yet started is left with the error "not run"."""
        self.schedule = check_schedule(policy, schedule)
        siblings = self.schedule != IN_TURN
        self.policies = [cast(Together, policy).sibling() for _ in self.columns] if siblings else [policy] * len(
            self.columns)
        streams = [partial(self._column, column, outcome, column_policy, reward, cancel, wrap, on_column_end)
                   for column, outcome, column_policy in zip(self.columns, self.outcomes, self.policies)]
        try:
            for index, event in merged(self.schedule, streams, cancel):
                yield self.columns[index], event
        finally:
            if siblings:
                for sibling in self.policies:
                    cast(Together, sibling).release()

    def _column(
        self, column: Column, outcome: Outcome, policy: Policy, reward: Reward, cancel: threading.Event,
        wrap: ColumnWrapper | None, on_end: Callable[[Outcome], None] | None,
    ) -> Iterator[Event]:
        """One column's run, its outcome filled in as its events pass."""
        if cancel.is_set():
            outcome.error = "not run"
            return
        self._passes_at_start[column.index] = policy.forward_passes
        stream = run(policy, reward, self.messages, column.params, cancel)
        for event in wrap(column, stream) if wrap else stream:
            if isinstance(event, RunFinished):
                outcome.text, outcome.stop_reason, outcome.stats = event.text, event.stop_reason, event.stats
            elif isinstance(event, RunFailed):
                outcome.error = event.message
            yield event
        if outcome.stats is None and outcome.error is None:
            outcome.error = "the run ended without a result"
        if on_end is not None:
            on_end(outcome)
