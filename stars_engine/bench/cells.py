"""Run the bench grid (prompt x strategy x seed) one cell at a time, resumably.

A cell's key hashes everything that decides its outcome (prompt text, the full
Params including seed and max_new_tokens, both model ids), so a resumed run
reuses a cell only when it would have been run the same way again. A cell that
ended in ``RunFailed`` is written too (its error counts in the summary) but is
tried again on the next run.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
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

# Params fields added after cells were recorded: at their default they stay out of a cell's key,
# so a bench recorded before they existed resumes instead of running every cell again.
LATER_FIELDS = ("particles", "smc_temperature", "ess_threshold", "beam_width", "beam_expansions")


def messages(prompt: str, system: str = "") -> list[dict[str, str]]:
    """What a cell sends: its system prompt first (if any), then the prompt (also read back from a record)."""
    first = [{"role": "system", "content": system}] if system else []
    return [*first, {"role": "user", "content": prompt}]


@dataclass(frozen=True)
class Cell:
    prompt: BenchPrompt
    spec: StrategySpec
    seed: int
    params: Params
    system: str = ""  # the system prompt every cell is given first ("" for none)

    def messages(self) -> list[dict[str, str]]:
        return messages(self.prompt.prompt, self.system)

    def key(self, policy: Policy, reward_id: str) -> str:
        """The cell's identity. A policy run in another dtype than fp32, or on packed weights, is
        another policy; fp32 and dense add nothing, so cells recorded before either was a choice
        keep their keys."""
        dtype = policy.runtime.get("dtype", "fp32")
        weights = policy.runtime.get("weights", "dense")
        variant = (() if dtype in ("fp32", "float32") else (dtype,)) + (() if weights == "dense" else (weights,))
        variant += ({"system": self.system},) if self.system else ()  # another system prompt, another cell
        params = self.params.to_dict()
        defaults = Params().to_dict()
        for name in LATER_FIELDS:
            if params[name] == defaults[name]:
                del params[name]
        return digest(self.prompt.prompt, params, policy.model_id, reward_id, *variant)


def grid(prompts: list[BenchPrompt], specs: list[StrategySpec], seeds: list[int], base: Params,
         system: str = "") -> list[Cell]:
    """Every cell, prompt-major so an interrupted run has whole prompts done."""
    return [Cell(p, s, seed, s.params(base, seed), system) for p in prompts for seed in seeds for s in specs]


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
        **({"system": cell.system} if cell.system else {}),
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
    workers: Sequence[Policy] = (),
) -> list[dict[str, Any]]:
    """Run each unfinished cell, append its record to ``log`` at once; return all records.

    ``on_cell(cell, record, skipped)`` is called after every cell (for a
    progress bar); ``wrap`` sees each run's event stream (to record it into
    the store). ``workers`` are more policies of the same model (served
    replicas): with them, one cell per policy is in flight at a time, so a
    server batches across replies. Records come back in ``cells`` order.
    """
    pool = [policy, *workers]
    idle: queue.SimpleQueue[Policy] = queue.SimpleQueue()
    for p in pool:
        idle.put(p)
    stop = cancel or threading.Event()
    done = log.load()
    records: dict[int, dict[str, Any]] = {}

    def play(cell: Cell, key: str) -> dict[str, Any]:
        mine = idle.get()
        try:
            stream = run(mine, reward, cell.messages(), cell.params, stop)  # rewards take concurrent calls
            return _record(cell, key, mine, reward, list(wrap(stream) if wrap else stream))
        finally:
            idle.put(mine)

    with ThreadPoolExecutor(max_workers=len(pool), thread_name_prefix="bench-cell") as executor:
        running: dict[Future, tuple[int, Cell]] = {}
        try:
            for i, cell in enumerate(cells):
                key = cell.key(policy, reward.reward_id)
                if finished(done.get(key)):  # reused under this run's label: the key is the settings
                    records[i] = {**done[key], "strategy": cell.spec.label}
                    if on_cell:
                        on_cell(cell, records[i], True)
                    continue
                if stop.is_set():
                    break
                if len(running) == len(pool):
                    _collect(running, records, log, on_cell, FIRST_COMPLETED)
                if not stop.is_set():
                    running[executor.submit(play, cell, key)] = (i, cell)
            _collect(running, records, log, on_cell, ALL_COMPLETED)
        except BaseException:
            stop.set()  # in-flight runs end at their next token; nothing new starts
            raise
    return [records[i] for i in sorted(records)]


def _collect(running, records, log, on_cell, return_when) -> None:
    """Wait for in-flight cells; log each finished one at once (one thread writes the log)."""
    finished_now, _ = wait(list(running), return_when=return_when)
    for future in finished_now:
        i, cell = running.pop(future)
        records[i] = future.result()
        log.append(records[i])
        if on_cell:
            on_cell(cell, records[i], False)

