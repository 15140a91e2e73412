"""What a new user hits in the first ten minutes: y/n keys, HTML and pasted escapes shown as typed,
the raw view, keys that reach the conversation from the prompt, an 80×24 screen that keeps the
model state, the F-keys and the conversation in sight, and an F8 that never freezes the screen."""

from __future__ import annotations

import threading

import pytest
from fakes import ScriptedReward
from textual import events
from textual.widgets import DataTable, Label

from stars_engine.reward.rubric import Rubric
from stars_tui.screens.dialogs import ConfirmDialog, TextDialog
from stars_tui.screens.replay import ReplayScreen
from stars_tui.screens.sessions import SessionsScreen
from stars_tui.widgets.params_bar import ParamsBar
from stars_tui.widgets.prompt_input import PromptInput
from stars_tui.widgets.transcript import BOUNDARY, AssistantTurn, Transcript, Turn

from .helpers import (
    FAST,
    SIZE,
    EchoPolicy,
    GatedPolicy,
    chat,
    finish,
    keys,
    make_app,
    ready,
    screen_text,
    send,
    wait_until,
)

pytestmark = pytest.mark.anyio

HTML = "<script>alert(1)</script>!"
HTML_REPLY = f"{HTML}\n\nA <b>bold</b> claim & <div>x</div> <!-- hidden? -->\n"


async def test_n_answers_no_and_y_yes_in_the_delete_dialog(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "keep me")
        await pilot.press("f2")
        sessions = app.screen
        table = sessions.query_one("#sessions", DataTable)
        await wait_until(pilot, lambda: table.row_count == 1, "the session listed")
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is sessions, "the dialog answered no")
        await pilot.pause(0.2)
        assert table.row_count == 1
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question again")
        await pilot.press("y")
        await wait_until(pilot, lambda: table.row_count == 0, "the session deleted")


async def test_n_declines_to_reopen_the_last_session(db, tmp_path):
    from stars_tui.config import resolve

    config = tmp_path / "config.json"
    first = make_app(db_path=db)
    first.settings = resolve(config, env={})
    async with first.run_test(size=SIZE) as pilot:
        await chat(pilot, "remember me")
    again = make_app(db_path=db)
    again.settings = resolve(config, env={})
    async with again.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(again.screen, ConfirmDialog), "the offer to reopen")
        await pilot.press("n")
        await wait_until(pilot, lambda: again.screen is again.chat_screen, "the offer declined")
        assert again.chat.session_id is None and not again.chat_screen.query(Turn)


class GatedEcho(EchoPolicy):
    """``EchoPolicy`` that stops before its ``pause_on``-th segment until the test opens ``gate``."""

    def __init__(self, reply: str, chunk: int, pause_on: int) -> None:
        super().__init__(reply, chunk)
        self.pause_on, self.calls = pause_on, 0
        self.reached, self.gate = threading.Event(), threading.Event()

    def sample(self, n, max_tokens, sampling, cancel=None):
        self.calls += 1
        if self.calls == self.pause_on:
            self.reached.set()
            self.gate.wait(20)
        return super().sample(n, max_tokens, sampling, cancel)


async def test_html_in_a_reply_shows_as_written_while_streaming_after_replay_and_reopened(db):
    policy = GatedEcho(HTML_REPLY, chunk=30, pause_on=3)
    app = make_app(policy=policy, db_path=db, params=FAST.with_changes(max_new_tokens=64, threshold=-1.0))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "show me html")
        await wait_until(pilot, policy.reached.is_set, "the reply to stop mid-way")
        await wait_until(pilot, lambda: HTML in screen_text(app), "the streamed HTML shown as written")
        policy.gate.set()
        await finish(pilot)
        await pilot.pause()
        shown = screen_text(app)
        assert HTML in shown and "A <b>bold</b> claim & <div>x</div>" in shown

        app.action_replay_last()
        await wait_until(pilot, lambda: isinstance(app.screen, ReplayScreen), "the replay screen")
        replay = app.screen
        while not replay.finished:
            replay.step()
        await wait_until(pilot, lambda: HTML in screen_text(app), "the replayed HTML shown as written")
        await pilot.press("escape")

        app.new_chat()
        app.chat_screen.show_history([])
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen) and app.screen.session_id, "sessions")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is app.chat_screen and app.chat.session_id, "reopened")
        await wait_until(pilot, lambda: HTML in screen_text(app), "the reopened HTML shown as written")


async def test_a_paste_with_escapes_arrives_in_order_with_controls_as_symbols():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        box = app.chat_screen.query_one(PromptInput)
        box.focus()
        await pilot.press(*keys("before "))
        box.post_message(events.Paste("\x1b[31mRED\x1b[0m done\r\nnext"))
        await pilot.pause()
        await pilot.press(*keys(" after"))
        assert box.text == "before ␛[31mRED␛[0m done\nnext after"
        shown = screen_text(app)
        assert "before ␛[31mRED␛[0m done" in shown and "next after" in shown


def test_an_escape_inside_a_bracketed_paste_stays_in_the_paste():
    """Textual's parser alone turns it into key presses ahead of the paste; the guard keeps it in, as ␛,
    however the terminal's input is cut into reads."""
    from textual._xterm_parser import XTermParser

    from stars_tui.widgets.prompt_input import install_paste_guard

    install_paste_guard()
    data = "a\x1b[200~\x1b[31mRED\x1b[0m done\x1b[201~z"
    for chunks in ([data], list(data), [data[:9], data[9:31], data[31:]]):
        parser = XTermParser()
        got = [event for chunk in chunks for event in parser.feed(chunk)]
        shown = [(type(e).__name__, e.text if isinstance(e, events.Paste) else e.key) for e in got]
        assert shown == [("Key", "a"), ("Paste", "␛[31mRED␛[0m done"), ("Key", "z")], chunks


async def test_scroll_keys_in_the_prompt_move_the_conversation_and_tab_skips_the_parameters():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        screen = app.chat_screen
        turns = [{"role": r, "content": f"{r} line {i}\n" * 3} for i in range(12) for r in ("user", "assistant")]
        screen.show_history(turns)
        transcript = screen.query_one(Transcript)
        box = screen.query_one(PromptInput)
        box.focus()
        await wait_until(pilot, lambda: transcript.max_scroll_y > 0 and transcript.scroll_y == transcript.max_scroll_y,
                         "the conversation at its end")
        await pilot.press("pageup")
        await wait_until(pilot, lambda: transcript.scroll_y < transcript.max_scroll_y, "a page up")
        await pilot.press("ctrl+home")
        await wait_until(pilot, lambda: transcript.scroll_y == 0, "the top")
        await pilot.press("pagedown")
        await wait_until(pilot, lambda: transcript.scroll_y > 0, "a page down")
        await pilot.press("ctrl+end")
        await wait_until(pilot, lambda: transcript.scroll_y == transcript.max_scroll_y, "the end")
        assert box.has_focus and box.text == ""

        bar = screen.query_one(ParamsBar)
        visited = []
        for _ in range(40):
            await pilot.press("tab")
            if box.has_focus:
                break
            visited.append(app.focused)
        assert box.has_focus, "Tab comes back round to the prompt"
        assert not any(bar in w.ancestors_with_self for w in visited), "no parameter field on the way"
        assert any(isinstance(w, Turn) for w in visited), "the messages are on the way"


async def test_deleting_the_open_session_gives_the_keys_back_to_the_prompt(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "delete me")
        app.chat_screen.query(Turn).last().focus()
        await pilot.press("f2")
        sessions = app.screen
        table = sessions.query_one("#sessions", DataTable)
        await wait_until(pilot, lambda: table.row_count == 1, "the session listed")
        await pilot.press("d", "y")
        await wait_until(pilot, lambda: table.row_count == 0, "the session deleted")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.chat_screen, "back in the chat")
        assert isinstance(app.focused, PromptInput)
        await pilot.press(*keys("next"))
        assert app.chat_screen.query_one(PromptInput).text == "next"


class SlowRubricReward(ScriptedReward):
    """A reward whose rubric takes a round trip the test controls (the model process, busy sampling)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked, self.answer = threading.Event(), threading.Event()

    @property
    def rubric(self):
        self.asked.set()
        self.answer.wait(20)
        return Rubric(prefer=["kind"], avoid=["rude"])

    @rubric.setter
    def rubric(self, rubric) -> None:
        pass


async def test_f8_reads_the_rubric_off_the_ui_thread():
    reward = SlowRubricReward()
    app = make_app(reward=reward)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f8")
        await wait_until(pilot, reward.asked.is_set, "the rubric asked for")
        await pilot.press("f7")  # the screen still answers keys while the rubric is on its way
        assert app.chat_screen.query_one(Transcript).raw
        reward.answer.set()
        await wait_until(pilot, lambda: app.screen.query("#prefer"), "the rubric dialog")


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_model_state_placeholder_and_f_keys_are_in_sight(size):
    loaded = threading.Event()
    reward = ScriptedReward()

    def slow_policy():
        loaded.wait(20)
        return EchoPolicy("ok")

    from stars_tui.app import StarsApp

    app = StarsApp(slow_policy, lambda: reward, params=FAST)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        status = app.chat_screen.query_one("#status")
        await wait_until(pilot, lambda: str(status.render()).rstrip().endswith("loading models…"), "loading shown")
        shown = screen_text(app)
        assert "Enter sends" in shown and "Ctrl+P for everything" in shown
        for key in ("f5", "f8", "f9"):
            assert f" {key} " in shown.splitlines()[-1], f"{key} in the footer"
        loaded.set()
        await wait_until(pilot, lambda: str(status.render()).rstrip().split("   ")[-1].startswith("ready"), "ready")
        assert "ready" in screen_text(app).splitlines()[-2]


@pytest.mark.parametrize(("size", "room"), [((80, 24), 4), ((120, 40), 16)])
async def test_the_attempt_text_takes_the_room_left_and_shows_whole_on_enter(size, room):
    reply = "The river runs downhill to the sea. " * 8  # two segments of 144 characters
    app = make_app(policy=EchoPolicy(reply, chunk=144), params=FAST.with_changes(max_new_tokens=64, threshold=-1.0))
    async with app.run_test(size=size) as pilot:
        await chat(pilot, "rivers")
        screen = app.chat_screen
        attempts = screen.query_one("#attempts", DataTable)
        await wait_until(pilot, lambda: attempts.row_count > 0, "attempts listed")
        await pilot.pause()
        text_column = attempts.ordered_columns[-1]
        assert attempts.region.right <= size[0] and attempts.max_scroll_x == 0  # nothing scrolls sideways
        assert text_column.get_render_width(attempts) - 2 * attempts.cell_padding >= room
        attempts.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, TextDialog), "the attempt's whole text")
        last = screen.state.segments[-1].attempts[0]
        assert len(last.text) > 100 and str(app.screen.query_one("#full-text").render()) == last.text


async def test_the_raw_view_marks_segments_and_lists_a_change_once():
    policy = GatedPolicy(pause_at=8)
    app = make_app(policy=policy)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "change things")
        await wait_until(pilot, policy.reached.is_set, "the run to reach segment 2")
        field = app.chat_screen.query_one("#param-segment_tokens")
        field.focus()
        field.value = ""
        await pilot.press(*keys("3"), "enter")
        message = app.chat_screen.query_one("#param-message", Label)
        assert str(message.render()) == "segment = 3 (from the next segment)"
        policy.gate.set()
        await finish(pilot)
        assert str(message.render()) == ""  # applied, and marked in the reply: the note goes
        turn = app.chat_screen.query(AssistantTurn).last()
        trailer = turn.query_one(".trailer")
        assert "⟨from segment 4: segment 4→3⟩" in str(trailer.render())  # the Markdown view lists it below
        app.chat_screen.query_one(PromptInput).focus()
        await pilot.press("f7")
        await pilot.pause()
        assert app.chat_screen.query_one(Transcript).raw
        assert trailer.region.area == 0  # the raw view marks it in place, and only there
        assert turn.raw_text.count("⟨segment 4→3⟩") == 1
        assert turn.raw_text.count(BOUNDARY) == len(app.chat_screen.state.segments) - 1
        shown = screen_text(app)
        assert BOUNDARY in shown and "segment_tokens" not in shown


async def test_the_strategy_note_goes_once_it_applies_or_a_new_chat_starts():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = app.chat_screen
        message = screen.query_one("#param-message", Label)
        screen.query_one("#param-strategy").value = "vanilla"
        await wait_until(pilot, lambda: "strategy = vanilla (from the next reply)" in str(message.render()), "note")
        await pilot.press("ctrl+n")
        assert str(message.render()) == ""
        screen.query_one("#param-strategy").value = "best-of-n"
        await wait_until(pilot, lambda: "strategy = best-of-n" in str(message.render()), "the note again")
        await chat(pilot, "go")
        assert str(message.render()) == ""
        assert screen.state.started.params["strategy"] == "best-of-n"


async def test_the_sessions_screen_at_80_columns_shows_whole_dates(db):
    app = make_app(db_path=db)
    async with app.run_test(size=(80, 24)) as pilot:
        await chat(pilot, "a title long enough to be cut somewhere on a narrow screen")
        await pilot.press("f2")
        table = app.screen.query_one("#sessions", DataTable)
        await wait_until(pilot, lambda: table.row_count == 1, "the session listed")
        updated = str(table.get_row_at(0)[0])
        assert len(updated) == 16 and updated[:2] == "20"
        assert updated in screen_text(app)


def test_the_markdown_parser_reads_tags_as_text():
    """The parser the Markdown view uses reads tags as text: no HTML token can reach the widget."""
    from stars_tui.widgets.transcript import literal_html_parser

    tokens = literal_html_parser().parse(HTML_REPLY)
    kinds = {t.type for t in tokens} | {c.type for t in tokens for c in (t.children or [])}
    assert not {k for k in kinds if "html" in k}
