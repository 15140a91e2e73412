"""Opening a session database safely: check first, then connect, then migrate only if behind.

Every check that can refuse a file runs before anything writes to it, so a
file that is not ours (not SQLite, truncated, from a newer ``stars``, another
program's database) is left byte-for-byte as it was and the user gets one line
saying why. A database whose schema is current is opened without taking the
write lock, so reading never waits for (or blocks) a run that is recording.

The write lock is taken by polling every few milliseconds rather than with
SQLite's own busy handler, which sleeps up to 100 ms between tries and so
misses the short gaps a bounded import leaves between its transactions.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from sqlite_utils import Database

from ..errors import StarsError
from .schema import KNOWN_MIGRATIONS, MIGRATION_SET, SCHEMA_VERSION, migrations

DEFAULT_DB = Path("sessions") / "stars.db"
BUSY_TIMEOUT_MS = 30_000  # how long a write waits for another process's write lock
LOCK_POLL_S = 0.002
SQLITE_MAGIC = b"SQLite format 3\x00"
HOST = socket.gethostname()


def default_db_path(db: Path | None = None) -> Path:
    """The ``--db`` value, else ``$STARS_DB``, else ``./sessions/stars.db``."""
    if db is not None:
        return Path(db)
    env = os.environ.get("STARS_DB")
    return Path(env) if env else DEFAULT_DB


def _header_looks_whole(path: Path, size: int) -> bool:
    """True when the file is at least as long as its own header says.

    A cheap truncation test; a doubtful answer is settled by ``quick_check``.
    """
    with path.open("rb") as f:
        head = f.read(100)
    if len(head) < 100:
        return False
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    size_is_valid = head[24:28] == head[92:96] and pages > 0
    return size_is_valid and size % page_size == 0 and size >= pages * page_size


def _probe(path: Path, verify: bool = False) -> bool:
    """Refuse a file we must not write to, opening it read-only to look; True when it needs migrating.

    ``verify`` reads every page (``quick_check``) even when the header looks
    whole: a corrupt page in the middle is found before a run starts, not after
    the model has loaded and the first insert fails.
    """
    if path.is_dir():
        raise StarsError(f"{path} is a folder, not a session database")
    if not path.exists():
        return True
    try:
        size = path.stat().st_size
        if size == 0:
            return True
        with path.open("rb") as f:
            magic = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise StarsError(f"cannot read {path}: {exc.strerror or exc}") from None
    if magic != SQLITE_MAGIC:
        raise StarsError(f"{path} is not a SQLite database")
    _refuse_read_only(path)
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            if verify or not _header_looks_whole(path, size):
                result = conn.execute("PRAGMA quick_check").fetchone()[0]
                if result != "ok":
                    raise sqlite3.DatabaseError(result)
            return _check_schema(path, conn)
    except sqlite3.DatabaseError as exc:
        raise StarsError(f"{path} is damaged or truncated ({exc})") from None


def _refuse_read_only(path: Path) -> None:
    """SQLite writes its journal beside the file, so a read-only folder is as bad as a read-only file."""
    for where in (path, path.parent):
        if not os.access(where, os.W_OK):
            kind = "file" if where == path else "folder"
            raise StarsError(f"{path} is read-only (its {kind} cannot be written); stars needs to write to it")


def _check_schema(path: Path, conn: sqlite3.Connection) -> bool:
    """Refuse a schema this ``stars`` cannot read; True when a migration is still to apply."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    applied: set[str] = set()
    if "_sqlite_migrations" in tables:
        rows = conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = ?", [MIGRATION_SET])
        applied = {row[0] for row in rows}
    unknown = sorted(applied - KNOWN_MIGRATIONS)
    if unknown:
        raise StarsError(
            f"{path} was written by a newer version of stars: it has migration {', '.join(unknown)}, "
            f"which this one does not know (it knows up to {max(KNOWN_MIGRATIONS)}); upgrade stars to open it"
        )
    if version > SCHEMA_VERSION:
        raise StarsError(
            f"{path} was written by a newer version of stars (schema {version}, this one reads "
            f"up to {SCHEMA_VERSION}); upgrade stars to open it"
        )
    if tables and not applied:
        raise StarsError(f"{path} is a SQLite database but not a stars session store")
    return version < SCHEMA_VERSION or applied != KNOWN_MIGRATIONS


def _create_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StarsError(f"cannot create folder {path.parent}: {exc.strerror or exc}") from None


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite saying another connection holds the lock (worth waiting out)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.OperationalError) and code is not None and code & 0xFF in (
        sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def begin(db: Database, patience: float | None = None) -> None:
    """``BEGIN IMMEDIATE``, polling for the write lock for up to ``patience`` seconds (busy timeout).

    Raises the SQLITE_BUSY error once ``patience`` has run out; 0 tries once.
    """
    patience = BUSY_TIMEOUT_MS / 1000 if patience is None else patience
    deadline = time.monotonic() + patience
    db.conn.execute("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                db.conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not is_busy(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(LOCK_POLL_S)
    finally:
        db.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


@contextmanager
def write(db: Database, patience: float | None = None) -> Iterator[Database]:
    """One short write transaction, taking the write lock up front.

    ``BEGIN IMMEDIATE`` waits (up to ``patience``, default the busy timeout)
    for another writer instead of failing later with "database is locked" when
    a read turns into a write. Inside an open transaction (an import writing a
    batch) it adds nothing: the outer transaction decides.
    """
    if db.conn.in_transaction:
        yield db
        return
    begin(db, patience)
    try:
        yield db
    except BaseException:
        db.conn.rollback()
        raise
    else:
        db.conn.execute("COMMIT")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_interrupted(db: Database, wait: bool = True) -> int:
    """Runs left ``running`` by a process on this host that no longer exists become ``interrupted``.

    With ``wait`` False (on opening) it is done only if the write lock is free
    this instant: a reader never waits for a writer; the next opener marks them.
    """
    rows = db.execute("SELECT id, pid FROM runs WHERE status = 'running' AND host = ?", [HOST]).fetchall()
    dead = [run_id for run_id, pid in rows if pid is None or not _pid_alive(pid)]
    if not dead:
        return 0
    try:
        with write(db, None if wait else 0):
            db.execute(f"UPDATE runs SET status = 'interrupted' WHERE id IN ({', '.join('?' * len(dead))})", dead)
    except sqlite3.OperationalError as exc:
        if wait or not is_busy(exc):
            raise
        return 0
    return len(dead)


def _use_wal(db: Database) -> None:
    """Put the database in WAL mode, waiting out another process that is opening it too.

    SQLite answers a journal-mode change with SQLITE_BUSY at once, without the
    busy timeout, while another connection holds the new file; two processes
    opening one new database at once hit that (about 1 open in 10 here). So
    this waits for it, up to the same timeout, re-reading the mode each time
    because the other process usually switches it first.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def connect(path: Path, check_same_thread: bool = True, verify: bool = False) -> Database:
    """A migrated, WAL-mode connection to ``path`` (created if missing), for this thread only.

    ``verify``: read every page first (before a run records, before an export).
    The write lock is taken only to create or migrate the schema.
    """
    path = Path(path)
    behind = _probe(path, verify)
    if not path.exists():
        _create_parent(path)
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=check_same_thread)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db = Database(conn)
        _use_wal(db)
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        if behind:
            with write(db):
                migrations.apply(db)
                if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:  # write only when it moves
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        mark_interrupted(db, wait=False)
    except sqlite3.OperationalError as exc:
        raise StarsError(f"cannot open {path}: {exc}") from None
    return db
