"""The side-by-side replay of a recorded comparison (Textual pilot, a real SQLite file): at 80x24 every
column is in sight and the replay plays to the end; the sessions screen opens it from a column's run."""

from __future__ import annotations

import dataclasses

import pytest
from fakes import ScriptedPolicy, ScriptedReward
from store.helpers import record_compared
from textual.widgets import DataTable, Static

from stars_engine.events import AttemptScored
from stars_engine.store import open_store
from stars_engine.store.comparisons import comparison_events, load_comparison
from stars_tui.screens.compare_replay import CompareReplayApp, CompareReplayScreen
from stars_tui.screens.replay import ReplayScreen
from stars_tui.screens.sessions import SessionsScreen
from stars_tui.widgets.compare_columns import CompareColumn

from .helpers import make_app, screen_text, wait_until

pytestmark = pytest.mark.anyio
SPECS = ("vanilla", "bon-2", "stars:seg=3")


@pytest.fixture
def compared(db):
    comparison_id, session_id, engine_side = record_compared(
        db, ScriptedPolicy(eos_after=10), ScriptedReward(), ",".join(SPECS), "compare <b>[me]</b>", base_seed=5)
    with open_store(db) as store:
        comparison = load_comparison(store, comparison_id)
        columns = comparison_events(store, comparison)
    # each attempt as if it took 0.25 s (the scripted ones take microseconds), so a replay lasts long enough to watch
    slow = [[dataclasses.replace(e, elapsed_ms=250.0) if isinstance(e, AttemptScored) else e for e in events]
            for events in columns]
    return comparison, slow, engine_side


async def test_at_80x24_every_column_is_in_sight_and_the_replay_plays_to_the_end(compared):
    comparison, columns, engine_side = compared
    app = CompareReplayApp(comparison, columns)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, CompareReplayScreen) and screen.playing
        await pilot.pause()
        widgets = list(screen.query(CompareColumn))
        assert [w.column.spec.label for w in widgets] == list(SPECS)
        for widget in widgets:  # side by side, each wide and tall enough to read, inside the 80 columns
            region = widget.region
            assert region.width >= 20 and region.height >= 10 and region.right <= 80 and region.bottom <= 24
        assert len({w.region.x for w in widgets}) == 3 and len({w.region.y for w in widgets}) == 1
        screen.speed = 64.0
        await wait_until(pilot, lambda: screen.finished, "the replay to end")
        assert not screen.playing
        for widget, outcome in zip(widgets, engine_side.outcomes, strict=True):
            assert widget.state.finished is not None and widget.state.text == outcome.text
            assert widget.state.attempts == sum(isinstance(e, AttemptScored) for e in columns[outcome.column.index])
        guide = comparison.winners()[0][1]
        assert [w.has_class("-winner") for w in widgets] == [i == guide for i in range(3)]
        verdict = str(screen.query_one("#compare-replay-verdict", Static).render())
        assert verdict.startswith("guide reward: " + SPECS[guide] + " won")
        text = screen_text(app)
        assert "finished" in text and "compare <b>[me]</b>" in text  # the prompt shown literally
        await pilot.press("escape")
        await wait_until(pilot, lambda: app._exit, "the app to quit")


async def test_step_and_speed_keys_move_the_shared_clock(compared):
    comparison, columns, _ = compared
    app = CompareReplayApp(comparison, columns, autoplay=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert screen.position == 0 and not screen.playing
        await pilot.press("n")
        first = min(at for at, _, e in screen.timeline if isinstance(e, AttemptScored))
        assert screen.clock == first
        assert sum(w.state.attempts for w in screen.query(CompareColumn)) >= 1
        assert all(w.state.started is not None for w in screen.query(CompareColumn))  # they start together
        speed = screen.speed
        await pilot.press("plus")
        assert screen.speed > speed
        await pilot.press("r")
        assert screen.position == 0 and all(w.state.attempts == 0 for w in screen.query(CompareColumn))


async def test_the_sessions_screen_replays_a_columns_run_as_the_comparison(db, compared):
    comparison, _, _ = compared
    app = make_app(db_path=db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen), "the sessions screen")
        screen = app.screen
        runs = screen.query_one("#runs", DataTable)
        await wait_until(pilot, lambda: runs.row_count == 3 and screen.compared, "the session's runs")
        assert "1 comparison" in str(screen.query_one("#session-detail", Static).render())
        runs.focus()
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareReplayScreen), "the side-by-side replay")
        replay = app.screen
        assert replay.comparison == comparison
        replay.speed = 64.0
        await wait_until(pilot, lambda: replay.finished, "the replay to end")
        await pilot.press("tab")
        assert isinstance(replay.focused, CompareColumn)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ReplayScreen), "that column's run alone")
