"""Events <-> table rows, in one place, so recording and replay cannot drift apart.

Per-run events (attempts, accepted segments, params changes) live in their own
tables and carry ``seq``, the event's position in the run's stream; replay
merges the tables by ``seq``. ``RunStarted`` and the closing event are the
run's own row.

A row read back is checked as an imported line is (``event_check``): a
database edited by hand (a NULL where text belongs, ``stats`` that is not
JSON) raises ``DamagedRow`` naming the row, never a traceback further on.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

import msgspec

from ..errors import StarsError
from ..events import (
    AttemptScored,
    Event,
    ParamsChanged,
    RunFailed,
    RunFinished,
    RunStarted,
    SegmentAccepted,
)
from .event_check import checked_event, range_problem, reason


class DamagedRow(StarsError):
    """A stored row that is not what stars writes (the database was edited by hand, or by another tool)."""


def loads(value: Any, column: str) -> Any:
    """A JSON column's value; DamagedRow when it is not JSON."""
    if not isinstance(value, str):
        raise DamagedRow(f"{column} is {type(value).__name__}, not JSON text")
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        raise DamagedRow(f"{column} is not JSON ({value!r:.40})") from None


def typed(data: Any, cls: Any, what: str) -> Any:
    """``data`` converted to ``cls`` by msgspec (a stored row's shape), or DamagedRow saying which field is wrong."""
    try:
        value = msgspec.convert(data, cls)
    except msgspec.ValidationError as exc:
        raise DamagedRow(f"{what}: {reason(exc)}") from None
    problem = range_problem(value)
    if problem:
        raise DamagedRow(f"{what}: {problem}")
    return value


def _event(data: dict[str, Any], what: str) -> Event:
    try:
        return checked_event(data)
    except StarsError as exc:
        raise DamagedRow(f"{what}: {exc}") from None

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


def step_event(table: str, values: tuple[Any, ...], where: str = "") -> Event:
    """The event a step row was written from; ``values`` are the ``step_columns`` in order."""
    cls, json_cols, bool_cols = STEP_TABLES[table]
    named: dict[str, Any] = {"type": cls.__name__, **dict(zip(step_columns(table), values, strict=True))}
    what = f"{where}{table} row"
    for col in json_cols:
        named[col] = loads(named[col], f"{what} {col}")
    for col in bool_cols:
        if named[col] in (0, 1):
            named[col] = bool(named[col])
    return _event(named, what)


STARTED_JSON = ("params", "messages", "runtime", "rubric")  # RunStarted fields kept as JSON text in the runs row


def started_row(event: RunStarted) -> dict[str, Any]:
    row = {f.name: getattr(event, f.name) for f in fields(RunStarted)}
    text = {k: json.dumps(row[k]) for k in STARTED_JSON}
    text["rubric"] = text["rubric"] if event.rubric else ""  # "" : a reward without a rubric (as before 0006)
    return {**row, **text}


def started_event(run: dict[str, Any]) -> RunStarted:
    what = f"run {run['id']}"
    data = {"type": "RunStarted", **{f.name: run[f.name] for f in fields(RunStarted)}}
    data["runtime"] = {} if data["runtime"] is None else data["runtime"]  # runs recorded before 0002 have none
    data["rubric"] = data["rubric"] or {}  # "" : no rubric
    data["started_at"] = data["started_at"] or ""
    decoded = {k: loads(data[k], f"{what} {k}") for k in STARTED_JSON if isinstance(data[k], str)}
    return _event({**data, **decoded}, what)  # type: ignore[return-value]


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
    what = f"run {run['id']}"
    if run["status"] == "failed":
        return _event({"type": "RunFailed", "message": run["error"]}, what)
    if run["status"] == "finished":
        return _event(
            {
                "type": "RunFinished",
                "text": run["final_text"],
                "stop_reason": run["stop_reason"],
                "stats": loads(run["stats"], f"{what} stats"),
            },
            what,
        )
    return None
