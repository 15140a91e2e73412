"""The store commands end to end on a real SQLite file (scripted runs): what a user types and sees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stars_engine.events import AttemptScored
from stars_engine.store import open_store
from stars_engine.store.replay import pace
from stars_tui.commands.store import replay_app

from .helpers import cli, record_fake


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "s.db"
    first, events = record_fake(path, "tell me about lighthouses")
    history = [
        {"role": "user", "content": "tell me about lighthouses"},
        {"role": "assistant", "content": events[-1].text},
    ]
    record_fake(path, "and about harbours", session_id=first.session_id, history=history)
    return path, first, events


def test_list_show_and_search(db, capsys):
    path, first, events = db
    code, out, _ = cli(["sessions", "list", "--db", str(path)], capsys)
    assert code == 0 and first.session_id in out and "tell me about lighthouses" in out
    code, out, _ = cli(["sessions", "show", first.session_id[:4], "--db", str(path)], capsys)
    assert code == 0 and "turn 2" in out and "and about harbours" in out and first.run_id in out
    code, out, _ = cli(["sessions", "search", "harbours", "--db", str(path), "--json"], capsys)
    assert code == 0 and [hit["role"] for hit in json.loads(out)] == ["user"]
    code, out, _ = cli(["sessions", "search", "submarine", "--db", str(path)], capsys)
    assert code == 1 and "nothing matches" in out


def test_rename_then_delete_with_yes(db, capsys):
    path, first, _ = db
    assert cli(["sessions", "rename", first.session_id, "Lights", "--db", str(path)], capsys)[0] == 0
    with open_store(path) as store:
        assert store.session(first.session_id).title == "Lights"
    assert cli(["sessions", "delete", first.session_id, "--yes", "--db", str(path)], capsys)[0] == 0
    with open_store(path) as store:
        assert store.list_sessions() == []


def test_plain_replay_prints_every_attempt(db, capsys):
    path, first, events = db
    code, out, _ = cli(["replay", first.run_id, "--plain", "--db", str(path)], capsys)
    attempts = [e for e in events if isinstance(e, AttemptScored)]
    assert code == 0
    assert out.count(" try ") == len(attempts)
    assert "assistant:" in out and "user: tell me about lighthouses" in out


def test_replay_and_import_read_a_jsonl_export_with_no_database(db, tmp_path, capsys):
    path, first, _ = db
    export = tmp_path / "demo.jsonl"
    assert cli(["export", first.session_id, "-o", str(export), "--db", str(path)], capsys)[0] == 0
    code, out, _ = cli(["replay", str(export), "--plain", "--db", str(tmp_path / "unused.db")], capsys)
    assert code == 0 and out.count("run ") >= 2 and "and about harbours" in out
    assert not (tmp_path / "unused.db").exists()
    code, out, _ = cli(["import", str(export), "--db", str(tmp_path / "other.db")], capsys)
    assert code == 0 and f"imported session {first.session_id}" in out


def test_pace_waits_the_recorded_time_divided_by_speed(db):
    _, _, events = db
    waits: list[float] = []
    assert list(pace(events, speed=4, sleep=waits.append)) == events
    assert waits == [min(e.elapsed_ms / 1000 / 4, 5.0) for e in events if isinstance(e, AttemptScored)]
    waits.clear()
    list(pace(events, speed=None, sleep=waits.append))
    assert waits == []


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_workbench_replay_plays_and_escape_quits(db):
    path, first, _ = db
    with open_store(path) as store:
        runs = [(f"run {r.id}", store.run_events(r.id)) for r in store.runs_of(first.session_id)]
    app = replay_app(runs)
    async with app.run_test() as pilot:
        screen = app.screen
        assert type(screen).__name__ == "ReplayScreen" and screen.run_title == runs[-1][0]
        await pilot.press("space")
        for _ in range(3):
            await pilot.press("n")
        assert screen.position > 0
        await pilot.press("escape")
        for _ in range(100):  # let the key reach the app on a busy machine
            if app.return_code is not None:
                break
            await pilot.pause(0.05)
    assert app.return_code == 0


DEMO = Path(__file__).resolve().parents[2] / "sessions" / "demo.jsonl"


def test_the_committed_demo_session_imports_replays_and_exports_unchanged(tmp_path, capsys):
    code, out, _ = cli(["replay", str(DEMO), "--plain"], capsys)
    assert code == 0 and "SmolLM2" in out and "assistant:" in out
    db = tmp_path / "s.db"
    assert cli(["import", str(DEMO), "--db", str(db)], capsys)[0] == 0
    with open_store(db) as store:
        (session,) = store.list_sessions()
    assert cli(["export", session.id, "-o", str(tmp_path / "again.jsonl"), "--db", str(db)], capsys)[0] == 0
    assert (tmp_path / "again.jsonl").read_bytes() == DEMO.read_bytes()
