"""The compare screen (alt+c): columns fill (in turn, or interleaved on a policy that holds several runs),
Esc stops them, a reply is taken into the chat."""

from __future__ import annotations

import dataclasses

import pytest
from fakes import ScriptedReward, SiblingPolicy
from textual.widgets import Input, Static

from stars_engine.bench.judge import RewardJudge
from stars_engine.params import Params
from stars_engine.store import open_store
from stars_engine.store.comparisons import comparisons_of
from stars_tui.app import StarsApp
from stars_tui.screens.compare import CompareScreen
from stars_tui.widgets.transcript import AssistantTurn, UserTurn

from .helpers import FAST, SIZE, FrozenClock, GatedPolicy, chat, keys, make_app, ready, wait_until

pytestmark = pytest.mark.anyio


def fake_judges(policy, reward):
    """A held-out judge on the scripted reward: fast, and it ranks by the same good words."""
    return {"rubric": RewardJudge(ScriptedReward())}


async def open_compare(pilot, prompt: str = "be kind", specs: str = "vanilla,stars", seed: str = "5",
                       judges=fake_judges) -> CompareScreen:
    """The compare screen with its form filled, not started yet."""
    await ready(pilot)
    screen = CompareScreen(prompt, judges=judges)
    pilot.app.push_screen(screen)
    await pilot.pause()
    screen.query_one("#compare-specs", Input).value = specs
    screen.query_one("#compare-seed", Input).value = seed
    screen.query_one("#compare-specs", Input).focus()
    return screen


async def run_columns(pilot, screen: CompareScreen) -> None:
    await pilot.press("enter")
    await wait_until(pilot, lambda: screen.columns and not screen.running, "every column to end")


def note(screen: CompareScreen) -> str:
    return str(screen.query_one("#compare-note", Static).render())


async def test_alt_c_opens_it_with_the_prompt_box_text(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press(*keys("be kind"), "alt+c")
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        assert app.screen.query_one("#compare-prompt", Input).value == "be kind"


async def test_the_columns_fill_and_are_ranked_and_recorded(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot)
        await run_columns(pilot, screen)
        first, second = screen.columns
        assert [c.column.seed for c in screen.columns] == [5, 6]
        for column in screen.columns:
            assert column.state.finished is not None and column.state.text
            tally = str(column.query(Static)[1].render())
            assert f"{column.state.tokens_generated} tok" in tally
            assert f"{column.state.finished.stats.policy_forward_passes} fwd" in tally
        verdict = str(screen.query_one("#compare-verdict", Static).render())
        assert verdict.startswith("guide reward: ") and "rubric judge: " in verdict
        with open_store(db) as store:
            runs = [store.get_run(run_id) for run_id in screen.run_ids]
            (comparison,) = comparisons_of(store, app.chat.session_id)
        assert [r.final_text for r in runs] == [first.state.text, second.state.text]
        assert {r.prompt for r in runs} == {"be kind"} and app.chat.session_id is not None
        # one record links both runs, at the turn a reply taken from it becomes, with its verdict
        assert [(c.index, c.run.id) for c in comparison.columns] == [(0, runs[0].id), (1, runs[1].id)]
        assert (comparison.base_seed, comparison.turn) == (5, runs[0].turn)
        assert comparison.verdict_lines() == verdict.splitlines()


async def test_interleaved_columns_each_record_their_own_run_and_the_note_names_the_schedule(db):
    policy = SiblingPolicy("interleaved")
    app = make_app(policy=policy, db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot, specs="vanilla,bon-2,stars")
        await run_columns(pilot, screen)
        assert note(screen) == "done (interleaved): Tab to a column and alt+u to use its reply"
        assert len(policy.siblings) == 3 and all(s.released for s in policy.siblings)
        with open_store(db) as store:
            runs = [store.get_run(run_id) for run_id in screen.run_ids]
        assert len({r.id for r in runs}) == 3 and {r.session_id for r in runs} == {app.chat.session_id}
        assert len({r.turn for r in runs}) == 1  # one turn: the one a reply taken from here becomes
        assert [r.final_text for r in runs] == [c.state.text for c in screen.columns]
        for column, sibling in zip(screen.columns, policy.siblings):
            assert column.state.finished.stats.policy_forward_passes == sibling.forward_passes  # its own count
            assert f"{sibling.forward_passes} fwd" in str(column.query(Static)[1].render())


async def test_escape_stops_every_interleaved_column_keeping_what_each_wrote(db):
    policy = SiblingPolicy("interleaved", delay=0.005)
    app = make_app(policy=policy, db_path=db, params=dataclasses.replace(FAST, max_new_tokens=400))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.columns and all(c.state.tokens_generated for c in screen.columns),
                         "both columns to be decoding")
        assert note(screen) == "base seed 5: 2 columns, interleaved; Esc stops them all"
        await pilot.press("escape")
        await wait_until(pilot, lambda: not screen.running, "the columns to stop")
        assert [c.state.finished.stop_reason for c in screen.columns] == ["cancelled", "cancelled"]
        with open_store(db) as store:
            runs = [store.get_run(run_id) for run_id in screen.run_ids]
        assert [(r.status, r.stop_reason) for r in runs] == [("finished", "cancelled")] * 2
        assert [r.final_text for r in runs] == [c.state.text for c in screen.columns]


async def test_a_focused_column_is_shown_in_the_inspector(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot)
        await run_columns(pilot, screen)
        screen.columns[1].focus()
        await pilot.pause()
        from stars_tui.widgets.inspector import SegmentInspector

        assert screen.query_one(SegmentInspector).state is screen.columns[1].state


async def test_a_bad_spec_is_refused_in_one_line(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot, specs="vanilla,nosuch")
        await pilot.press("enter")
        await pilot.pause()
        assert note(screen).startswith("error: ") and "nosuch" in note(screen) and "\n" not in note(screen)
        assert not screen.columns and not screen.running


async def test_escape_stops_every_column_keeping_what_was_written(db):
    policy = GatedPolicy(pause_on_call=3)
    app = make_app(policy=policy, db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot)
        await pilot.press("enter")
        await wait_until(pilot, policy.reached.is_set, "the first column to be mid-way")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not screen.running, "the columns to stop")
        first, second = screen.columns
        assert first.state.finished.stop_reason == "cancelled"
        assert second.state.started is None and second.error == "not run"
        assert str(screen.query_one("#compare-verdict", Static).render()) == ""
        with open_store(db) as store:
            assert store.get_run(screen.run_ids[0]).final_text == first.state.text
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.chat_screen


async def test_use_this_reply_puts_it_in_the_chat_which_goes_on_from_it(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot)
        await run_columns(pilot, screen)
        taken = screen.columns[1]
        taken.focus()
        await pilot.press("alt+u")
        await pilot.pause()
        assert app.screen is app.chat_screen
        assert app.chat.turns == [{"role": "user", "content": "be kind"},
                                  {"role": "assistant", "content": taken.state.text}]
        assert app.chat.last_run_id == screen.run_ids[1]
        assert len(app.chat_screen.query(UserTurn)) == 1 and len(app.chat_screen.query(AssistantTurn)) == 1
        await chat(pilot, "more")
        assert [t["role"] for t in app.chat.turns] == ["user", "assistant", "user", "assistant"]
        with open_store(db) as store:
            assert store.get_run(app.chat.last_run_id).session_id == app.chat.session_id


async def steady(pilot) -> None:
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_compare_screen_snapshot(snap_compare, size):
    """Column 1 done (its measured wall time fixed), column 2 frozen mid-way by a gated policy."""
    clock = FrozenClock()
    policy = GatedPolicy(pause_on_call=8)
    app = make_app(policy=policy, clock=clock)

    async def mid_way(pilot) -> None:
        screen = await open_compare(pilot)
        await pilot.press("enter")
        await wait_until(pilot, policy.reached.is_set, "column 2 to be mid-way")
        first = screen.columns[0]
        await wait_until(pilot, lambda: first.state.finished is not None, "column 1 shown finished")
        stats = dataclasses.replace(first.state.finished.stats, wall_seconds=1.5)
        first.state.finished = dataclasses.replace(first.state.finished, stats=stats)
        clock.now += 2.0
        for column in screen.columns:
            column.show(screen.seconds(column))
        await steady(pilot)

    try:
        assert snap_compare(app, terminal_size=size, run_before=mid_way)
    finally:
        policy.gate.set()


@pytest.mark.real
@pytest.mark.parametrize("size", [(80, 24), SIZE])
async def test_two_real_columns_of_sixteen_tokens(real_policy, real_reward, db, size):
    """The real default models, in this process: both judges rank the replies; at 80x24 too, where both
    columns and the verdict are on screen."""
    from stars_tui.screens.compare import workbench_judges

    params = Params(seed=3, segment_tokens=8, max_new_tokens=16, max_attempts=3, candidates_per_round=2)
    app = StarsApp(lambda: real_policy, lambda: real_reward, db_path=db, params=params)
    async with app.run_test(size=size) as pilot:
        screen = await open_compare(pilot, prompt="Name a fruit.", specs="vanilla,stars", judges=workbench_judges)
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.columns and not screen.running, "both columns", limit=300)
        assert all(c.state.failed is None and c.state.text.strip() for c in screen.columns), note(screen)
        assert all(c.state.finished.stats.tokens_accepted <= 16 for c in screen.columns)
        assert [line.split(":")[0] for line in screen.lines] == ["guide reward", "chat judge", "rubric judge"]
        await pilot.pause()
        shown = [screen.region] + [c.region for c in screen.columns]
        verdict = screen.query_one("#compare-verdict").region
        assert all(r.width > 10 and r.height > 2 and shown[0].contains_region(r) for r in shown[1:]), shown
        assert verdict.height >= 3 and shown[0].contains_region(verdict)


async def test_the_palette_offers_it(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        titles = [command.title for command in app.get_system_commands(app.chat_screen)]
        assert "Compare strategies" in titles


async def test_quitting_mid_comparison_stops_its_columns(db):
    policy = GatedPolicy(pause_on_call=3)
    app = make_app(policy=policy, db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot)
        await pilot.press("enter")
        await wait_until(pilot, policy.reached.is_set, "the first column to be mid-way")
        await pilot.press("ctrl+q")
        assert screen.cancel.is_set()


@pytest.mark.real
async def test_on_the_workbench_worker_process_only_the_rubric_judges(db):
    """What `stars chat` loads: the models in a worker process, so no chat model here to judge with;
    the held-out rubric ranks the replies on an encoder loaded in this process."""
    from stars_engine import backends
    from stars_engine.backends.spec import ModelSpec
    from stars_tui.screens.compare import workbench_judges

    params = Params(seed=3, segment_tokens=8, max_new_tokens=16, max_attempts=3, candidates_per_round=2)
    app = StarsApp(*backends.loaders(ModelSpec()), db_path=db, params=params)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.policy is not None, "models loaded in the worker", limit=300)
        screen = await open_compare(pilot, prompt="Name a fruit.", specs="vanilla,stars", judges=workbench_judges)
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.columns and not screen.running, "both columns", limit=300)
        assert all(c.state.started.runtime["process"] == "worker" for c in screen.columns)
        assert [line.split(":")[0] for line in screen.lines] == ["guide reward", "rubric judge"]
        await pilot.press("ctrl+q")
