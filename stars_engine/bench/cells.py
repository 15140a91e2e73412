"""Run the bench grid (prompt x strategy x seed) one cell at a time, resumably.

A cell's key hashes everything that decides its outcome (prompt text, the full
Params including seed and max_new_tokens, both model ids), so a resumed run
reuses a cell only when it would have been run the same way again. A cell that
ended in ``RunFailed`` is written too (its error counts in the summary) but is
tried again on the next run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..engine import run
from ..events import Event, RunFailed, RunFinished, SegmentAccepted
from ..params import Params
from ..policy.base import Policy
from ..reward.base import Reward
from .log import JsonlLog, digest
from .prompts import BenchPrompt
from .strategies import StrategySpec

EventWrapper = Callable[[Iterator[Event]], Iterator[Event]]


@dataclass(frozen=True)
class Cell:
    prompt: BenchPrompt
    spec: StrategySpec
    seed: int
    params: Params

    def key(self, policy: Policy, reward_id: str) -> str:
        """The cell's identity. A policy run in another dtype than fp32 is another policy; fp32 adds
        nothing, so cells recorded before the dtype was a choice (all fp32) keep their keys."""
        dtype = policy.runtime.get("dtype", "fp32")
        variant = () if dtype in ("fp32", "float32") else (dtype,)
        return digest(self.prompt.prompt, self.params.to_dict(), policy.model_id, reward_id, *variant)


def grid(prompts: list[BenchPrompt], specs: list[StrategySpec], seeds: list[int], base: Params) -> list[Cell]:
    """Every cell, prompt-major so an interrupted run has whole prompts done."""
    return [Cell(p, s, seed, s.params(base, seed)) for p in prompts for seed in seeds for s in specs]


def finished(record: dict[str, Any] | None) -> bool:
    return record is not None and not record.get("error")


def _record(cell: Cell, key: str, policy: Policy, reward: Reward, events: list[Event]) -> dict[str, Any]:
    base = {
        "key": key,
        "prompt_id": cell.prompt.id,
        "category": cell.prompt.category,
        "prompt": cell.prompt.prompt,
        "strategy": cell.spec.label,
        "kind": cell.params.strategy,
        "seed": cell.seed,
        "params": cell.params.to_dict(),
        "policy_id": policy.model_id,
        "reward_id": reward.reward_id,
        "runtime": dict(policy.runtime),
    }
    end = events[-1] if events else None
    if not isinstance(end, RunFinished):
        message = end.message if isinstance(end, RunFailed) else "the run ended without a result"
        return {**base, "error": message}
    if end.stop_reason == "cancelled":
        return {**base, "error": "cancelled"}
    segments = [e for e in events if isinstance(e, SegmentAccepted)]
    stats = end.stats
    return {
        **base,
        "error": None,
        "text": end.text,
        "stop_reason": end.stop_reason,
        "guide_reward": stats.final_reward,
        "stats": stats.to_dict(),
        "attempts_per_segment": stats.attempts / stats.segments if stats.segments else None,
        "exhausted_segments": sum(s.exhausted for s in segments),
    }


def run_cells(
    policy: Policy,
    reward: Reward,
    cells: list[Cell],
    log: JsonlLog,
    on_cell: Callable[[Cell, dict[str, Any], bool], None] | None = None,
    wrap: EventWrapper | None = None,
    cancel: threading.Event | None = None,
) -> list[dict[str, Any]]:
    """Run each unfinished cell, append its record to ``log`` at once; return all records.

    ``on_cell(cell, record, skipped)`` is called after every cell (for a
    progress bar); ``wrap`` sees each run's event stream (to record it into
    the store).
    """
    done = log.load()
    records = []
    for cell in cells:
        key = cell.key(policy, reward.reward_id)
        record = done.get(key)
        skipped = finished(record)
        if not skipped:
            messages = [{"role": "user", "content": cell.prompt.prompt}]
            stream = run(policy, reward, messages, cell.params, cancel)
            events = list(wrap(stream) if wrap else stream)
            record = _record(cell, key, policy, reward, events)
            log.append(record)
        assert record is not None
        records.append(record)
        if on_cell:
            on_cell(cell, record, skipped)
        if cancel is not None and cancel.is_set():
            break
    return records
