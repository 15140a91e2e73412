"""Max new tokens, top-p, top-k and seed in the parameter bar: editable for every strategy, refused
by the engine's own rules, and run-level (a reply keeps the values it started with; the next one
takes the new ones), checked against what the store recorded."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Label, Select

from stars_engine.events import ParamsChanged, RunFinished, RunStarted
from stars_engine.store import open_store
from stars_tui.widgets.params_bar import ParamsBar

from .helpers import FAST, SIZE, GatedPolicy, chat, keys, make_app, send, wait_until

pytestmark = pytest.mark.anyio

RUN_KNOBS = ("param-max_new_tokens", "param-top_p", "param-top_k", "param-seed")


async def type_into(pilot, name: str, text: str) -> None:
    """Type ``text`` into the bar's field for ``name`` and press Enter, as a person does after F9."""
    field = pilot.app.chat_screen.query_one(f"#param-{name}", Input)
    field.focus()
    field.value = ""
    await pilot.press(*keys(text), "enter")
    await pilot.pause()


def message(app) -> str:
    return str(app.chat_screen.query_one("#param-message", Label).render())


def summary(app) -> str:
    return str(app.chat_screen.query_one("#param-summary", Label).render())


def recorded(db, session_id) -> list[tuple[RunStarted, RunFinished, list]]:
    """Each run of the session as stored: its start, its end, and every event."""
    with open_store(db) as store:
        runs = [list(store.run_events(r.id)) for r in store.runs_of(session_id)]
    return [(events[0], events[-1], events) for events in runs]


@pytest.mark.parametrize("strategy", ["stars", "best-of-n", "vanilla", "cards", "specrej", "smc", "beam"])
async def test_every_strategy_shows_the_run_knobs_unfolded_and_its_length_folded(strategy):
    app = make_app(params=FAST.with_changes(strategy=strategy))
    async with app.run_test(size=(80, 24)) as pilot:
        bar = app.chat_screen.query_one(ParamsBar)
        assert f"{strategy} · 24 tok · " in summary(app)
        await pilot.press("f9")
        await pilot.pause()
        for name in RUN_KNOBS:
            region = app.chat_screen.query_one(f"#{name}").region
            assert region.width > 0 and region.right <= 80 and region.bottom <= 24, name
        assert app.chat_screen.query_one("#param-seed", Input).value == "7"
        assert bar.region.bottom <= 6  # at 80×24 the unfolded bar leaves the conversation most rows


async def test_max_new_tokens_changed_in_the_bar_bounds_the_next_reply(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "a long answer")
        await type_into(pilot, "max_new_tokens", "8")
        assert message(app) == "max new tokens = 8 (from the next reply)"
        assert " · 8 tok · " in summary(app)
        assert app.current_params.max_new_tokens == 8
        await chat(pilot, "a short one")
        (_, long_end, _), (start, end, _) = recorded(db, app.chat.session_id)
        assert long_end.stats.tokens_accepted > 8  # the limit below bites
        assert start.params["max_new_tokens"] == 8
        assert 0 < end.stats.tokens_accepted <= 8
        assert message(app) == ""  # the change it announced has applied


async def test_top_p_and_top_k_changed_in_the_bar_are_recorded_with_the_next_run(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await type_into(pilot, "top_p", "0.5")
        assert message(app) == "top-p = 0.5 (from the next reply)"
        await type_into(pilot, "top_k", "0")
        await chat(pilot, "hello")
        [(start, _, _)] = recorded(db, app.chat.session_id)
        assert (start.params["top_p"], start.params["top_k"]) == (0.5, 0)


async def test_a_fixed_seed_repeats_and_random_draws_a_new_one_each_reply(db):
    app = make_app(db_path=db, params=FAST.with_changes(seed=None))
    async with app.run_test(size=SIZE) as pilot:
        field = app.chat_screen.query_one("#param-seed", Input)
        assert field.value == "random" and "seed random" in summary(app)
        await type_into(pilot, "seed", "1234")
        assert message(app) == "seed = 1234 (from the next reply)"
        await chat(pilot, "one")
        await chat(pilot, "two")
        await type_into(pilot, "seed", "random")
        assert message(app) == "seed = random (from the next reply)"
        assert app.current_params.seed is None and field.value == "random"
        await chat(pilot, "three")
        await chat(pilot, "four")
        seeds = [(start.seed, start.params["seed"]) for start, _, _ in recorded(db, app.chat.session_id)]
        assert seeds[:2] == [(1234, 1234), (1234, 1234)]
        assert seeds[2][1] is None and seeds[3][1] is None  # params say what was asked (random) ...
        assert seeds[2][0] != seeds[3][0] and 1234 not in (seeds[2][0], seeds[3][0])  # ... seed, what was drawn


@pytest.mark.parametrize(("name", "typed", "old", "reason"), [
    ("max_new_tokens", "0", "24", "refused: max new tokens: must be between 1 and 32768, got 0"),
    ("top_p", "1.5", "0.95", "refused: top-p: must be greater than 0 and at most 1, got 1.5"),
    ("top_k", "-1", "50", "refused: top-k: must be at least 0, got -1"),
    ("seed", "lucky", "7", "refused: seed: cannot read 'lucky' as a number or 'random'"),
])
async def test_a_refused_run_knob_keeps_the_old_value_with_the_reason_by_its_label(name, typed, old, reason):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_into(pilot, name, typed)
        assert message(app) == reason
        assert app.chat_screen.query_one(f"#param-{name}", Input).value == old
        assert str(getattr(app.current_params, name)) == old


async def test_run_knobs_changed_mid_reply_wait_for_the_next_one(db):
    policy = GatedPolicy(pause_at=8, delay=0.01)
    app = make_app(policy=policy, db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "keep going")
        await wait_until(pilot, policy.reached.is_set, "the run to reach its second segment")
        await type_into(pilot, "max_new_tokens", "4")
        await type_into(pilot, "top_k", "5")
        await type_into(pilot, "temperature", "0.5")  # a segment-level knob, for contrast
        policy.gate.set()
        await wait_until(pilot, lambda: not app.chat_screen.running, "the run to finish")
        await chat(pilot, "and again")
        (first, first_end, events), (second, second_end, _) = recorded(db, app.chat.session_id)
        changed = {k for e in events if isinstance(e, ParamsChanged) for k in e.changes}
        assert changed == {"temperature"}  # the run-level ones stayed pinned
        assert (first.params["max_new_tokens"], first.params["top_k"]) == (24, 50)
        assert first_end.stats.tokens_accepted > 4
        assert (second.params["max_new_tokens"], second.params["top_k"]) == (4, 5)
        assert second_end.stats.tokens_accepted <= 4


async def test_the_strategy_select_still_switches_and_keeps_the_run_knobs():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_into(pilot, "max_new_tokens", "300")
        select = app.chat_screen.query_one("#param-strategy", Select)
        select.value = "vanilla"
        await pilot.pause()
        assert app.current_params.strategy == "vanilla" and app.current_params.max_new_tokens == 300
        assert summary(app).startswith("F9 params  vanilla · 300 tok · temp 0.8")


def test_the_bar_takes_the_fewest_rows_whose_columns_fit_and_fills_them_evenly():
    from stars_tui.widgets.params_bar import columns_for

    assert columns_for([10] * 12, 200) == 6  # eight columns would leave a second row of four: 6 + 6
    assert columns_for([10] * 12, 43) == 4  # four columns and their gutters: 43 cells
    assert columns_for([10] * 12, 42) == 3
    assert columns_for([22, 10, 10, 22], 45) == 2  # a column is as wide as its widest field: 22 + 1 + 22
    assert columns_for([22, 10, 10, 22], 44) == 3  # two rows still: 22 + 10 + 10 and the gutters, not 22 + 22
    assert columns_for([22, 10, 10, 22], 43) == 1
    assert columns_for([30], 10) == 1  # one field a row, however narrow
