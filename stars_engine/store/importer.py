"""Read a JSONL export back into a database: export -> import -> export is the identity.

The whole file is parsed and checked before anything is written, and then
written in one transaction, so a bad line adds nothing to the database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import StarsError
from ..events import Event, RunStarted, event_from_dict
from .connect import write
from .export import JSONL_FORMAT, JSONL_VERSION
from .recorder import RunWriter
from .store import Store

OPEN_STATUSES = ("running", "interrupted")


@dataclass
class _Run:
    header: dict[str, Any]
    events: list[Event] = field(default_factory=list)


@dataclass
class _Session:
    header: dict[str, Any]
    runs: list[_Run] = field(default_factory=list)


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
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise StarsError(f"{path} line {number}: not JSON ({exc.msg})") from None
        if not isinstance(data, dict) or "type" not in data:
            raise StarsError(f'{path} line {number}: expected an object with a "type"')
        out.append((number, data))
    return out


def _session_header(path: Path, number: int, data: dict[str, Any]) -> dict[str, Any]:
    if data.get("format") != JSONL_FORMAT:
        raise StarsError(f"{path} line {number}: not a stars session export")
    if not isinstance(data.get("version"), int) or data["version"] > JSONL_VERSION:
        raise StarsError(f"{path} was written by a newer version of stars (format {data.get('version')})")
    if not data.get("id") or not data.get("title"):
        raise StarsError(f"{path} line {number}: the session line needs an id and a title")
    return data


def parse(path: Path) -> list[_Session]:
    """The sessions in a JSONL export, checked line by line."""
    sessions: list[_Session] = []
    for number, data in _lines(path):
        kind = data["type"]
        if kind == "session":
            sessions.append(_Session(_session_header(path, number, data)))
        elif not sessions:
            raise StarsError(f"{path} line {number}: expected a session line first")
        elif kind == "run":
            if not data.get("id"):
                raise StarsError(f"{path} line {number}: the run line needs an id")
            sessions[-1].runs.append(_Run(data))
        elif not sessions[-1].runs:
            raise StarsError(f"{path} line {number}: an event before any run line")
        else:
            try:
                event = event_from_dict(data)
            except (TypeError, ValueError, KeyError) as exc:
                raise StarsError(f"{path} line {number}: not a valid {kind} event ({exc})") from None
            run = sessions[-1].runs[-1]
            if not run.events and not isinstance(event, RunStarted):
                raise StarsError(f"{path} line {number}: a run must begin with RunStarted")
            run.events.append(event)
    if not sessions:
        raise StarsError(f"{path} holds no session")
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


def import_jsonl(store: Store, path: Path) -> list[str]:
    """Add the sessions of a JSONL export to ``store``; returns their ids.

    Ids are kept, so importing the same file twice is refused rather than
    duplicating it.
    """
    sessions = parse(path)
    with write(store.db):
        return [_write_session(store, session) for session in sessions]
