"""Pictures of the three main screens (pytest-textual-snapshot), made deterministic.

A frozen clock fixes the status line; a gated scripted policy freezes the run
mid-way; recorded timings, ids and dates are replaced by fixed ones.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from stars_tui.screens.replay import ReplayScreen

from .helpers import FAST, SIZE, EchoPolicy, FrozenClock, GatedPolicy, finish, fixed_events, make_app, send, wait_until


def test_main_screen_mid_run(snap_compare):
    clock = FrozenClock()
    # With seed 14, segment 2's first round is two rejections: stop in its second round.
    policy = GatedPolicy(pause_on_call=4)
    app = make_app(policy=policy, clock=clock, params=FAST.with_changes(seed=14))

    async def mid_run(pilot) -> None:
        await send(pilot, "Say something kind about rivers")
        await wait_until(pilot, policy.reached.is_set, "the run to reach segment 2's second round")
        state = app.chat_screen.state
        await wait_until(pilot, lambda: state.attempts == 6, "segment 2's first round shown")
        clock.now = 102.5
        app.chat_screen.refresh_status()
        await steady(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=mid_run)


def test_main_screen_at_80x24_after_a_markdown_reply(snap_compare):
    """The smallest terminal the workbench supports: the parameter bar wraps, nothing is cut off."""
    reply = "# Rivers\n\n- run downhill\n- reach the sea\n\n```\nflow()\n```\n"
    app = make_app(policy=EchoPolicy(reply, chunk=16), clock=FrozenClock(),
                   params=FAST.with_changes(max_new_tokens=64, threshold=-1.0))

    async def replied(pilot) -> None:
        await send(pilot, "Rivers, briefly")
        await finish(pilot)
        state = app.chat_screen.state  # the run's measured wall time would change the status line
        state.finished = dataclasses.replace(
            state.finished, stats=dataclasses.replace(state.finished.stats, wall_seconds=1.5)
        )
        app.chat_screen.refresh_status()
        await steady(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=replied)


def test_replay_screen_part_way(snap_compare):
    app = make_app(clock=FrozenClock())

    async def replay(pilot) -> None:
        app.push_screen(ReplayScreen(fixed_events("Describe a mountain"), title="run 0000beef"))
        await pilot.pause()
        await pilot.press(*["n"] * 9)
        await steady(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=replay)


def record_fixed(db, tmp_path, prompts: list[str]) -> None:
    """Sessions of one run each, with fixed ids and times: written as an export and imported, which keeps both."""
    from stars_engine.store import import_jsonl, open_store

    at = "2026-01-02T03:04:05+00:00"
    lines = []
    for n, prompt in enumerate(prompts):
        session, run = f"{0xA0 + 2 * n:08x}", f"{0xA1 + 2 * n:08x}"
        lines.append({"type": "session", "format": "stars-session", "version": 1, "id": session, "title": prompt,
                      "created_at": at, "updated_at": at})
        lines.append({"type": "run", "id": run, "status": "finished", "finished_at": at})
        lines.extend(event.to_dict() for event in fixed_events(prompt))
    export = tmp_path / "fixed.jsonl"
    export.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with open_store(db) as store:
        import_jsonl(store, export)


def test_sessions_screen(snap_compare, db, tmp_path):
    record_fixed(db, tmp_path, ["Tell me about rivers", "Explain mountains", "A poem about the sea"])
    app = make_app(db_path=db, clock=FrozenClock())

    async def open_sessions(pilot) -> None:
        await wait_until(pilot, lambda: app.policy is not None, "models loaded")
        await pilot.press("f2")
        await steady(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=open_sessions)


async def steady(pilot) -> None:
    """Cursors shown and still: a blinking one would make two pictures of one screen differ."""
    from textual.widgets import DataTable, Input, TextArea

    for widget in pilot.app.screen.query("Input, TextArea"):
        if isinstance(widget, Input | TextArea):
            widget.cursor_blink = False
    await pilot.wait_for_scheduled_animations()
    for table in pilot.app.screen.query(DataTable):  # a table follows its cursor after a refresh: wait for it
        if table.row_count and table.cursor_row == table.row_count - 1:
            await wait_until(pilot, lambda t=table: t.scroll_y == t.max_scroll_y, "a table scrolled to its cursor")
    await pilot.pause()


def chat_screen_with_a_session(db, tmp_path, size: tuple[int, int], chat_list: bool, snap_compare) -> bool:
    """The chat screen with a saved session open, the chat list shown or hidden."""
    from stars_engine.store import open_store
    from stars_tui.saved_session import load_session
    from stars_tui.widgets.chat_list import ChatList

    record_fixed(db, tmp_path, ["Tell me about rivers", "Explain mountains", "A poem about the sea"])
    app = make_app(db_path=db, clock=FrozenClock())

    async def opened(pilot) -> None:
        await wait_until(pilot, lambda: app.policy is not None, "models loaded")
        with open_store(db) as store:
            app.open_session(load_session(store, f"{0xA2:08x}"))
        if chat_list:
            await pilot.press("ctrl+b")
            chats = app.chat_screen.query_one(ChatList)
            await wait_until(pilot, lambda: chats.loaded and len(chats.sessions) == 3, "the chat list filled")
        app.chat_screen.query_one("#prompt").focus()
        await steady(pilot)

    return snap_compare(app, terminal_size=size, run_before=opened)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("chat_list", [True, False], ids=["list-shown", "list-hidden"])
def test_chat_screen_with_the_chat_list(snap_compare, db, tmp_path, size, chat_list):
    assert chat_screen_with_a_session(db, tmp_path, size, chat_list, snap_compare)
