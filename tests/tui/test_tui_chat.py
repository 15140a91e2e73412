"""Pilot tests of the chat screen on a fast scripted engine (a real event stream, real SQLite)."""

from __future__ import annotations

import pytest
from fakes import ScriptedPolicy
from textual.widgets import DataTable, Label

from stars_engine.events import ParamsChanged
from stars_engine.store import open_store
from stars_tui.widgets.transcript import BOUNDARY, AssistantTurn, UserTurn

from .helpers import SIZE, GatedPolicy, chat, finish, keys, make_app, send, wait_until

pytestmark = pytest.mark.anyio


def cells(table: DataTable, column: int) -> list[str]:
    return [str(table.get_row_at(i)[column]) for i in range(table.row_count)]


async def test_a_prompt_shows_the_reply_and_every_attempt_with_its_verdict(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "be kind")
        screen = app.chat_screen
        state = screen.state
        assert state.finished.stop_reason == "max_tokens"
        segments = screen.query_one("#segments", DataTable)
        assert segments.row_count == len(state.segments) == state.finished.stats.segments
        attempts = screen.query_one("#attempts", DataTable)
        last = state.segments[-1]
        assert attempts.row_count == len(last.attempts)
        assert cells(attempts, 2) == [a.verdict for a in last.attempts]
        verdicts = {a.verdict for s in state.segments for a in s.attempts}
        assert {"accepted", "rejected"} <= verdicts
        reply = screen.query(AssistantTurn).last()
        assert state.text and len(state.segments) > 1
        # the raw view: every segment as written, a boundary mark between two
        assert reply.raw_text.rstrip() == BOUNDARY.join(part.text for part in state.parts).rstrip()
        assert [t["role"] for t in app.chat.turns] == ["user", "assistant"]
        assert app.chat.turns[1]["content"] == state.text


async def test_the_live_counts_match_the_engines_final_stats(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "count me")
        state = app.chat_screen.state
        stats = state.finished.stats
        assert state.tokens_generated == stats.tokens_generated
        assert state.tokens_discarded == stats.tokens_discarded
        assert state.acceptance_rate == stats.acceptance_rate
        assert state.attempts + 1 == stats.reward_calls  # plus the empty-reply baseline


async def test_a_parameter_changed_mid_run_lands_at_the_next_segment_and_is_recorded(db):
    policy = GatedPolicy(pause_at=8)  # segment 2 (4 tokens each) is being drawn when it stops
    app = make_app(policy=policy, db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "change things")
        await wait_until(pilot, policy.reached.is_set, "the run to reach segment 2")
        field = app.chat_screen.query_one("#param-threshold")
        field.focus()
        field.value = ""
        await pilot.press(*keys("0.05"), "enter")
        assert app.current_params.threshold == 0.05
        policy.gate.set()
        await finish(pilot)
        state = app.chat_screen.state
        assert [c.segment for c in state.changes] == [3]
        assert state.changes[0].changes == {"threshold": [0.3, 0.05]}
        assert all(a.threshold == 0.05 for s in state.segments[3:] for a in s.attempts)
        reply = app.chat_screen.query(AssistantTurn).last().raw_text
        assert "threshold 0.3→0.05" in reply
        with open_store(db) as store:
            recorded = [e for e in store.run_events(app.chat.last_run_id) if isinstance(e, ParamsChanged)]
        assert [(e.segment, e.changes) for e in recorded] == [(3, {"threshold": [0.3, 0.05]})]


async def test_an_invalid_parameter_is_refused_with_the_reason_and_the_old_value_stays():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        field = app.chat_screen.query_one("#param-segment_tokens")
        field.focus()
        field.value = ""
        await pilot.press(*keys("-3"), "enter")
        message = str(app.chat_screen.query_one("#param-message", Label).render())
        assert "refused: segment: must be between 1 and 4096, got -3" in message  # the label shown, not the name
        assert field.value == "4"
        assert app.current_params.segment_tokens == 4
        field.value = "lots"
        await pilot.press("enter")
        assert "cannot read 'lots'" in str(app.chat_screen.query_one("#param-message", Label).render())
        assert app.current_params.segment_tokens == 4


async def test_a_choice_parameter_changes_from_its_select():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.policy is not None, "the app to start")  # the bar is mounted and set
        app.chat_screen.query_one("#param-acceptance").value = "soft"
        await wait_until(pilot, lambda: app.current_params.acceptance == "soft", "the change to reach the app")


async def test_escape_stops_the_run_and_keeps_the_partial_reply_marked_stopped(db):
    policy = GatedPolicy(pause_at=8)
    app = make_app(policy=policy, db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "go on and on")
        await wait_until(pilot, policy.reached.is_set, "the run to reach segment 2")
        await pilot.press("escape")
        assert app.chat_screen.cancel.is_set()
        policy.gate.set()
        await finish(pilot)
        state = app.chat_screen.state
        assert state.finished.stop_reason == "cancelled"
        assert len(state.segments[0].attempts) and state.text
        assert "[stopped]" in app.chat_screen.query(AssistantTurn).last().raw_text
        assert app.chat.turns[-1] == {"role": "assistant", "content": state.text}
        with open_store(db) as store:
            assert store.get_run(app.chat.last_run_id).stop_reason == "cancelled"


async def test_the_next_turn_sends_the_whole_conversation_in_the_same_session(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "first")
        first_session = app.chat.session_id
        await chat(pilot, "second")
        assert app.chat.session_id == first_session
        started = app.chat_screen.state.started
        assert [m["role"] for m in started.messages] == ["user", "assistant", "user"]
        assert len(app.chat_screen.query(UserTurn)) == 2
        with open_store(db) as store:
            assert store.session(first_session).runs == 2


async def test_a_prompt_sent_while_the_model_loads_is_kept(db):
    import threading

    loaded = threading.Event()

    def slow_policy():
        loaded.wait(30)
        return ScriptedPolicy()

    app = make_app(db_path=db)
    app.policy_loader = slow_policy
    async with app.run_test(size=SIZE) as pilot:
        assert "loading" in str(app.chat_screen.query_one("#status").render())
        prompt = app.chat_screen.query_one("#prompt")
        prompt.focus()
        await pilot.press(*keys("too soon"), "enter")
        assert prompt.text == "too soon" and prompt.queued  # kept in the box, queued
        assert not app.chat_screen.running
        await pilot.press("f2")
        assert type(app.screen).__name__ == "SessionsScreen"
        await pilot.press("escape")
        loaded.set()
        await wait_until(pilot, lambda: app.chat.turns, "the queued prompt to go by itself")
        await finish(pilot)
        assert app.chat.turns[0]["content"] == "too soon"
        assert not prompt.queued and prompt.text == ""


async def test_a_model_that_fails_to_load_is_reported_and_the_app_stays_up():
    def broken():
        raise RuntimeError("no weights here")

    app = make_app()
    app.policy_loader = broken
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "failed" in app.model_status, "the failure to be reported")
        assert "no weights here" in str(app.chat_screen.query_one("#status").render())


async def test_every_footer_action_is_in_the_command_palette():
    app = make_app()
    async with app.run_test(size=SIZE):
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Stop", "Sessions", "Replay", "Export", "Rubric", "Params", "New chat", "Quit"} <= titles


async def test_new_chat_starts_a_fresh_session(db):
    app = make_app(db_path=db, policy=ScriptedPolicy())
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "one")
        first = app.chat.session_id
        await pilot.press("ctrl+n")
        assert app.chat.turns == [] and not app.chat_screen.query(UserTurn)
        await chat(pilot, "two")
        assert app.chat.session_id != first


async def test_the_transcript_follows_the_reply_until_the_user_scrolls_up():
    from stars_engine.params import Params
    from stars_tui.widgets.transcript import Transcript

    policy = GatedPolicy(pause_at=120)
    params = Params(seed=2, segment_tokens=8, max_new_tokens=240, threshold=0.0, threshold_mode="fixed")
    app = make_app(policy=policy, params=params)
    async with app.run_test(size=(80, 20)) as pilot:
        await send(pilot, "a long one")
        await wait_until(pilot, policy.reached.is_set, "a reply longer than the transcript")
        transcript = app.chat_screen.query_one(Transcript)
        await wait_until(pilot, lambda: transcript.max_scroll_y > 0, "the transcript to overflow")
        # the reply is paused here, so the view settles at the end if it follows the reply
        await wait_until(pilot, lambda: transcript.scroll_y == transcript.max_scroll_y, "the view to follow the reply")
        transcript.scroll_home(animate=False)
        await pilot.pause()
        before = transcript.max_scroll_y
        policy.gate.set()
        await finish(pilot)
        await wait_until(pilot, lambda: transcript.max_scroll_y > before, "the transcript to grow")
        assert transcript.scroll_y == 0  # left where the user put it


async def test_a_command_palette_entry_runs_its_action(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Sessions")
        app.call_later(command.callback)
        await wait_until(pilot, lambda: type(app.screen).__name__ == "SessionsScreen", "the sessions screen")


async def test_a_strategy_the_backend_cannot_run_is_refused_in_the_bar_before_any_run(db):
    from functools import partial

    from stars_engine import backends
    from stars_engine.backends.spec import ModelSpec

    vllm = backends.choose(ModelSpec(server=("http://127.0.0.1:9",)))
    app = make_app(db_path=db)
    app.strategy_check = partial(backends.check_strategy, vllm)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.policy is not None, "the app to start")
        app.chat_screen.query_one("#params").apply("strategy", "cards")
        await pilot.pause()
        message = str(app.chat_screen.query_one("#param-message", Label).render())
        assert "refused: cards cannot run on the vllm backend" in message
        assert app.current_params.strategy == "stars"
        app.chat_screen.query_one("#params").apply("strategy", "specrej")  # one it can run still applies
        await wait_until(pilot, lambda: app.current_params.strategy == "specrej", "the change to reach the app")
