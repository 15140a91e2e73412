"""Sessions in SQLite: the recorder, replay, export, import and search.

    db = default_db_path(cli_db_option)          # --db, else $STARS_DB, else ./sessions/stars.db
    for event in Recorder(db).record(engine.run(...)):   # writes each event as it passes
        show(event)
    with open_store(db) as store:
        events = store.run_events(run_id)         # the same stream, replayed
        export_session(store, session_id, "md", Path("chat.md"))

One database file (WAL, busy timeout, schema by sqlite-utils ``Migrations``);
see ``schema.py`` for the tables.
"""

from .connect import default_db_path
from .export import FORMATS, export_run, export_session, format_for
from .importer import import_jsonl
from .recorder import Recorder
from .replay import pace
from .store import Message, RunInfo, SearchHit, SessionInfo, Store, open_store

__all__ = [
    "FORMATS",
    "Message",
    "Recorder",
    "RunInfo",
    "SearchHit",
    "SessionInfo",
    "Store",
    "default_db_path",
    "export_run",
    "export_session",
    "format_for",
    "import_jsonl",
    "open_store",
    "pace",
]
