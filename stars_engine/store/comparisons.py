"""A comparison (``stars compare``, the compare screen) as one record that links its columns' runs.

Each column of a comparison is recorded as an ordinary run as it happens; once
every column has ended, ``record_comparison`` writes the ``comparisons`` row
(prompt, base seed, each column's spec, the compare's summary) and points each
column's run at it (``runs.comparison_id`` / ``runs.comparison_column``), in
one transaction, so a comparison is never half linked. The readers give the
columns back in column order with their runs; ``timeline`` lays the columns'
events on one clock, each at its recorded offset, for replaying them together.

The importer writes the same rows through ``insert_comparison`` and reads the
same ``ComparisonLine`` the JSONL export writes, so the checks live here once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from ..display.controls import valid_text
from ..errors import StarsError
from ..events import AttemptScored, Event
from .connect import connect, write
from .ids import new_id
from .replay import MAX_PAUSE_S
from .rows import DamagedRow, loads, typed
from .store import RUN_COLUMNS, RunInfo, Store, _run_info, reading

MAX_COLUMNS = 8  # compare plans 2-4; the record has room for a wider one without a migration
SEED_RANGE = (0, 2**63 - 1)


@dataclass(frozen=True)
class ComparedColumn:
    """One column: its place, the spec it ran and its run (None: the column never started, or was not saved)."""

    index: int
    spec: str
    run: RunInfo | None


@dataclass(frozen=True)
class Comparison:
    """A recorded comparison with its columns in column order."""

    id: str
    session_id: str
    turn: int  # the turn it answered; -1 when none of its columns was recorded
    prompt: str
    base_seed: int
    created_at: str
    summary: dict[str, Any]  # what the compare produced (verdict lines, winners); {} : none
    columns: tuple[ComparedColumn, ...]

    def winners(self) -> list[tuple[str, int | None]]:
        """(what, winning column or None for a tie) for the guide reward and each judge the summary names."""
        return summary_winners(self.summary)

    def verdict_lines(self) -> list[str]:
        """The compare's verdict lines, as it printed them (empty when the summary holds none)."""
        lines = self.summary.get("verdict_lines")
        return [line for line in lines if isinstance(line, str)] if isinstance(lines, list) else []


def summary_winners(summary: dict[str, Any]) -> list[tuple[str, int | None]]:
    """Who won in a ``CompareSummary`` (``stars_engine.compare.summarize``): the guide reward's winner,
    then each judge's. Read leniently: a summary from an imported file may hold less."""
    found: list[tuple[str, int | None]] = []

    def winner(what: str, result: Any) -> None:
        if isinstance(result, dict):
            index = result.get("winner")
            found.append((what, index if isinstance(index, int) and not isinstance(index, bool) else None))

    winner("guide reward", summary.get("guide"))
    judges = summary.get("judges")
    for name, judged in (judges.items() if isinstance(judges, dict) else ()):
        winner(f"{name} judge", judged.get("result") if isinstance(judged, dict) else None)
    return found


# -- the JSONL line, shared by the export and the import ------------------------------------------------
class ColumnLine(msgspec.Struct, forbid_unknown_fields=True):
    column: int
    spec: str
    run_id: str | None = None


class ComparisonLine(msgspec.Struct, forbid_unknown_fields=True):
    """A ``{"type": "comparison", ...}`` line of a session export: after the session's runs."""

    id: str
    turn: int
    prompt: str
    base_seed: int
    created_at: str
    columns: list[ColumnLine]
    summary: dict[str, Any] = msgspec.field(default_factory=dict)
    type: str = "comparison"


def to_line(comparison: Comparison) -> dict[str, Any]:
    """The comparison as its JSONL line (a dict for the export's one JSON writer)."""
    return {
        "type": "comparison",
        "id": comparison.id,
        "turn": comparison.turn,
        "prompt": comparison.prompt,
        "base_seed": comparison.base_seed,
        "created_at": comparison.created_at,
        "columns": [{"column": c.index, "spec": c.spec, "run_id": c.run.id if c.run else None}
                    for c in comparison.columns],
        **({"summary": comparison.summary} if comparison.summary else {}),
    }


# -- writing -----------------------------------------------------------------------------------------
def _summary_text(summary: dict[str, Any] | None) -> str:
    """The summary as stored: JSON, "" for none; a value JSON cannot hold is refused in one line."""
    if not summary:
        return ""
    if not isinstance(summary, dict):
        raise StarsError(f"a comparison's summary must be a JSON object, got {type(summary).__name__}")
    try:
        return json.dumps(summary, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise StarsError(f"cannot record the comparison's summary: {exc}") from None


def checked_columns(columns: Sequence[tuple[int, str, str | None]]) -> list[tuple[int, str, str | None]]:
    """Column order, each index once, a spec of text, at most ``MAX_COLUMNS``; else one line why not."""
    if not 1 <= len(columns) <= MAX_COLUMNS:
        raise StarsError(f"a comparison has 1 to {MAX_COLUMNS} columns, got {len(columns)}")
    ordered = sorted(columns, key=lambda c: c[0])
    indices = [c[0] for c in ordered]
    if any(type(i) is not int or i < 0 for i in indices) or len(set(indices)) != len(indices):
        raise StarsError(f"a comparison's column indices must be distinct integers >= 0, got {indices}")
    for index, spec, run_id in ordered:
        if not isinstance(spec, str) or not spec.strip():
            raise StarsError(f"column {index} needs a spec")
        valid_text(spec, f"column {index}'s spec")
        if run_id is not None and not isinstance(run_id, str):
            raise StarsError(f"column {index}'s run id must be text or None")
    runs = [c[2] for c in ordered if c[2] is not None]
    if len(set(runs)) != len(runs):
        raise StarsError("a run cannot be two columns of one comparison")
    return ordered


def insert_comparison(db: Any, row: dict[str, Any], columns: Sequence[tuple[int, str, str | None]]) -> None:
    """Write one comparison row and link its runs, inside the caller's transaction.

    ``row`` holds every ``comparisons`` column but ``columns``. Each run must be
    a run of the comparison's session that no comparison holds yet.
    """
    session_id = row["session_id"]
    for index, _, run_id in columns:
        if run_id is None:
            continue
        found = db.execute("SELECT session_id, comparison_id, comparison_column FROM runs WHERE id = ?",
                           [run_id]).fetchone()
        if found is None:
            raise StarsError(f"column {index}: no run {run_id}")
        if found[0] != session_id:
            raise StarsError(f"column {index}: run {run_id} is in session {found[0]}, not {session_id}")
        if found[1]:
            raise StarsError(f"column {index}: run {run_id} is already column {found[2]} of comparison {found[1]}")
    if db.execute("SELECT 1 FROM comparisons WHERE id = ?", [row["id"]]).fetchone() is not None:
        raise StarsError(f"comparison {row['id']} is already in this database")
    stored = {**row, "columns": json.dumps([[index, spec] for index, spec, _ in columns], ensure_ascii=False)}
    db.execute(f"INSERT INTO comparisons ({', '.join(stored)}) VALUES ({', '.join('?' * len(stored))})",
               list(stored.values()))
    for index, _, run_id in columns:
        if run_id is not None:
            db.execute("UPDATE runs SET comparison_id = ?, comparison_column = ? WHERE id = ?",
                       [row["id"], index, run_id])


def record_comparison(db_path: Path, session_id: str, turn: int | None, prompt: str, base_seed: int,
                      columns: Sequence[tuple[int, str, str | None]],  # (column index, spec label, run id or None)
                      summary: dict[str, Any] | None) -> str:
    """Record a comparison whose columns' runs are already in ``session_id``; returns its id.

    ``turn`` None: the lowest turn of its runs (the turn its columns share, as
    ``ColumnRecorders`` records them), -1 when none was recorded. ``summary`` is the
    compare's JSON summary (``stars_engine.compare.summarize``, optionally with
    ``verdict_lines``: the lines it printed); None or {} for none. Refused in
    one line, writing nothing: a session or run that is not there, a run of
    another session or already in a comparison, repeated columns, a summary
    JSON cannot hold.
    """
    ordered = checked_columns(columns)
    valid_text(prompt, "the comparison's prompt")
    if type(base_seed) is not int or not SEED_RANGE[0] <= base_seed <= SEED_RANGE[1]:
        raise StarsError(f"a comparison's base seed must be an integer from 0 to 2**63-1, got {base_seed!r}")
    if turn is not None and (type(turn) is not int or turn < -1):
        raise StarsError(f"a comparison's turn must be an integer >= 0, got {turn!r}")
    summary_text = _summary_text(summary)
    db = connect(Path(db_path), verify=True)
    try:
        with write(db):
            if db.execute("SELECT 1 FROM sessions WHERE id = ?", [session_id]).fetchone() is None:
                raise StarsError(f"no session {session_id} in {db_path}")
            if turn is None:
                run_ids = [c[2] for c in ordered if c[2] is not None]
                marks = ", ".join("?" * len(run_ids))
                lowest = db.execute(f"SELECT min(turn) FROM runs WHERE id IN ({marks})", run_ids).fetchone()
                turn = lowest[0] if run_ids and lowest[0] is not None else -1
            comparison_id = new_id()
            row = {"id": comparison_id, "session_id": session_id, "turn": turn, "prompt": prompt,
                   "base_seed": base_seed, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                   "summary": summary_text}
            insert_comparison(db, row, ordered)
    finally:
        db.close()
    return comparison_id


# -- reading -----------------------------------------------------------------------------------------
COMPARISON_COLUMNS = "id, session_id, turn, prompt, base_seed, created_at, columns, summary"


def _comparison(store: Store, row: dict[str, Any]) -> Comparison:
    what = f"comparison {row['id']!r:.40}"
    specs = typed(loads(row["columns"], f"{what} columns"), list[tuple[int, str]], f"{what} columns")
    summary = {}
    if row["summary"]:
        summary = typed(loads(row["summary"], f"{what} summary"), dict[str, Any], f"{what} summary")
    runs = {run["comparison_column"]: _run_info(run) for run in store.db.query(
        f"SELECT {RUN_COLUMNS} FROM runs WHERE comparison_id = ? ORDER BY comparison_column", [row["id"]])}
    stray = sorted(set(runs) - {index for index, _ in specs})
    if stray:
        raise DamagedRow(f"{what}: run {runs[stray[0]].id} is its column {stray[0]}, which it does not have")
    columns = tuple(ComparedColumn(index, spec, runs.get(index)) for index, spec in sorted(specs))
    fields = {k: row[k] for k in ("id", "session_id", "turn", "prompt", "base_seed", "created_at")}
    head = typed(fields, _Head, what)
    return Comparison(**vars(head), summary=summary, columns=columns)


@dataclass(frozen=True)
class _Head:
    id: str
    session_id: str
    turn: int
    prompt: str
    base_seed: int
    created_at: str


@reading
def comparisons_of(store: Store, session_id: str) -> list[Comparison]:
    """The session's comparisons, oldest first, each with its columns and their runs."""
    store.session(session_id)
    rows = store.db.query(f"SELECT {COMPARISON_COLUMNS} FROM comparisons WHERE session_id = ? "
                          "ORDER BY created_at, rowid", [session_id])
    return [_comparison(store, row) for row in list(rows)]


@reading
def load_comparison(store: Store, comparison_id: str) -> Comparison:
    """One comparison with its columns (in column order) and their runs."""
    rows = list(store.db.query(f"SELECT {COMPARISON_COLUMNS} FROM comparisons WHERE id = ?", [comparison_id]))
    if not rows:
        raise StarsError(f"no comparison with id {comparison_id!r}")
    return _comparison(store, rows[0])


@reading
def comparison_events(store: Store, comparison: Comparison) -> list[list[Event]]:
    """Each column's recorded events, in column order ([] for a column with no run)."""
    return [store.run_events(c.run.id) if c.run else [] for c in comparison.columns]


# -- replaying the columns together -----------------------------------------------------------------
def offsets(events: Sequence[Event]) -> list[float]:
    """Each event's recorded time from its run's start, in seconds: the attempts' times added up
    (each capped at ``MAX_PAUSE_S``, as a replay caps a pause, so a slow first load never stalls it)."""
    at, out = 0.0, []
    for event in events:
        if isinstance(event, AttemptScored):
            at += min(max(event.elapsed_ms, 0.0) / 1000, MAX_PAUSE_S)
        out.append(at)
    return out


def timeline(columns: Sequence[Sequence[Event]]) -> list[tuple[float, int, Event]]:
    """Every column's events on one clock, as (offset s, column position, event): all columns start at 0
    (they ran one after another; replayed, they run together), ties in column order."""
    merged = [(at, position, order, event)
              for position, events in enumerate(columns)
              for order, (at, event) in enumerate(zip(offsets(events), events, strict=True))]
    merged.sort(key=lambda item: item[:3])
    return [(at, position, event) for at, position, _, event in merged]


def pace_together(columns: Sequence[Sequence[Event]], speed: float | None = None,
                  sleep: Callable[[float], object] = time.sleep) -> Iterator[tuple[int, Event]]:
    """(column position, event) along ``timeline``, waiting out the recorded time between events divided
    by ``speed`` (None or 0: at once), as ``replay.pace`` does for one run."""
    if speed is not None and speed < 0:
        raise StarsError(f"speed must be 0 (no pacing) or more, got {speed}")
    now = 0.0
    for at, position, event in timeline(columns):
        if speed and at > now:
            sleep((at - now) / speed)
            now = at
        yield position, event
