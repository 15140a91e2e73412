"""Read a JSONL export back into a database: export -> import -> export is the identity.

The file is read twice, a line at a time, so its size never becomes memory:
the first pass checks every line (shape, order, ids) before anything is
written, so a bad line adds nothing; the second writes it in short
transactions (``COMMIT_ROWS`` rows or ``COMMIT_S`` seconds each, then a pause),
so a run recording into the same database gets the lock between them.

Lines end at ``\\n`` only: U+2028, U+2029 and U+0085 are text (the exporter
escapes them anyway). A line longer than ``MAX_LINE_BYTES`` is refused.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from ..bounded_read import open_regular
from ..errors import StarsError
from ..events import Event, RunFailed, RunFinished
from .comparisons import SEED_RANGE, ComparisonLine, checked_columns, insert_comparison
from .connect import begin
from .event_check import RunChecker, checked_event_json, decode, decode_line, timestamp_problem
from .export import JSONL_FORMAT, JSONL_VERSION
from .recorder import RunWriter
from .store import Store, delete_rows
from .turns import REMOVED_AS

OPEN_STATUSES = ("running", "interrupted")
RUN_STATUSES = ("finished", "failed", *OPEN_STATUSES)
MAX_LINE_BYTES = 16 * 1024 * 1024  # one event; a RunStarted holds the whole chat so far
COMMIT_ROWS = 2000  # an import commits after this many events ...
COMMIT_S = 0.1  # ... or this many seconds, whichever comes first,
PAUSE_S = 0.02  # and leaves the lock free this long for a recording run
ID_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz_-"


class SessionLine(msgspec.Struct):
    format: str | None = None
    version: Any = None
    id: str = ""
    title: str = ""
    created_at: str | None = None
    updated_at: str | None = None
    system_prompt: str = ""


class RunLine(msgspec.Struct):
    id: str = ""
    status: str = ""
    finished_at: str | None = None
    comparison_id: str = ""  # absent: not a column of a comparison
    comparison_column: int = -1
    removed: str = ""  # absent: still in the conversation; else how its turn left it (turns.REMOVED_AS)
    turn: int = -1  # absent: the turn after the session's runs so far (export.to_jsonl)


MAX_TURN = 2**31 - 1  # far past any conversation, and next_turn's +1 still fits SQLite


@dataclass
class _Run:
    header: dict[str, Any]
    events: list[Event] = field(default_factory=list)


@dataclass
class _Session:
    header: dict[str, Any]
    runs: list[_Run] = field(default_factory=list)


@dataclass
class Checked:
    """A file whose every line passed: what the write pass needs to know before it starts."""

    path: Path
    identity: tuple[int, int, int]  # inode, size, mtime: the file the check read
    sessions: list[str]
    runs: list[str]
    comparisons: list[str] = field(default_factory=list)


def _open(path: Path):
    """The file for reading, refusing what is not a regular file (a FIFO would block, /dev/zero never ends)."""
    fd = open_regular(path, "import file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _identity(info: os.stat_result) -> tuple[int, int, int]:
    return info.st_ino, info.st_size, info.st_mtime_ns


def _lines(path: Path) -> Iterator[tuple[int, str, bytes]]:
    """(line number, type, raw line) for each non-blank line, split on ``\\n`` only and capped in length."""
    with _open(path) as f:
        for number, raw in enumerate(iter(lambda: f.readline(MAX_LINE_BYTES + 1), b""), 1):
            if len(raw) > MAX_LINE_BYTES:
                raise StarsError(f"{path} line {number}: longer than {MAX_LINE_BYTES // 2**20} MiB")
            if not raw.strip():
                continue
            try:
                kind = decode_line(raw)
            except StarsError as exc:
                raise StarsError(f"{path} line {number}: {exc}") from None
            yield number, kind, raw


def _id_problem(value: str, what: str) -> str | None:
    if not (0 < len(value) <= 64 and value[0] not in "_-" and all(c in ID_CHARS for c in value)):
        return f"the {what} line needs an id of lowercase letters and digits"
    return None


def _session_header(raw: bytes) -> dict[str, Any]:
    line = decode(raw, SessionLine)
    if line.format != JSONL_FORMAT:
        raise StarsError("not a stars session export")
    if type(line.version) is not int or line.version > JSONL_VERSION:
        raise StarsError(f"written by a newer version of stars (format {line.version!r:.20})")
    problem = (_id_problem(line.id, "session")
               or ("the session line needs a title" if not line.title.strip() else None)
               or timestamp_problem(line.created_at, "created_at")
               or timestamp_problem(line.updated_at, "updated_at"))
    if problem:
        raise StarsError(problem)
    return {"id": line.id, "title": line.title, "created_at": line.created_at or "",
            "updated_at": line.updated_at or "", "system_prompt": line.system_prompt}


def _run_header(raw: bytes) -> dict[str, Any]:
    line = decode(raw, RunLine)
    problem = (_id_problem(line.id, "run")
               or (f"unknown run status {line.status!r:.40}" if line.status not in RUN_STATUSES else None)
               or timestamp_problem(line.finished_at, "finished_at")
               or (f"unknown removal {line.removed!r:.40}" if line.removed not in ("", *REMOVED_AS) else None)
               or (None if -1 <= line.turn <= MAX_TURN else f"turn must be 0 to {MAX_TURN}"))
    if not problem and line.comparison_id:
        problem = _id_problem(line.comparison_id, "comparison id of the run") or (
            "comparison_column must be 0 or more" if line.comparison_column < 0 else None)
    elif not problem and line.comparison_column != -1:
        problem = "comparison_column without a comparison_id"
    if problem:
        raise StarsError(problem)
    return {"id": line.id, "status": line.status, "finished_at": line.finished_at,
            "comparison_id": line.comparison_id, "comparison_column": line.comparison_column,
            "removed": line.removed, "turn": None if line.turn == -1 else line.turn}


def _comparison(raw: bytes, links: dict[str, tuple[str, int]]) -> tuple[dict[str, Any], list[Any]]:
    """A comparison line's row and columns, checked against the session's run lines before it (``links``:
    run id -> the comparison and column its run line names), so the write pass cannot be refused."""
    line = decode(raw, ComparisonLine)
    problem = (_id_problem(line.id, "comparison")
               or timestamp_problem(line.created_at, "created_at")
               or (None if SEED_RANGE[0] <= line.base_seed <= SEED_RANGE[1] else "base_seed out of range")
               or (None if line.turn >= -1 else "turn must be -1 or more"))
    if problem:
        raise StarsError(problem)
    columns = checked_columns([(c.column, c.spec, c.run_id) for c in line.columns])
    for index, _, run_id in columns:
        if run_id is None:
            continue
        if run_id not in links:
            raise StarsError(f"comparison {line.id} column {index}: no run {run_id} before it in this session")
        if links[run_id] != (line.id, index):
            raise StarsError(f"comparison {line.id} column {index}: run {run_id}'s line names "
                             f"comparison {links[run_id][0] or '(none)'} column {links[run_id][1]}")
    row = {"id": line.id, "turn": line.turn, "prompt": line.prompt, "base_seed": line.base_seed,
           "created_at": line.created_at, "summary": json.dumps(line.summary, ensure_ascii=False)
           if line.summary else ""}
    return row, columns


def _closed_as(status: str, last: Event | None) -> str | None:
    """Why a run's status contradicts its last event (a finished run ends with RunFinished ...)."""
    ends = {"finished": RunFinished, "failed": RunFailed}
    expected = ends.get(status)
    closing = type(last) if isinstance(last, RunFinished | RunFailed) else None
    if expected is not closing:
        ending = closing.__name__ if closing else "no closing event"
        return f"status {status} but its events end with {ending}"
    return None


def _items(path: Path) -> Iterator[tuple[str, Any]]:
    """("session", header) / ("run", header) / ("event", Event) / ("end", run header) /
    ("comparison", (row, columns)): every line checked."""
    session = run = None
    order = RunChecker()
    last: Event | None = None
    number = 0
    links: dict[str, tuple[str, int]] = {}  # the session's runs so far -> the comparison and column they name
    claimed: set[str] = set()  # runs a comparison line of the session has linked

    def end_session() -> None:
        unclaimed = next((r for r, (c, _) in links.items() if c and r not in claimed), None)
        if unclaimed is not None:
            raise StarsError(f"{path}: run {unclaimed} names comparison {links[unclaimed][0]}, "
                             "which no comparison line of its session holds")

    def end_run() -> Iterator[tuple[str, Any]]:
        if run is None:
            return
        if last is None:
            raise StarsError(f"{path}: run {run['id']} has no events")
        problem = _closed_as(run["status"], last)
        if problem:
            raise StarsError(f"{path}: run {run['id']}: {problem}")
        yield "end", run

    try:
        for line_number, kind, raw in _lines(path):
            number = line_number
            if kind == "session":
                yield from end_run()
                end_session()
                session, run = _session_header(raw), None
                links, claimed = {}, set()
                yield "session", session
            elif session is None:
                raise StarsError("expected a session line first")
            elif kind == "run":
                yield from end_run()
                run, order, last = _run_header(raw), RunChecker(), None
                links[run["id"]] = (run["comparison_id"], run["comparison_column"])
                yield "run", run
            elif kind == "comparison":
                yield from end_run()
                run = None
                row, columns = _comparison(raw, links)
                claimed.update(r for _, _, r in columns if r is not None)
                yield "comparison", ({**row, "session_id": session["id"]}, columns)
            elif run is None:
                raise StarsError("an event before any run line")
            else:
                last = checked_event_json(kind, raw)
                order.add(last)
                yield "event", last
    except StarsError as exc:
        if str(exc).startswith(f"{path}"):
            raise
        raise StarsError(f"{path} line {number}: {exc}") from None
    yield from end_run()
    end_session()
    if session is None:
        raise StarsError(f"{path} holds no session")


def check(path: Path) -> Checked:
    """Read the whole file once, checking every line; nothing is kept but the ids."""
    path = Path(path)
    sessions: list[str] = []
    runs: list[str] = []
    comparisons: list[str] = []
    with _open(path) as f:
        identity = _identity(os.fstat(f.fileno()))
    for kind, item in _items(path):
        if kind == "session":
            sessions.append(item["id"])
        elif kind == "run":
            runs.append(item["id"])
        elif kind == "comparison":
            comparisons.append(item[0]["id"])
    for ids, what in ((sessions, "session"), (runs, "run"), (comparisons, "comparison")):
        twice = next((i for i in ids if ids.count(i) > 1), None) if len(set(ids)) != len(ids) else None
        if twice is not None:
            raise StarsError(f"{path}: {what} {twice} appears twice")
    return Checked(path, identity, sessions, runs, comparisons)


def parse(path: Path) -> list[_Session]:
    """The sessions in a JSONL export, held in memory (for replaying a file), every line checked."""
    sessions: list[_Session] = []
    for kind, item in _items(Path(path)):
        if kind == "session":
            sessions.append(_Session(item))
        elif kind == "run":
            sessions[-1].runs.append(_Run(item))
        elif kind == "event":
            sessions[-1].runs[-1].events.append(item)
    return sessions


class _Batches:
    """One write transaction at a time, committed every ``COMMIT_ROWS`` rows or ``COMMIT_S`` seconds."""

    def __init__(self, store: Store):
        self.db = store.db
        self.rows = 0
        self.since = 0.0

    def __enter__(self) -> _Batches:
        self._begin()
        return self

    def _begin(self) -> None:
        begin(self.db)
        self.rows, self.since = 0, time.monotonic()

    def tick(self, rows: int = 1) -> None:
        self.rows += rows
        if self.rows >= COMMIT_ROWS or time.monotonic() - self.since >= COMMIT_S:
            self.db.conn.execute("COMMIT")
            time.sleep(PAUSE_S)  # a writer polling for the lock gets it now
            self._begin()

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if not self.db.conn.in_transaction:
            return
        self.db.conn.execute("ROLLBACK" if exc is not None else "COMMIT")


def _refuse_present(store: Store, checked: Checked) -> None:
    for table, ids, what in (("sessions", checked.sessions, "session"), ("runs", checked.runs, "run"),
                             ("comparisons", checked.comparisons, "comparison")):
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            row = store.db.execute(f"SELECT id FROM {table} WHERE id IN ({', '.join('?' * len(chunk))})",
                                   chunk).fetchone()
            if row is not None:
                raise StarsError(f"{what} {row[0]} is already in {store.path} (imported before?)")


def _write(store: Store, checked: Checked, written: list[str]) -> None:
    db = store.db
    with _Batches(store) as batch:
        writer: RunWriter | None = None
        head: dict[str, Any] = {}
        run: dict[str, Any] = {}
        for kind, item in _items(checked.path):
            if kind == "session":
                if head:
                    _updated_at(db, head)
                head = item
                written.append(head["id"])
                db.execute("INSERT INTO sessions (id, title, created_at, updated_at, system_prompt) "
                           "VALUES (?, ?, ?, ?, ?)", [head["id"], head["title"], head["created_at"],
                                                      head["updated_at"], head["system_prompt"]])
            elif kind == "run":
                run, writer = item, RunWriter(db, session_id=head["id"], run_id=item["id"], turn=item["turn"])
            elif kind == "event":
                last = isinstance(item, RunFinished | RunFailed)
                writer.write(item, at=run["finished_at"] if last else None)
            elif kind == "end":
                if run["status"] in OPEN_STATUSES:
                    db.execute("UPDATE runs SET status = 'interrupted', pid = NULL WHERE id = ?", [writer.run_id])
                if run["removed"]:
                    db.execute("UPDATE runs SET removed = ? WHERE id = ?", [run["removed"], writer.run_id])
            elif kind == "comparison":
                insert_comparison(db, *item)
            batch.tick()
        _updated_at(db, head)


def _updated_at(db: Any, head: dict[str, Any]) -> None:
    """The session's own last-active time (writing its runs moved it to now)."""
    db.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", [head["updated_at"], head["id"]])


def import_checked(store: Store, checked: Checked) -> list[str]:
    """Write a file ``check`` passed into ``store`` in short transactions; returns the session ids.

    Ids are kept, so importing the same file twice is refused rather than
    duplicating it. Should the write fail part-way (the disk fills, the file
    changed since the check, Ctrl-C), the sessions it had begun are removed.
    """
    with _open(checked.path) as f:
        if _identity(os.fstat(f.fileno())) != checked.identity:
            raise StarsError(f"{checked.path} changed since it was checked; import it again")
    _refuse_present(store, checked)
    written: list[str] = []
    try:
        _write(store, checked, written)
    except BaseException:
        for session_id in written:
            delete_rows(store.db, session_id)
        raise
    return checked.sessions


def import_jsonl(store: Store, path: Path) -> list[str]:
    """Add the sessions of a JSONL export to ``store``; returns their ids."""
    return import_checked(store, check(path))
