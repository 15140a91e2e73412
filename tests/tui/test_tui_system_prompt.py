"""The session's system prompt in the workbench: set with Ctrl+T (or the palette), sent first in every run,
kept in a real SQLite file, back when the session is reopened; the rubric editor's measured note."""

from __future__ import annotations

import pytest
from fakes import ScriptedPolicy, ScriptedReward

from stars_engine.events import RunStarted, rubric_label
from stars_engine.store import open_store
from stars_tui.app import StarsApp
from stars_tui.saved_session import load_session
from stars_tui.screens.rubric import SAMPLE_PROMPT, SAMPLE_REPLY, apply_measured
from stars_tui.screens.system_prompt import SystemPromptDialog

from .helpers import FAST, SIZE, chat, keys, make_app, wait_until

pytestmark = pytest.mark.anyio


async def set_system(pilot, text: str | None) -> None:
    """Ctrl+T, type ``text`` over what is there and Save (None: press Clear)."""
    await pilot.press("ctrl+t")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, SystemPromptDialog), "the system prompt dialog")
    if text is None:
        await pilot.click("#clear")
    else:
        pilot.app.screen.query_one("#system-text").text = ""
        await pilot.press(*keys(text))
        await pilot.click("#save")
    await wait_until(pilot, lambda: not isinstance(pilot.app.screen, SystemPromptDialog), "the dialog to close")


def sent_first(db, run_id: str) -> dict[str, str]:
    with open_store(db) as store:
        started = store.run_events(run_id)[0]
    assert isinstance(started, RunStarted)
    return started.messages[0]


async def test_the_system_prompt_is_sent_kept_and_back_when_reopened(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        assert "System prompt" in [c.title for c in app.get_system_commands(app.screen)]  # in the palette too
        await set_system(pilot, "answer briefly")
        assert app.chat.system_prompt == "answer briefly"
        await chat(pilot, "hello")
        session = app.chat.session_id
        assert sent_first(db, app.chat.last_run_id) == {"role": "system", "content": "answer briefly"}
        assert app.chat.turns[0] == {"role": "user", "content": "hello"}  # not a turn of the conversation

        await set_system(pilot, "answer in french")  # a recorded session keeps the change in the store

        def stored() -> str:
            with open_store(db) as store:
                return store.session_system_prompt(session)

        await wait_until(pilot, lambda: stored() == "answer in french", "the new prompt in the store")
        await chat(pilot, "again")
        assert sent_first(db, app.chat.last_run_id)["content"] == "answer in french"

        await pilot.press("ctrl+n")
        assert app.chat.system_prompt == ""  # a new chat starts without one (no --system)
        with open_store(db) as store:
            saved = load_session(store, session)
        assert app.open_session(saved)
        await pilot.pause()
        assert app.chat.system_prompt == "answer in french"
        await chat(pilot, "once more")
        assert sent_first(db, app.chat.last_run_id)["content"] == "answer in french"
        assert app.chat.session_id == session

        await set_system(pilot, None)  # Clear
        await wait_until(pilot, lambda: stored() == "", "the cleared prompt in the store")
        await chat(pilot, "and now")
        assert sent_first(db, app.chat.last_run_id)["role"] == "user"


async def test_escape_leaves_the_system_prompt_as_it_was(db):
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await set_system(pilot, "be terse")
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: isinstance(app.screen, SystemPromptDialog), "the dialog")
        await pilot.press(*keys(" and rude"), "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, SystemPromptDialog), "the dialog to close")
        assert app.chat.system_prompt == "be terse"


async def test_the_system_option_starts_every_new_chat(db):
    app = StarsApp(lambda: ScriptedPolicy(), lambda: ScriptedReward(), db_path=db, params=FAST,
                   system_prompt="you are a lighthouse keeper")
    async with app.run_test(size=SIZE) as pilot:
        await chat(pilot, "hello")
        assert sent_first(db, app.chat.last_run_id)["content"] == "you are a lighthouse keeper"
        first = app.chat.session_id
        await pilot.press("ctrl+n")
        assert app.chat.system_prompt == "you are a lighthouse keeper"
        await chat(pilot, "who are you")
        assert app.chat.session_id not in (None, first)
        with open_store(db) as store:
            assert store.session_system_prompt(app.chat.session_id) == "you are a lighthouse keeper"


class WeightedReward(ScriptedReward):
    """Scores ``relevance_weight`` × the scripted score + 0.1: a weight change moves the whole scale."""

    def __init__(self) -> None:
        super().__init__()
        from stars_engine.reward.rubric import Rubric

        self.rubric = Rubric(prefer=["kind"], avoid=["rude"], relevance_weight=0.5)

    def score(self, prompt, replies):
        assert prompt == SAMPLE_PROMPT
        return [0.1 + self.rubric.relevance_weight * len(r) / 400 for r in replies]


def test_the_rubric_note_says_what_the_change_did_to_a_sample_reply():
    from stars_engine.reward.rubric import Rubric

    reward = WeightedReward()
    new = Rubric(prefer=["kind"], avoid=["rude"], relevance_weight=2.0)
    note = apply_measured(reward, new, 0.45)
    before, after = 0.1 + 0.5 * len(SAMPLE_REPLY) / 400, 0.1 + 2.0 * len(SAMPLE_REPLY) / 400
    assert reward.rubric == new
    assert f"a sample reply scores {before:.3f} → {after:.3f} against threshold 0.45 (it now passes)" in note


@pytest.mark.real
def test_real_rubric_weight_change_is_measured_on_the_sample(real_reward):
    """The issue's case: a relevance weight of 2.0 moves the real rubric's rewards, threshold left at 0.45."""
    from stars_engine.reward.rubric import Rubric

    old = real_reward.rubric
    heavier = Rubric(prefer=old.prefer, avoid=old.avoid, relevance_weight=2.0)
    try:
        [expected_before] = real_reward.score(SAMPLE_PROMPT, [SAMPLE_REPLY])
        note = apply_measured(real_reward, heavier, 0.45)
        [expected_after] = real_reward.score(SAMPLE_PROMPT, [SAMPLE_REPLY])
    finally:
        real_reward.rubric = old
    assert expected_after > expected_before  # the sample is relevant: more weight, a higher reward
    assert f"scores {expected_before:.3f} → {expected_after:.3f} against threshold 0.45" in note


async def test_replay_shows_the_system_prompt_and_what_scored_the_run(db):
    from stars_engine import engine
    from stars_engine.reward.rubric import Rubric
    from stars_tui.screens.replay import ReplayScreen

    from .helpers import screen_text

    reward = ScriptedReward()
    reward.rubric = Rubric(prefer=["kind"], avoid=["rude"], relevance_weight=1.5)  # scored as scripted, recorded
    events = list(engine.run(ScriptedPolicy(), reward, [{"role": "system", "content": "speak like a pirate"},
                                                        {"role": "user", "content": "hello"}], FAST))
    app = make_app(db_path=db)
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(ReplayScreen(events, title="run x"))
        await wait_until(pilot, lambda: isinstance(app.screen, ReplayScreen), "the replay screen")
        screen = app.screen
        assert [t.border_title for t in screen.query("Turn")][:1] == ["system prompt"]
        assert "speak like a pirate" in screen_text(app)
        assert screen.scored_by.endswith(rubric_label(reward.rubric.to_dict()))
