"""Read a JSONL export back into a database: export -> import -> export is the identity.

The whole file is parsed and checked before anything is written, and then
written in one transaction, so a bad line adds nothing to the database.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import StarsError
from ..events import Event
from .connect import write
from .event_check import RunChecker, checked_event
from .export import JSONL_FORMAT, JSONL_VERSION
from .recorder import RunWriter
from .store import Store

OPEN_STATUSES = ("running", "interrupted")


@dataclass
class _Run:
    header: dict[str, Any]
    events: list[Event] = field(default_factory=list)
    order: RunChecker = field(default_factory=RunChecker)


@dataclass
class _Session:
    header: dict[str, Any]
    runs: list[_Run] = field(default_factory=list)


ID_PATTERN = re.compile(r"[0-9a-z][0-9a-z_-]{0,63}")  # what new_id makes, with room for other tools' ids
RUN_STATUSES = ("finished", "failed", *OPEN_STATUSES)


def _not_a_number(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def _lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StarsError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line, parse_constant=_not_a_number)
        except json.JSONDecodeError as exc:
            raise StarsError(f"{path} line {number}: not JSON ({exc.msg})") from None
        except ValueError as exc:  # NaN, Infinity
            raise StarsError(f"{path} line {number}: {exc}") from None
        if not isinstance(data, dict) or "type" not in data:
            raise StarsError(f'{path} line {number}: expected an object with a "type"')
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise StarsError(f"{path} line {number}: text with a lone surrogate (\\ud800…) is not valid") from None
        out.append((number, data))
    return out


def _checked_id(path: Path, number: int, data: dict[str, Any], what: str) -> None:
    if not isinstance(data.get("id"), str) or not ID_PATTERN.fullmatch(data["id"]):
        raise StarsError(f"{path} line {number}: the {what} line needs an id of lowercase letters and digits")


def _optional_text(path: Path, number: int, data: dict[str, Any], *names: str) -> None:
    for name in names:
        if data.get(name) is not None and not isinstance(data[name], str):
            raise StarsError(f"{path} line {number}: {name} must be text")


def _session_header(path: Path, number: int, data: dict[str, Any]) -> dict[str, Any]:
    if data.get("format") != JSONL_FORMAT:
        raise StarsError(f"{path} line {number}: not a stars session export")
    if not isinstance(data.get("version"), int) or data["version"] > JSONL_VERSION:
        raise StarsError(f"{path} was written by a newer version of stars (format {data.get('version')})")
    _checked_id(path, number, data, "session")
    if not isinstance(data.get("title"), str) or not data["title"].strip():
        raise StarsError(f"{path} line {number}: the session line needs a title")
    _optional_text(path, number, data, "created_at", "updated_at")
    return data


def _run_header(path: Path, number: int, data: dict[str, Any]) -> _Run:
    _checked_id(path, number, data, "run")
    if data.get("status") not in RUN_STATUSES:
        raise StarsError(f"{path} line {number}: unknown run status {data.get('status')!r}")
    _optional_text(path, number, data, "finished_at")
    return _Run(data)


def _add_event(path: Path, number: int, run: _Run, data: dict[str, Any]) -> None:
    try:
        event = checked_event(data)
        run.order.add(event)
    except StarsError as exc:
        raise StarsError(f"{path} line {number}: {exc}") from None
    run.events.append(event)


def parse(path: Path) -> list[_Session]:
    """The sessions in a JSONL export, every line checked as the engine would have written it."""
    sessions: list[_Session] = []
    for number, data in _lines(path):
        kind = data["type"]
        if kind == "session":
            sessions.append(_Session(_session_header(path, number, data)))
        elif not sessions:
            raise StarsError(f"{path} line {number}: expected a session line first")
        elif kind == "run":
            sessions[-1].runs.append(_run_header(path, number, data))
        elif not sessions[-1].runs:
            raise StarsError(f"{path} line {number}: an event before any run line")
        else:
            _add_event(path, number, sessions[-1].runs[-1], data)
    if not sessions:
        raise StarsError(f"{path} holds no session")
    for session in sessions:
        empty = next((run for run in session.runs if not run.events), None)
        if empty is not None:
            raise StarsError(f"{path}: run {empty.header['id']} has no events")
    return sessions


def _write_session(store: Store, session: _Session) -> str:
    db, head = store.db, session.header
    if db["sessions"].count_where("id = ?", [head["id"]]):
        raise StarsError(f"session {head['id']} is already in {store.path} (imported before?)")
    db["sessions"].insert(
        {
            "id": head["id"],
            "title": head["title"],
            "created_at": head.get("created_at") or "",
            "updated_at": head.get("updated_at") or "",
        }
    )
    for run in session.runs:
        writer = RunWriter(db, session_id=head["id"], run_id=run.header["id"])
        finished_at = run.header.get("finished_at")
        for event in run.events:
            writer.write(event, at=finished_at if event is run.events[-1] else None)
        if run.header.get("status") in OPEN_STATUSES and writer.run_id is not None:
            db["runs"].update(writer.run_id, {"status": "interrupted", "pid": None})
    db["sessions"].update(head["id"], {"updated_at": head.get("updated_at") or ""})
    return head["id"]


def import_sessions(store: Store, sessions: list[_Session]) -> list[str]:
    """Add parsed sessions to ``store`` in one transaction; returns their ids.

    Ids are kept, so importing the same file twice is refused rather than
    duplicating it.
    """
    with write(store.db):
        return [_write_session(store, session) for session in sessions]


def import_jsonl(store: Store, path: Path) -> list[str]:
    """Add the sessions of a JSONL export to ``store``; returns their ids."""
    return import_sessions(store, parse(path))
