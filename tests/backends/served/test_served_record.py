"""Where a run ran is recorded: served runs keep backend, server and model name; old records read as in-process."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fakes import ScriptedPolicy, ScriptedReward

from stars_engine import engine
from stars_engine.events import RunStarted
from stars_engine.params import Params
from stars_engine.store import Recorder, export_session, import_jsonl, open_store
from stars_engine.store.schema import SCHEMA_VERSION

DEMO = Path(__file__).resolve().parents[3] / "sessions" / "demo.jsonl"  # exported before served backends


class ServedLike(ScriptedPolicy):
    backend = "vllm"
    server_url = "http://127.0.0.1:9"
    served_model = "smollm2"


def record(policy, db: Path) -> Recorder:
    recorder = Recorder(db)
    events = engine.run(policy, ScriptedReward(), [{"role": "user", "content": "hi"}], Params(seed=1))
    for _ in recorder.record(events):
        pass
    return recorder


def started(db: Path, run_id: str) -> RunStarted:
    with open_store(db) as store:
        return store.run_events(run_id)[0]


def test_a_served_run_keeps_where_it_ran_through_the_store_export_and_import(tmp_path):
    recorder = record(ServedLike(), tmp_path / "a.db")
    first = started(tmp_path / "a.db", recorder.run_id)
    assert (first.backend, first.server_url, first.served_model) == ("vllm", "http://127.0.0.1:9", "smollm2")
    with open_store(tmp_path / "a.db") as store:
        export_session(store, recorder.session_id, "jsonl", tmp_path / "s.jsonl")
    assert '"served_model": "smollm2"' in (tmp_path / "s.jsonl").read_text()
    with open_store(tmp_path / "b.db") as store:
        import_jsonl(store, tmp_path / "s.jsonl")
    assert started(tmp_path / "b.db", recorder.run_id) == first


def test_an_old_export_imports_as_an_in_process_run(tmp_path):
    assert '"backend"' not in DEMO.read_text()
    with open_store(tmp_path / "s.db") as store:
        [session_id] = import_jsonl(store, DEMO)
        runs = store.runs_of(session_id)
        firsts = [store.run_events(run.id)[0] for run in runs]
    assert runs and all((e.backend, e.server_url, e.served_model) == ("transformers", "", "") for e in firsts)
    assert all((e.reward_server_url, e.served_reward) == ("", "") for e in firsts)


def test_a_database_from_before_served_backends_gets_the_columns_with_in_process_values(tmp_path):
    db = tmp_path / "old.db"
    recorder = record(ScriptedPolicy(), db)
    with sqlite3.connect(db) as conn:  # take it back to schema 2: no served columns, no steps after 0002
        conn.execute("DROP INDEX idx_runs_comparison_id")
        for column in ("backend", "server_url", "served_model", "reward_server_url", "served_reward",
                       "rubric", "removed", "comparison_id", "comparison_column"):
            conn.execute(f"ALTER TABLE runs DROP COLUMN {column}")
        conn.execute("DROP TABLE comparisons")
        conn.execute("ALTER TABLE sessions DROP COLUMN system_prompt")
        for column in ("cut_entropy", "round"):
            conn.execute(f"ALTER TABLE attempts DROP COLUMN {column}")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name >= '0003'")
        conn.execute("PRAGMA user_version = 2")
    conn.close()
    old = started(db, recorder.run_id)
    assert (old.backend, old.server_url, old.served_model) == ("transformers", "", "")
    assert (old.reward_server_url, old.served_reward) == ("", "")
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


class ServedRewardLike(ScriptedReward):
    server_url = "http://127.0.0.1:10"
    served_model = "minilm"


def test_where_a_served_reward_scored_goes_through_the_store_export_and_import(tmp_path):
    recorder = Recorder(tmp_path / "a.db")
    events = engine.run(ScriptedPolicy(), ServedRewardLike(), [{"role": "user", "content": "hi"}], Params(seed=1))
    for _ in recorder.record(events):
        pass
    first = started(tmp_path / "a.db", recorder.run_id)
    assert (first.reward_server_url, first.served_reward) == ("http://127.0.0.1:10", "minilm")
    with open_store(tmp_path / "a.db") as store:
        export_session(store, recorder.session_id, "jsonl", tmp_path / "s.jsonl")
    text = (tmp_path / "s.jsonl").read_text()
    assert '"reward_server_url": "http://127.0.0.1:10", "served_reward": "minilm"' in text
    with open_store(tmp_path / "b.db") as store:
        import_jsonl(store, tmp_path / "s.jsonl")
    assert started(tmp_path / "b.db", recorder.run_id) == first
