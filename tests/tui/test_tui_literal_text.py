"""Property: whatever text comes in (markup-like, escapes, emoji, right-to-left, 10,000 characters),
every screen shows it as typed and nothing crashes.

One example drives the whole workbench: the text is the prompt, the model's
reply and the session's title; it then goes through the sessions screen (table,
search), the replay screen, the export and rename dialogs, the parameter bar's
refusal, a notification and the rubric dialog. Textual re-raises any error
from rendering when ``run_test`` ends, so a markup crash fails the example.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from fakes import ScriptedReward
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from textual.widgets import DataTable, Input, Markdown, TextArea

from stars_engine.display.format import shorten
from stars_engine.reward.rubric import Rubric
from stars_tui.literal import printable
from stars_tui.screens.replay import ReplayScreen
from stars_tui.screens.sessions import SessionsScreen
from stars_tui.widgets.inspector import ATTEMPT_TEXT
from stars_tui.widgets.transcript import BOUNDARY, AssistantTurn, UserTurn

from .helpers import FAST, EchoPolicy, finish, make_app, wait_until

NASTY = (
    "[/INST]", "[/x]", "[bold]", "[/b]", "[/]", "[link=https://x.org]x", "\\[", "[@click=app.quit]q[/]",
    "\x1b[31mred\x1b[0m", "\x1b]52;c;aGk=\x07", "\x9b2J", "🙂👍🏽🇫🇷", "مرحبا بالعالم", "שלום עולם",
    "x" * 10_000, "**bold** `code` # h", "tab\there", "two\nlines",
)
texts = (
    st.lists(st.one_of(st.sampled_from(NASTY), st.text(min_size=1, max_size=20)), min_size=1, max_size=4)
    .map(" ".join)
    .filter(lambda s: s.strip())
)


class RubricReward(ScriptedReward):
    """The scripted reward with an editable rubric, so the rubric dialog opens."""

    def __init__(self, exemplar: str) -> None:
        super().__init__()
        self.rubric = Rubric(prefer=[exemplar], avoid=["rude"])


def shown(widget) -> str:
    return str(widget.render())


def check(ok: bool, what: str, got: str) -> None:
    """An assertion whose report stays short when the text is 10,000 characters long."""
    if not ok:
        raise AssertionError(f"{what}; got {got[:200]!r}…")


def cell(table: DataTable, row: int, column: int) -> str:
    return str(table.get_row_at(row)[column])


async def drive(text: str, db: Path, size: tuple[int, int]) -> None:
    params = FAST.with_changes(max_new_tokens=4096, threshold=-1.0)
    app = make_app(policy=EchoPolicy(text), reward=RubricReward(text), db_path=db, params=params)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: app.policy is not None, "models loaded")
        chat = app.chat_screen
        chat.query_one("#prompt", TextArea).text = text
        await pilot.press("enter")
        await finish(pilot)
        typed = app.chat.turns[0]["content"]  # trimmed, line breaks as the prompt box keeps them
        assert typed.split() == text.split()
        user = shown(chat.query(UserTurn).last().query_one(".raw"))
        check(printable(typed) in user, "the prompt as typed", user)
        check(chat.state.text == text, "the reply is the model's text", chat.state.text)
        reply = chat.query(AssistantTurn).last().raw_text.replace(BOUNDARY, "")  # the marks between segments
        check(printable(text).replace(BOUNDARY, "") in reply, "the reply as written", reply)
        markdown = chat.query(AssistantTurn).last().query_one(Markdown).source
        check(markdown == printable(text), "the Markdown view's source", markdown)
        last = chat.state.segments[-1].attempts[-1]
        attempts = chat.query_one("#attempts", DataTable)
        assert cell(attempts, attempts.row_count - 1, 4).startswith(printable(shorten(last.text, ATTEMPT_TEXT)))

        # the title, through the rename dialog
        await pilot.press("f2")
        sessions = app.screen
        assert isinstance(sessions, SessionsScreen)
        await wait_until(pilot, lambda: sessions.query_one("#sessions", DataTable).row_count == 1, "sessions")
        await pilot.press("r")
        await wait_until(pilot, lambda: app.screen.query("#answer"), "the rename dialog")
        app.screen.query_one("#answer", Input).value = text
        await pilot.press("enter")
        title = printable(shorten(" ".join(text.split()), 40))
        table = sessions.query_one("#sessions", DataTable)
        await wait_until(pilot, lambda: cell(table, 0, 1) == title, "the new title in the table")
        runs = sessions.query_one("#runs", DataTable)
        await wait_until(pilot, lambda: runs.row_count == 1, "the session's run")
        assert cell(runs, 0, 5) == printable(shorten(typed, 40))

        # search for it (hits or a refusal, never a crash)
        sessions.query_one("#search", Input).value = text
        sessions.query_one("#search", Input).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: not sessions.loading_rows, "the search")
        sessions.query_one("#search", Input).value = ""
        sessions.query_one("#search", Input).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: table.row_count == 1, "every session again")

        # the export dialog's refusal quotes the path
        sessions.query_one("#sessions", DataTable).focus()
        await pilot.press("x")
        await wait_until(pilot, lambda: app.screen.query("#path"), "the export dialog")
        path = app.screen.query_one("#path", Input)
        path.value = f"/no-such-folder/{text[:40]}.md"
        path.focus()
        await pilot.press("enter")
        error = app.screen.query_one("#export-error")
        await wait_until(pilot, lambda: "/no-such-folder/" in shown(error), "the refusal naming the path")
        await pilot.press("escape")

        # the replay screen, stepped to the end
        runs.focus()
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, ReplayScreen), "the replay screen")
        replay = app.screen
        while not replay.finished:
            replay.step()
        await pilot.pause()
        replayed = replay.query(AssistantTurn).last().raw_text.replace(BOUNDARY, "")
        check(printable(text).replace(BOUNDARY, "") in replayed, "the replayed reply", replayed)
        await pilot.press("escape", "escape")
        assert app.screen is chat

        # a refused parameter quotes what was typed
        field = chat.query_one("#param-threshold", Input)
        field.focus()
        field.value = text[:60]
        await pilot.press("enter")
        assert "refused" in shown(chat.query_one("#param-message"))

        # a notification and the rubric dialog
        app.notify(text, title=text)
        await pilot.press("f8")
        await wait_until(pilot, lambda: app.screen.query("#prefer"), "the rubric dialog")
        prefer = app.screen.query_one("#prefer", TextArea).text
        check(prefer == printable(text), "the exemplar as typed", prefer)
        await pilot.press("escape")
        await pilot.pause()


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=texts, size=st.sampled_from([(80, 24), (140, 40)]))
@example(text="What does [/INST] mean in Llama prompts?", size=(80, 24))
@example(text="oops [/bold] x [bold] \x1b[2J 🙂 مرحبا " + "y" * 10_000, size=(140, 40))
def test_any_text_shows_as_typed_on_every_screen(tmp_path_factory, text: str, size: tuple[int, int]) -> None:
    db = tmp_path_factory.mktemp("literal") / "stars.db"
    asyncio.run(drive(text, db, size))
