"""Events <-> table rows, in one place, so recording and replay cannot drift apart.

Per-run events (attempts, accepted segments, params changes) live in their own
tables and carry ``seq``, the event's position in the run's stream; replay
merges the tables by ``seq``. ``RunStarted`` and the closing event are the
run's own row.
"""

from __future__ import annotations

import json
from dataclasses import fields
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


def step_insert(run_id: str, seq: int, event: Event) -> tuple[str, list[Any]]:
    """The INSERT statement and its values for an in-run event (plain SQL: this is the hot path)."""
    table = TABLE_OF[type(event)]
    _, json_cols, bool_cols = STEP_TABLES[table]
    columns = step_columns(table)
    values: list[Any] = [run_id, seq]
    for name in columns:
        value = getattr(event, name)
        values.append(json.dumps(value) if name in json_cols else int(value) if name in bool_cols else value)
    marks = ", ".join("?" * len(values))
    return f"INSERT INTO {table} (run_id, seq, {', '.join(columns)}) VALUES ({marks})", values


def step_columns(table: str) -> list[str]:
    """The table's event columns, in the order of the event's fields (so a row is its arguments)."""
    return [f.name for f in fields(STEP_TABLES[table][0])]


def step_event(table: str, values: tuple[Any, ...]) -> Event:
    """The event a step row was written from; ``values`` are the ``step_columns`` in order."""
    cls, json_cols, bool_cols = STEP_TABLES[table]
    if json_cols or bool_cols:
        named = dict(zip(step_columns(table), values, strict=True))
        for col in json_cols:
            named[col] = json.loads(named[col])
        for col in bool_cols:
            named[col] = bool(named[col])
        return cls(**named)
    return cls(*values)


STARTED_JSON = ("params", "messages", "runtime")  # RunStarted fields kept as JSON text in the runs row


def started_row(event: RunStarted) -> dict[str, Any]:
    row = {f.name: getattr(event, f.name) for f in fields(RunStarted)}
    return {**row, **{k: json.dumps(row[k]) for k in STARTED_JSON}}


def started_event(run: dict[str, Any]) -> RunStarted:
    data = {f.name: run[f.name] for f in fields(RunStarted)}
    decoded = {k: json.loads(data[k]) for k in STARTED_JSON if data[k] is not None}
    return RunStarted(**{**data, "runtime": {}, **decoded})  # runs recorded before 0002 have no runtime


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
