"""Pilot tests of the chat list, find, the session's rename and export, and deleting or editing any turn,
over a real SQLite file (a scripted model)."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Label, OptionList, Static

from stars_engine.store import open_store
from stars_engine.store.turns import removed_runs
from stars_tui.saved_session import load_session
from stars_tui.screens.dialogs import AskDialog, ConfirmDialog
from stars_tui.screens.edit_turn import EditTurnDialog
from stars_tui.screens.export import ExportDialog
from stars_tui.widgets.chat_list import ChatList
from stars_tui.widgets.find_bar import FindBar
from stars_tui.widgets.transcript import AssistantTurn, Transcript, UserTurn

from .helpers import FAST, SIZE, EchoPolicy, chat, finish, keys, make_app, wait_until

pytestmark = pytest.mark.anyio


def marks(text) -> list[tuple[str, str]]:
    """Each highlighted stretch of a rendered ``Text``: (its text, "current" or "match")."""
    return [(text.plain[s.start:s.end], "current" if "bold" in str(s.style).split() else "match")
            for s in text.spans]


def user_prompts(app) -> list[str]:
    return [t["content"] for t in app.chat.turns if t["role"] == "user"]


async def test_the_chat_list_shows_searches_and_opens_sessions_and_stays_as_set(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "tell me about rivers")
        rivers = app.chat.session_id
        await pilot.press("ctrl+n")
        await chat(pilot, "explain mountains")
        chats = app.chat_screen.query_one(ChatList)
        items = chats.query_one("#chat-items", OptionList)
        assert not chats.display or not chats.shown
        await pilot.press("ctrl+b")
        assert chats.shown and chats.display
        await wait_until(pilot, lambda: items.option_count == 2, "both sessions listed")
        assert "● explain mountains" in str(items.get_option_at_index(0).prompt)  # the open one, marked
        await pilot.press(*keys("rivers"))  # the focus is in the list's search box
        await wait_until(pilot, lambda: items.option_count == 1, "the one session about rivers")
        assert "rivers" in str(chats.query_one("#chat-list-title", Label).render())
        await pilot.press("enter", "enter")  # to the list, then open the highlighted session
        await wait_until(pilot, lambda: app.chat.session_id == rivers, "the rivers session opened")
        assert user_prompts(app) == ["tell me about rivers"]
        assert app.focused is app.chat_screen.query_one("#prompt")
        await pilot.press("f2")
        await pilot.press("escape")
        assert chats.shown  # remembered across screens
        await pilot.press("ctrl+b")
        assert not chats.shown


async def test_the_chat_list_finds_a_word_only_in_a_reply(db):
    app = make_app(policy=EchoPolicy("Otters hold hands while they sleep."), db_path=db,
                   params=FAST.with_changes(threshold=-1.0, max_new_tokens=64))
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "a fact")
        await pilot.press("ctrl+n")
        app.policy.text = "Nothing to see."
        await chat(pilot, "another fact")
        await pilot.press("ctrl+b", *keys("otters"))
        items = app.chat_screen.query_one("#chat-items", OptionList)
        await wait_until(pilot, lambda: items.option_count == 1 and "a fact" in str(
            items.get_option_at_index(0).prompt), "the session whose reply holds the word")


async def test_rename_and_export_the_session_from_the_chat(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert not isinstance(app.screen, AskDialog)  # nothing recorded yet: nothing to rename
        await chat(pilot, "tell me about [b]rivers[/b]")
        session = app.chat.session_id
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, AskDialog), "the rename dialog")
        answer = app.screen.query_one("#answer", Input)
        assert answer.value == "tell me about [b]rivers[/b]"
        answer.value = ""
        await pilot.press(*keys("Rivers [x]"), "enter")
        with open_store(db) as store:
            await wait_until(pilot, lambda: store.session(session).title == "Rivers [x]", "the new title saved")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog), "the export dialog")
        assert (app.screen.kind, app.screen.ident) == ("session", session)


async def test_find_highlights_every_match_steps_through_them_and_esc_closes(db):
    reply = "The [bold]river[/bold] meets the River delta."
    app = make_app(policy=EchoPolicy(reply), db_path=db, params=FAST.with_changes(threshold=-1.0, max_new_tokens=64))
    async with app.run_test(size=(100, 30)) as pilot:
        await chat(pilot, "where does a river go")
        screen = app.chat_screen
        bar = screen.query_one(FindBar)
        transcript = screen.query_one(Transcript)
        await pilot.press("ctrl+f")
        assert bar.has_class("open") and app.focused is bar.query_one("#find-text")
        await pilot.press(*keys("river"))
        count = bar.query_one("#find-count", Label)
        await wait_until(pilot, lambda: str(count.render()) == "1 of 3", "three matches counted")
        assert transcript.has_class("finding")
        found = screen.query(AssistantTurn).last().query_one(".found", Static)
        shown = found.render()
        assert shown.plain == reply  # literal: the markup-like text is shown as written
        assert marks(shown) == [("river", "match"), ("River", "match")]
        assert marks(screen.query(UserTurn).first().query_one(Static).render()) == [("river", "current")]
        await pilot.press("enter")
        await wait_until(pilot, lambda: str(count.render()) == "2 of 3", "the next match")
        shown = found.render()
        assert marks(shown) == [("river", "current"), ("River", "match")]
        await pilot.press("up", "up")
        await wait_until(pilot, lambda: str(count.render()) == "3 of 3", "back past the first, to the last")
        bar.query_one("#find-text", Input).value = "[bold]"
        await wait_until(pilot, lambda: str(count.render()) == "1 of 1", "brackets found as text")
        bar.query_one("#find-text", Input).value = "lake"
        await wait_until(pilot, lambda: str(count.render()) == "no match", "no match said")
        await pilot.press("escape")
        assert not bar.has_class("open") and not transcript.has_class("finding")
        assert not screen.query(UserTurn).first().query_one(Static).render().spans
        assert app.focused is screen.query_one("#prompt")
        assert not screen.running  # Esc closed the bar, it did not reach the screen's stop


async def three_turns(pilot) -> list[str]:
    for prompt in ("first about rivers", "second about lakes", "third about seas"):
        await chat(pilot, prompt)
    return [pilot.app.chat.last_run_id]


async def test_deleting_a_middle_turn_keeps_its_runs_marked_and_the_later_turns(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await three_turns(pilot)
        session = app.chat.session_id
        screen = app.chat_screen
        screen.query(UserTurn)[1].focus()
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("y")
        await wait_until(pilot, lambda: len(app.chat.numbers) == 2, "the turn gone from the chat")
        assert user_prompts(app) == ["first about rivers", "third about seas"]
        assert [t.content for t in screen.query(UserTurn)] == user_prompts(app)
        assert len(screen.query(AssistantTurn)) == 2
        with open_store(db) as store:
            runs = store.runs_of(session)
            assert len(runs) == 3  # nothing deleted from the database
            assert removed_runs(store, session) == {runs[1].id: "deleted"}
        await chat(pilot, "fourth about ponds")  # the history sent skips the deleted turn
        started = screen.state.started
        assert [m["content"] for m in started.messages if m["role"] == "user"] == [
            "first about rivers", "third about seas", "fourth about ponds"]
        with open_store(db) as store:
            assert store.get_run(app.chat.last_run_id).turn == 3  # a new number, never the deleted turn's
            saved = load_session(store, session)
        assert [t["content"] for t in saved.turns if t["role"] == "user"] == user_prompts(app)
        await pilot.press("ctrl+n")
        app.open_session(saved)
        await pilot.pause()
        assert app.chat.numbers == [0, 2, 3]
        assert [t.content for t in screen.query(UserTurn)] == user_prompts(app)


async def test_editing_a_turn_resends_it_as_that_turn_and_the_later_turns_go(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await three_turns(pilot)
        session = app.chat.session_id
        screen = app.chat_screen
        screen.query(AssistantTurn)[1].focus()  # the reply to turn 2: its prompt is edited
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EditTurnDialog), "the edit dialog")
        box = app.screen.query_one("#edited")
        assert box.text == "second about lakes"
        box.text = "second about ponds\nand [red]frogs[/red]"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: screen.running or screen.state.done, "the edited prompt sent")
        await finish(pilot)
        assert user_prompts(app) == ["first about rivers", "second about ponds\nand [red]frogs[/red]"]
        assert screen.query_one("#prompt").sent[-1] == user_prompts(app)[-1]  # recalled by Up, as typed ones are
        assert [t.content for t in screen.query(UserTurn)] == user_prompts(app)
        assert [m["content"] for m in screen.state.started.messages if m["role"] == "user"] == user_prompts(app)
        with open_store(db) as store:
            runs = store.runs_of(session)
            removed = removed_runs(store, session)
            new = store.get_run(app.chat.last_run_id)
            saved = load_session(store, session)
        assert new.turn == 1 and new.id not in removed
        assert sorted(removed.values()) == ["edited", "edited"] and len(runs) == 4
        assert [t["content"] for t in saved.turns if t["role"] == "user"] == user_prompts(app)


async def test_the_palette_commands_act_on_the_last_turn_and_wait_for_a_reply_to_end(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        titles = {command.title for command in app.get_system_commands(app.chat_screen)}
        assert {"Chats", "Find", "Rename session", "Export session", "Delete turn", "Edit turn"} <= titles
        await chat(pilot, "only turn")
        app.chat_screen.query_one("#prompt").focus()
        await app.chat_screen.run_action("delete_turn")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("n")
        assert user_prompts(app) == ["only turn"]
        app.chat_screen.running = True
        await app.chat_screen.run_action("edit_turn")
        await pilot.pause()
        assert not isinstance(app.screen, EditTurnDialog)  # refused while a reply is written
        app.chat_screen.running = False
        await app.chat_screen.run_action("delete_turn")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.chat.turns, "the last turn deleted")
        assert not app.chat_screen.query(UserTurn)


def test_a_search_snippet_is_literal_with_its_match_highlighted_and_cut_around_it():
    from stars_engine.store.store import MARK_END, MARK_START
    from stars_tui.screens.sessions import snippet_text

    snippet = f"…a [b]long[/b] \x1b text before the {MARK_START}otters{MARK_END} and more after it…"
    whole = snippet_text(snippet)
    assert whole.plain == "…a [b]long[/b] ␛ text before the otters and more after it…"
    assert marks(whole) == [("otters", "current")]  # bold: the match style
    cut = snippet_text(snippet, 24)
    assert len(cut.plain) <= 24 and "otters" in cut.plain and cut.plain.startswith("…")
    assert marks(cut) == [("otters", "current")]


async def test_f2_shows_the_snippet_the_system_prompt_and_turns_and_runs_apart(db):
    from textual.widgets import DataTable

    app = make_app(db_path=db)
    async with app.run_test(size=(80, 24)) as pilot:
        await chat(pilot, "tell me about [b]otters[/b]")
        await pilot.press("f5")
        await finish(pilot)
        await chat(pilot, "and beavers")
        with open_store(db) as store, store.db.conn:
            store.db.execute("UPDATE sessions SET system_prompt = 'Be [i]brief[/i].'")
        await pilot.press("f2")
        screen = app.screen
        table = screen.query_one("#sessions", DataTable)
        await wait_until(pilot, lambda: table.row_count == 1, "the session listed")
        await pilot.press("slash", *keys("otters"), "enter")
        detail = screen.query_one("#session-detail", Static)
        await wait_until(pilot, lambda: "match:" in detail.render().plain, "the hit's detail")
        shown = detail.render()
        assert "2 turn(s), 3 run(s) · system prompt: Be [i]brief[/i]." in shown.plain
        assert "match: tell me about [b]otters[/b]" in shown.plain
        assert ("otters", "current") in marks(shown)


@pytest.mark.real
async def test_deleting_a_turn_with_the_real_model_leaves_it_out_of_the_history(real_policy, real_reward, db):
    from stars_engine.params import Params
    from stars_tui.app import StarsApp

    params = Params(seed=3, segment_tokens=4, max_new_tokens=8, max_attempts=2, candidates_per_round=2)
    app = StarsApp(lambda: real_policy, lambda: real_reward, db_path=db, params=params)
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "Name a fruit.")
        await chat(pilot, "Name a colour.")
        screen = app.chat_screen
        screen.query(UserTurn)[0].focus()
        await pilot.press("delete")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("y")
        await wait_until(pilot, lambda: len(app.chat.numbers) == 1, "the first turn gone")
        await chat(pilot, "Name an animal.")
        assert screen.state.failed is None and screen.state.text.strip()
        sent = [m["content"] for m in screen.state.started.messages if m["role"] == "user"]
        assert sent == ["Name a colour.", "Name an animal."]
        with open_store(db) as store:
            saved = load_session(store, app.chat.session_id)
            removed = removed_runs(store, app.chat.session_id)
        assert [t["content"] for t in saved.turns if t["role"] == "user"] == sent
        assert list(removed.values()) == ["deleted"] and saved.numbers == [1, 2]
