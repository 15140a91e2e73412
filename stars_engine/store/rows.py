"""Events <-> table rows, in one place, so recording and replay cannot drift apart.

Per-run events (attempts, accepted segments, params changes) live in their own
tables and carry ``seq``, the event's position in the run's stream; replay
merges the tables by ``seq``. ``RunStarted`` and the closing event are the
run's own row.
"""

from __future__ import annotations

import json
from typing import Any

from ..events import (
    AttemptScored,
    Event,
    ParamsChanged,
    RunFailed,
    RunFinished,
    RunStarted,
    SegmentAccepted,
    event_from_dict,
)

# table name -> (event class, columns that hold JSON, columns that hold booleans)
STEP_TABLES: dict[str, tuple[type[Event], tuple[str, ...], tuple[str, ...]]] = {
    "attempts": (AttemptScored, (), ("eos",)),
    "segments": (SegmentAccepted, (), ("exhausted",)),
    "param_changes": (ParamsChanged, ("changes", "params"), ()),
}
TABLE_OF = {cls: table for table, (cls, _, _) in STEP_TABLES.items()}


def step_row(run_id: str, seq: int, event: Event) -> tuple[str, dict[str, Any]]:
    """The table and row for an in-run event."""
    table = TABLE_OF[type(event)]
    _, json_cols, bool_cols = STEP_TABLES[table]
    row = {k: v for k, v in event.to_dict().items() if k != "type"}
    for col in json_cols:
        row[col] = json.dumps(row[col])
    for col in bool_cols:
        row[col] = int(row[col])
    return table, {"run_id": run_id, "seq": seq, **row}


def step_event(table: str, row: dict[str, Any]) -> Event:
    """The event a step row was written from."""
    cls, json_cols, bool_cols = STEP_TABLES[table]
    data = {k: v for k, v in row.items() if k not in ("run_id", "seq")}
    for col in json_cols:
        data[col] = json.loads(data[col])
    for col in bool_cols:
        data[col] = bool(data[col])
    return event_from_dict({"type": cls.__name__, **data})


def started_row(event: RunStarted) -> dict[str, Any]:
    return {
        "strategy": event.strategy,
        "params": json.dumps(event.params),
        "messages": json.dumps(event.messages),
        "policy_id": event.policy_id,
        "reward_id": event.reward_id,
        "seed": event.seed,
        "prompt_tokens": event.prompt_tokens,
        "baseline_reward": event.baseline_reward,
        "started_at": event.started_at,
    }


def started_event(run: dict[str, Any]) -> RunStarted:
    return RunStarted(
        strategy=run["strategy"],
        params=json.loads(run["params"]),
        messages=json.loads(run["messages"]),
        policy_id=run["policy_id"],
        reward_id=run["reward_id"],
        seed=run["seed"],
        prompt_tokens=run["prompt_tokens"],
        baseline_reward=run["baseline_reward"],
        started_at=run["started_at"],
    )


def closing_row(event: RunFinished | RunFailed) -> dict[str, Any]:
    if isinstance(event, RunFailed):
        return {"status": "failed", "error": event.message}
    return {
        "status": "finished",
        "stop_reason": event.stop_reason,
        "final_text": event.text,
        "stats": json.dumps(event.stats.to_dict()),
    }


def closing_event(run: dict[str, Any]) -> Event | None:
    """The run's last event, or None for a run that never finished."""
    if run["status"] == "failed":
        return RunFailed(message=run["error"])
    if run["status"] == "finished":
        return event_from_dict(
            {
                "type": "RunFinished",
                "text": run["final_text"],
                "stop_reason": run["stop_reason"],
                "stats": json.loads(run["stats"]),
            }
        )
    return None
