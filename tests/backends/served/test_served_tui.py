"""The workbench on the served backend: scored attempts show while the reply is being written."""

from __future__ import annotations

import pytest
from tui.helpers import SIZE, finish, send, wait_until

from stars_engine.backends.served.connect import served_policies
from stars_engine.params import Params
from stars_engine.store import open_store
from stars_tui.app import StarsApp
from stars_tui.widgets.status_line import StatusLine

pytestmark = [pytest.mark.served, pytest.mark.real, pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_the_workbench_shows_scored_attempts_live_and_names_the_server(vllm_url, real_reward, tmp_path):
    [policy] = served_policies([vllm_url])
    db = tmp_path / "runs.db"
    params = Params(seed=4, segment_tokens=8, max_new_tokens=48, candidates_per_round=2, max_attempts=4,
                    threshold=0.45, threshold_mode="schedule")
    app = StarsApp(lambda: policy, lambda: real_reward, db_path=db, params=params)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Name three fruits.")
        screen = app.chat_screen
        await wait_until(pilot, lambda: screen.state.attempts > 0, "a scored attempt", limit=120)
        live = screen.running  # seen while the run was still going
        await finish(pilot)
        assert live
        assert screen.state.failed is None, screen.state.failed
        assert screen.state.text.strip()
        status = screen.query_one(StatusLine)
        assert str(status.render()).rstrip().endswith("ready")  # the state always in sight
        assert vllm_url in str(status.tooltip)  # the server named in full on hover
        with open_store(db) as store:
            run = store.get_run(app.chat.last_run_id)
        assert run.final_text == screen.state.text and run.attempts == screen.state.attempts
