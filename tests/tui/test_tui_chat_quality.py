"""What users of terminal chat apps expect: Markdown, copy, prompt history and retry, focus, 80×24,
sessions that come back as they were, and a status line that says what it counts."""

from __future__ import annotations

import csv

import pytest
from textual.widgets import DataTable, Input, Label, Markdown

from stars_engine.events import RunStarted
from stars_engine.store import export_session, open_store
from stars_tui.widgets.params_bar import ParamsBar
from stars_tui.widgets.prompt_input import PromptInput
from stars_tui.widgets.status_line import EXPLAINED
from stars_tui.widgets.transcript import BOUNDARY, AssistantTurn, Transcript, UserTurn

from .helpers import FAST, SIZE, EchoPolicy, GatedPolicy, chat, finish, keys, make_app, send, wait_until

pytestmark = pytest.mark.anyio

REPLY = "# Rivers\n\nThey run:\n\n- downhill\n- to the sea\n\n```python\nprint('water')\n```\n\nThe end [/INST].\n"


def block_names(turn: AssistantTurn) -> set[str]:
    return {type(child).__name__ for child in turn.query_one(Markdown).children}


async def test_a_reply_renders_as_markdown_and_f7_shows_the_raw_segments():
    app = make_app(policy=EchoPolicy(REPLY, chunk=20), params=FAST.with_changes(max_new_tokens=64, threshold=-1))
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "tell me about rivers")
        turn = app.chat_screen.query(AssistantTurn).last()
        await wait_until(pilot, lambda: "MarkdownFence" in block_names(turn), "the code block rendered")
        assert {"MarkdownH1", "MarkdownBulletList", "MarkdownFence"} <= block_names(turn)
        assert turn.query_one(Markdown).source == REPLY
        raw = turn.query_one(".raw")
        assert raw.styles.display == "none"
        await pilot.press("f7")
        transcript = app.chat_screen.query_one(Transcript)
        assert transcript.raw
        assert raw.styles.display == "block" and turn.query_one(Markdown).styles.display == "none"
        assert REPLY.rstrip("\n") in turn.raw_text.replace(BOUNDARY, "")


async def test_markdown_grows_while_the_reply_streams():
    policy = GatedPolicy(pause_at=8)
    app = make_app(policy=policy)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "stream")
        await wait_until(pilot, policy.reached.is_set, "the run to stop mid-way")
        turn = app.chat_screen.query(AssistantTurn).last()
        await wait_until(pilot, lambda: turn.query_one(Markdown).source.strip() != "", "markdown mid-run")
        assert turn.query_one(Markdown).source == app.chat_screen.state.text
        policy.gate.set()
        await finish(pilot)
        assert turn.query_one(Markdown).source == app.chat_screen.state.text


async def test_copy_the_last_reply_a_message_and_its_code_blocks():
    app = make_app(policy=EchoPolicy(REPLY, chunk=40), params=FAST.with_changes(max_new_tokens=64, threshold=-1))
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "copy me")
        await pilot.press("ctrl+o")
        assert app.clipboard == REPLY
        app.chat_screen.query(UserTurn).last().focus()
        await pilot.press("c")
        assert app.clipboard == "copy me"
        app.chat_screen.query(AssistantTurn).last().focus()
        await pilot.press("k")
        assert app.clipboard == "print('water')\n"


async def test_up_and_down_in_an_empty_prompt_recall_earlier_prompts():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "one")
        await chat(pilot, "two")
        box = app.chat_screen.query_one(PromptInput)
        box.focus()
        await pilot.press("up")
        assert box.text == "two"
        await pilot.press("up")
        assert box.text == "one"
        await pilot.press("down")
        assert box.text == "two"
        await pilot.press("down")
        assert box.text == ""


async def test_edit_the_last_prompt_and_resend_it_as_a_new_run_of_the_same_turn(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "first")
        await chat(pilot, "secnd")
        await pilot.press("f6")
        box = app.chat_screen.query_one(PromptInput)
        assert box.text == "secnd" and box.has_focus
        assert [t["content"] for t in app.chat.turns if t["role"] == "user"] == ["first"]
        assert len(app.chat_screen.query(UserTurn)) == 1
        box.text = "second"
        await pilot.press("enter")
        await finish(pilot)
        assert [t["content"] for t in app.chat.turns if t["role"] == "user"] == ["first", "second"]
        with open_store(db) as store:
            runs = store.runs_of(app.chat.session_id)
        assert [(r.turn, r.prompt) for r in runs] == [(0, "first"), (1, "secnd"), (1, "second")]


async def test_regenerate_asks_again_with_a_new_seed_recorded_as_the_same_turn(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "again please")
        first = app.chat_screen.state.started.seed
        await pilot.press("f5")
        await finish(pilot)
        assert app.chat_screen.state.started.seed != first
        assert [t["role"] for t in app.chat.turns] == ["user", "assistant"]
        assert len(app.chat_screen.query(AssistantTurn)) == 1
        with open_store(db) as store:
            runs = store.runs_of(app.chat.session_id)
            seeds = [next(e for e in store.run_events(r.id) if isinstance(e, RunStarted)).seed for r in runs]
        assert [r.turn for r in runs] == [0, 0] and seeds[0] != seeds[1]


async def test_focus_comes_back_to_the_prompt_and_a_refused_value_is_selected():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.chat_screen
        box = screen.query_one(PromptInput)
        field = screen.query_one("#param-segment_tokens", Input)
        bar = screen.query_one(ParamsBar)
        assert not bar.expanded and field.region.area == 0  # folded: one summary line, no field in the Tab chain
        await pilot.press("f9")
        assert bar.expanded and screen.query_one("#param-strategy").has_focus
        await pilot.press("escape")
        assert box.has_focus and not bar.expanded
        field.focus()
        field.value = ""
        await pilot.press(*keys("0"), "enter")
        message = screen.query_one("#param-message", Label)
        assert "refused" in str(message.render())
        assert field.value == "4" and field.selected_text == "4"  # typing replaces it
        await pilot.press(*keys("8"))
        assert field.value == "8"
        await pilot.pause()
        assert str(message.render()) == ""  # the refusal clears once the value would be accepted
        await pilot.press("ctrl+l")
        assert box.has_focus
        screen.query_one("#param-threshold").focus()
        await pilot.press("ctrl+n")
        assert box.has_focus


async def test_at_80x24_the_strategys_parameters_unfold_on_screen_and_the_rubric_apply_button_is_in_sight():
    from fakes import ScriptedReward

    from stars_engine.reward.rubric import Rubric

    class EditableReward(ScriptedReward):
        rubric = Rubric(prefer=[f"a polite line {i}" for i in range(30)], avoid=["rude"])

    app = make_app(reward=EditableReward())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.reward is not None, "models loaded")
        screen = app.chat_screen
        bar = screen.query_one(ParamsBar)
        assert bar.region.height == 1  # folded: the conversation gets the rows
        await pilot.press("f9")
        await pilot.pause()
        shown = {"param-strategy", "param-segment_tokens", "param-threshold", "param-threshold_mode",
                 "param-acceptance", "param-max_attempts", "param-candidates_per_round", "param-temperature",
                 "param-max_new_tokens", "param-top_p", "param-top_k", "param-seed"}
        for field in screen.query("#param-fields Input, #param-fields Select"):
            region = field.region
            if field.id in shown:
                assert region.width > 0 and region.right <= 80 and region.bottom <= 24, field.id
            else:
                assert region.area == 0, f"{field.id} is not a knob of stars"
        assert bar.region.height == 1 and screen.query_one("#param-panel").region.height == 4  # drawn over the chat
        await pilot.press("escape")
        await pilot.press("f8")
        await wait_until(pilot, lambda: app.screen.query("#apply"), "the rubric dialog")
        apply = app.screen.query_one("#apply")
        await wait_until(pilot, lambda: 0 < apply.region.height and apply.region.bottom <= 24, "Apply in sight")
        await pilot.click("#apply")
        await wait_until(pilot, lambda: app.screen is screen, "the dialog applied and closed")


async def test_a_reopened_session_has_its_parameters_marks_and_stopped_reply(db):
    policy = GatedPolicy(pause_at=8, delay=0.01)
    app = make_app(policy=policy, db_path=db, params=FAST.with_changes(max_new_tokens=2000))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "keep going")
        await wait_until(pilot, policy.reached.is_set, "the run to reach segment 2")
        field = app.chat_screen.query_one("#param-threshold", Input)
        field.focus()
        field.value = "0.05"
        await pilot.press("enter")
        policy.gate.set()
        await wait_until(pilot, lambda: app.chat_screen.state.changes, "the change to land")
        await pilot.press("escape")  # from the parameter bar back to the prompt
        assert app.chat_screen.query_one(PromptInput).has_focus and app.chat_screen.running
        await pilot.press("escape")  # and stop the reply
        await finish(pilot)
        session = app.chat.session_id
        await pilot.press("ctrl+n")
        app.chat_screen.query_one(ParamsBar).show_params(FAST)
        app.current_params = FAST
        assert field.value == "0.3"
        await pilot.press("f2")
        await wait_until(pilot, lambda: getattr(app.screen, "session_id", None) == session, "the session listed")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.chat.session_id == session, "the session to open")
        reply = app.chat_screen.query(AssistantTurn).last().raw_text
        assert "⟨threshold 0.3→0.05⟩" in reply and "[stopped]" in reply
        segment = app.chat_screen.state.changes[0].segment + 1
        under_markdown = str(app.chat_screen.query(AssistantTurn).last().query_one(".trailer").render())
        assert f"⟨from segment {segment}: threshold 0.3→0.05⟩" in under_markdown and "[stopped]" in under_markdown
        assert app.current_params.threshold == 0.05
        assert field.value == "0.05"
        assert app.screen is app.chat_screen
        segments = app.chat_screen.query_one("#segments", DataTable)
        assert segments.row_count == len(app.chat_screen.state.segments) > 0  # the last run, inspected


async def test_the_runs_list_shows_each_runs_status(db):
    policy = GatedPolicy(pause_at=10**9)
    app = make_app(policy=policy, db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "finish this")
        policy.pause_at = 4
        await send(pilot, "stop this")
        await wait_until(pilot, policy.reached.is_set, "the second run mid-way")
        await pilot.press("escape")
        policy.gate.set()
        await finish(pilot)
        await pilot.press("f2")
        runs = app.screen.query_one("#runs", DataTable)
        await wait_until(pilot, lambda: runs.row_count == 2, "the session's runs")
        assert [str(runs.get_row_at(i)[2]) for i in range(2)] == ["finished", "cancelled"]
        assert [str(runs.get_row_at(i)[0]) for i in range(2)] == ["1", "2"]


async def test_the_status_line_shows_the_kept_rate_and_explains_itself():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "rates")
        status = app.chat_screen.query_one("#status")
        stats = app.chat_screen.state.finished.stats
        text = str(status.render())
        kept = stats.tokens_accepted / stats.wall_seconds
        assert f"({kept:.1f} kept)" in text
        assert f"accept {stats.acceptance_rate:.0%}" in text
        assert str(status.tooltip).endswith(EXPLAINED) and "acceptance_rate" in EXPLAINED  # after the models, in full


async def test_segments_and_attempts_are_numbered_from_1_on_screen_and_in_csv(db, tmp_path):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "count from one")
        segments = app.chat_screen.query_one("#segments", DataTable)
        assert str(segments.get_row_at(0)[0]) == "1"
        assert str(segments.get_row_at(segments.row_count - 1)[0]) == str(len(app.chat_screen.state.segments))
        attempts = app.chat_screen.query_one("#attempts", DataTable)
        assert str(attempts.get_row_at(0)[0]) == "1"
        with open_store(db) as store:
            export_session(store, app.chat.session_id, "csv", tmp_path / "s.csv")
    rows = list(csv.DictReader((tmp_path / "s.csv").open(newline="")))
    assert (rows[0]["turn"], rows[0]["segment"], rows[0]["attempt"]) == ("1", "1", "1")
    assert min(int(r["segment"]) for r in rows) == 1
