"""The workbench on the real default models: a short prompt, a segment accepted and shown, recorded."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from stars_engine.params import Params
from stars_engine.store import open_store
from stars_tui.app import StarsApp
from stars_tui.widgets.transcript import BOUNDARY, AssistantTurn

from .helpers import SIZE, chat, send, wait_until

pytestmark = [pytest.mark.real, pytest.mark.anyio]


async def test_a_real_reply_is_shown_segment_by_segment_and_saved(real_policy, real_reward, db):
    params = Params(seed=3, segment_tokens=8, max_new_tokens=16, max_attempts=3, candidates_per_round=2)
    app = StarsApp(lambda: real_policy, lambda: real_reward, db_path=db, params=params)
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "Name a fruit.")
        state = app.chat_screen.state
        assert state.failed is None, state.failed
        accepted = [s.accepted for s in state.segments if s.accepted is not None]
        assert accepted and state.text.strip()
        raw = app.chat_screen.query(AssistantTurn).last().raw_text
        assert raw.rstrip() == BOUNDARY.join(part.text for part in state.parts).rstrip()  # a mark between segments
        assert app.chat_screen.query_one("#segments", DataTable).row_count == len(state.segments)
        with open_store(db) as store:
            run = store.get_run(app.chat.last_run_id)
            assert run.final_text == state.text
            assert run.prompt == "Name a fruit."
            assert run.attempts == state.attempts


async def test_the_workbench_runs_its_models_in_a_worker_process(db):
    """What `stars chat` does: the models load in a worker process; the reply comes back and is saved;
    quitting ends the worker cleanly: it returns on its own (exit code 0) instead of being killed at
    exit, and the shared cancel flag is let go."""
    from stars_engine import backends
    from stars_engine.backends.spec import ModelSpec

    params = Params(seed=3, segment_tokens=8, max_new_tokens=16, max_attempts=3, candidates_per_round=2)
    app = StarsApp(*backends.loaders(ModelSpec()), db_path=db, params=params)
    try:
        async with app.run_test(size=SIZE) as pilot:
            # a fresh interpreter imports torch and loads both models: slower than the in-process fixture
            await wait_until(pilot, lambda: app.policy is not None, "models loaded in the worker", limit=300)
            await send(pilot, "Name a fruit.")
            screen = app.chat_screen
            await wait_until(pilot, lambda: not screen.running and screen.state.done, "the reply", limit=300)
            state = screen.state
            assert state.failed is None, state.failed
            assert state.text.strip() and state.started.runtime["process"] == "worker"
            with open_store(db) as store:
                assert store.run_events(app.chat.last_run_id)[0] == state.started
            worker = app.policy.worker
            await pilot.press("ctrl+q")
        assert worker.closed and worker.exitcode == 0 and worker.process is None and worker.flag is None
    finally:
        if app.policy is not None:
            app.policy.close()
