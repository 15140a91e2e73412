"""Pilot tests of the sessions, replay and export screens over a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from stars_engine.store import open_store
from stars_tui.screens.replay import ReplayScreen
from stars_tui.screens.sessions import SessionsScreen

from .helpers import SIZE, chat, fixed_events, keys, make_app, wait_until

pytestmark = pytest.mark.anyio


async def two_sessions(pilot) -> tuple[str, str]:
    await chat(pilot, "tell me about rivers")
    first = pilot.app.chat.session_id
    await pilot.press("ctrl+n")
    await chat(pilot, "explain mountains")
    return first, pilot.app.chat.session_id


async def test_search_finds_the_session_with_the_word_and_enter_opens_it(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        rivers, mountains = await two_sessions(pilot)
        await pilot.press("f2")
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        table = screen.query_one("#sessions", DataTable)
        await wait_until(pilot, lambda: table.row_count == 2, "both sessions listed")
        await pilot.press("slash", *keys("rivers"), "enter")
        await wait_until(pilot, lambda: table.row_count == 1, "the search's one hit")
        assert screen.session_id == rivers
        assert "rivers" in str(table.get_row_at(0)[3])  # the match column
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is app.chat_screen, "the session to open")
        assert app.chat.session_id == rivers
        assert app.chat.turns[0] == {"role": "user", "content": "tell me about rivers"}
        await chat(pilot, "and lakes")
        assert app.chat.session_id == rivers
        with open_store(db) as store:
            assert store.session(rivers).runs == 2


async def test_rename_and_delete_a_session(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        rivers, mountains = await two_sessions(pilot)
        await pilot.press("f2")
        screen = app.screen
        table = screen.query_one("#sessions", DataTable)
        await wait_until(pilot, lambda: table.row_count == 2, "both sessions listed")
        assert screen.session_id == mountains  # newest first
        await pilot.press("r")
        answer = app.screen.query_one("#answer")
        assert answer.value == "explain mountains"  # the whole title, to edit
        answer.value = ""
        await pilot.press(*keys("Peaks"), "enter")
        await wait_until(pilot, lambda: "Peaks" in str(table.get_row_at(0)[1]), "the new title listed")
        with open_store(db) as store:
            assert store.session(mountains).title == "Peaks"
        await pilot.press("d")
        await pilot.press("y")
        await wait_until(pilot, lambda: table.row_count == 1, "the deleted session gone from the list")
        with open_store(db) as store:
            assert [s.id for s in store.list_sessions()] == [rivers]
        assert app.chat.session_id is None  # the open session was the deleted one


async def test_replay_steps_one_attempt_at_a_time_then_plays_to_the_end(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "replay me")
        live = app.chat_screen.state
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, ReplayScreen), "the replay screen")
        screen = app.screen
        assert screen.state.attempts == 0
        await pilot.press("n", "n", "n")
        assert screen.state.attempts == 3
        shown = screen.query_one("#attempts", DataTable)
        first = live.segments[0].attempts
        assert shown.row_count == min(3, len(first))
        screen.speed = 64.0
        await pilot.press("space")
        await wait_until(pilot, lambda: screen.finished and not screen.playing, "the replay to end")
        assert screen.state.text == live.text
        assert screen.state.attempts == live.attempts
        assert screen.query_one("#segments", DataTable).row_count == len(live.segments)
        await pilot.press("escape")
        assert app.screen is app.chat_screen


async def test_replay_speed_keys_change_the_speed():
    from stars_tui.screens.replay import SPEEDS

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(ReplayScreen([]))
        await pilot.pause()
        screen = app.screen
        start = screen.speed
        await pilot.press("plus")
        assert screen.speed == SPEEDS[SPEEDS.index(start) + 1]
        await pilot.press("minus", "minus")
        assert screen.speed == SPEEDS[SPEEDS.index(start) - 1]


async def test_export_writes_the_run_in_the_format_its_name_says(db, tmp_path):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "export <me> & mine")
        await pilot.press("f4")
        dialog = app.screen
        target = tmp_path / "run.html"
        dialog.query_one("#path").value = str(target)
        await pilot.pause()
        assert dialog.query_one("#format").value == "html"
        await pilot.click("#export")
        await wait_until(pilot, target.is_file, "the file written")
        await wait_until(pilot, lambda: app.screen is app.chat_screen, "the dialog to close")
        page = target.read_text()
        assert "<html" in page.lower() and "export &lt;me&gt; &amp; mine" in page
        assert app.screen is app.chat_screen


async def test_export_proposes_a_file_in_the_sessions_folder_and_offers_to_overwrite(db, tmp_path):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "twice")
        await pilot.press("f4")
        proposed = Path(app.screen.query_one("#path").value)
        assert proposed.parent == db.parent and proposed.name == f"stars-run-{app.chat.last_run_id[:8]}.md"
        target = tmp_path / "run.md"
        target.write_text("keep me")
        app.screen.query_one("#path").value = str(target)
        await pilot.click("#export")
        error = app.screen.query_one("#export-error")
        await wait_until(pilot, lambda: "already exists" in str(error.render()), "the offer to overwrite")
        assert "press Export again to overwrite" in str(error.render()) and "--force" not in str(error.render())
        assert target.read_text() == "keep me" and app.screen.query_one("#force").value
        export = app.screen.query_one("#export")
        assert export.has_focus  # Enter answers the offer
        await wait_until(pilot, lambda: not export.has_class("-active"), "the button ready for a second press")
        await pilot.press("enter")
        await wait_until(pilot, lambda: target.read_text() != "keep me", "the file overwritten")
        assert "twice" in target.read_text()


async def test_export_a_session_from_the_sessions_screen_as_csv(db, tmp_path):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "rows please")
        attempts = app.chat_screen.state.attempts
        await pilot.press("f2")
        await wait_until(pilot, lambda: app.screen.session_id is not None, "the session listed")
        await pilot.press("e")
        target = tmp_path / "session.csv"
        app.screen.query_one("#path").value = str(target)
        await pilot.click("#export")
        await wait_until(pilot, target.is_file, "the file written")
        assert len(target.read_text().strip().splitlines()) == attempts + 1  # a header, a row per attempt


async def test_without_a_database_the_store_actions_say_so():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        assert app.screen is app.chat_screen
        assert any("No session database" in n.message for n in app._notifications)


async def test_the_replay_only_app_plays_a_run_and_esc_quits():
    from stars_tui.replay_app import ReplayApp

    events = fixed_events("replay alone")
    app = ReplayApp(events, title="run demo")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, ReplayScreen) and screen.playing
        screen.speed = 64.0
        await wait_until(pilot, lambda: screen.finished, "the replay to end")
        assert screen.state.finished is not None
        await pilot.press("escape")
        await wait_until(pilot, lambda: app._exit, "the app to quit")


async def test_the_sessions_screen_opens_the_store_once_and_searches_with_one_query(db, monkeypatch):
    import stars_engine.store as store_module
    from stars_engine.store.store import Store

    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await two_sessions(pilot)
        opened, calls = [], []
        real_open = store_module.open_store
        monkeypatch.setattr(store_module, "open_store", lambda path: opened.append(path) or real_open(path))
        for name in ("search", "session", "list_sessions", "runs_of"):
            real = getattr(Store, name)
            counted = lambda self, *a, _n=name, _r=real, **k: calls.append(_n) or _r(self, *a, **k)  # noqa: E731
            monkeypatch.setattr(Store, name, counted)
        await pilot.press("f2")
        screen = app.screen
        runs = screen.query_one("#runs", DataTable)
        await wait_until(pilot, lambda: runs.row_count == 1, "the first session's runs")
        await pilot.press("down", "up", "down")
        await wait_until(pilot, lambda: screen.session_id is not None and runs.row_count == 1, "runs of the last")
        calls.clear()
        await pilot.press("slash", *keys("the"), "enter")  # every reply has it: hits in both sessions
        await wait_until(pilot, lambda: screen.query_one("#sessions", DataTable).row_count == 2, "the hits")
        assert len(opened) == 1
        assert calls.count("search") == 1 and calls.count("list_sessions") == 1
        assert calls.count("session") == calls.count("runs_of")  # only runs_of's own check, never one per hit
