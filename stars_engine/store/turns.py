"""Taking a turn out of a conversation, and the turn numbers a session has used.

A turn is one user prompt; each retry of it (regenerate, edit and resend) is
another run of that turn. Deleting or editing a turn never deletes rows: its
runs get ``runs.removed`` ("deleted" or "edited") and stay in the database, for
replay, export and ``stars sessions show``, while a reopened session and the
history sent to the model skip them. Turn numbers are never reused, so a
removed turn's runs are never mistaken for a later turn's. How many turns and
runs a session holds, removed ones apart, is ``counts.py``'s.
"""

from __future__ import annotations

from ..errors import StarsError
from .connect import mark_interrupted, write
from .store import Store, reading

REMOVED_AS = ("deleted", "edited")


@reading
def remove_turns(store: Store, session_id: str, turns: list[int], how: str) -> int:
    """Mark every run of ``turns`` removed (``how``: "deleted" or "edited"); the number of runs marked.

    Runs already removed keep their first mark. A turn with a run still
    recording is refused: its writer would finish a run the conversation no
    longer holds. (A run whose process is gone reads as interrupted first.)
    """
    if how not in REMOVED_AS:
        raise StarsError(f"a turn is removed as one of {', '.join(REMOVED_AS)}, not {how!r}")
    store.session(session_id)
    if not turns:
        return 0
    marks = ", ".join("?" for _ in turns)
    mark_interrupted(store.db)
    where = f"session_id = ? AND turn IN ({marks}) AND removed = ''"
    with write(store.db):
        live = store.db.execute(f"SELECT id FROM runs WHERE {where} AND status = 'running'",
                                [session_id, *turns]).fetchone()
        if live is not None:
            raise StarsError(f"run {live[0]} of that turn is still recording; stop it first")
        cursor = store.db.execute(f"UPDATE runs SET removed = ? WHERE {where}", [how, session_id, *turns])
    return cursor.rowcount


@reading
def removed_runs(store: Store, session_id: str) -> dict[str, str]:
    """Run id -> how it was removed, for the session's removed runs."""
    rows = store.db.execute("SELECT id, removed FROM runs WHERE session_id = ? AND removed != ''", [session_id])
    return {str(run): str(how) for run, how in rows}


@reading
def next_turn(store: Store, session_id: str) -> int:
    """The number a new turn of the session gets: past every turn recorded, removed ones too."""
    row = store.db.execute("SELECT max(turn) FROM runs WHERE session_id = ?", [session_id]).fetchone()
    return 0 if row is None or row[0] is None else int(row[0]) + 1
