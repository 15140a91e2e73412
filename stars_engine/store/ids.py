"""Short readable ids for sessions and runs, and finding one from a prefix."""

from __future__ import annotations

import secrets

from sqlite_utils import Database

from ..errors import StarsError

ID_BYTES = 4  # 8 hex digits: short enough to type, collisions need ~65k ids


def new_id() -> str:
    return secrets.token_hex(ID_BYTES)


def matching(db: Database, table: str, prefix: str) -> list[str]:
    """Ids in ``table`` starting with ``prefix`` (case-insensitive)."""
    prefix = prefix.strip().lower()
    if not prefix:
        return []
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = db.execute(f"SELECT id FROM {table} WHERE id LIKE ? ESCAPE '\\' ORDER BY id", [escaped + "%"])
    return [row[0] for row in rows]


def resolve(db: Database, prefix: str, kinds: tuple[str, ...] = ("run", "session")) -> tuple[str, str]:
    """The (kind, id) a unique prefix names; a clear error when none or several match."""
    found = [(kind, i) for kind in kinds for i in matching(db, f"{kind}s", prefix)]
    exact = [(kind, i) for kind, i in found if i == prefix.strip().lower()]
    if len(exact) == 1:
        return exact[0]
    what = " or ".join(kinds)
    if not found:
        raise StarsError(f"no {what} with id {prefix!r}")
    if len(found) > 1:
        listed = ", ".join(f"{kind} {i}" for kind, i in found[:5])
        raise StarsError(f"{prefix!r} matches more than one {what} ({listed}); type more of the id")
    return found[0]
