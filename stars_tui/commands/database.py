"""Which session database a command uses: its ``--db``, the root's ``stars --db``, ``$STARS_DB``, the default."""

from __future__ import annotations

from pathlib import Path

from stars_engine.store import default_db_path

DB_HELP = "Session database (default: $STARS_DB or ./sessions/stars.db)."

root_db: Path | None = None  # ``stars --db FILE``, set by the root command on every invocation


def db_path(db: Path | None = None) -> Path:
    """The command's own ``--db``, else ``stars --db FILE``, else ``$STARS_DB``, else ``./sessions/stars.db``."""
    return default_db_path(db or root_db)
