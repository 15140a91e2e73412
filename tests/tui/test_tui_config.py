"""The settings file: flag beats variable beats file; the app keeps its theme, rubric and last session there."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fakes import ScriptedReward

from stars_engine.errors import StarsError
from stars_engine.reward.rubric import Rubric
from stars_tui.config import resolve
from stars_tui.screens.dialogs import ConfirmDialog
from stars_tui.widgets.transcript import UserTurn

from .helpers import SIZE, chat, make_app, wait_until


def write(path, **keys) -> None:
    path.write_text(json.dumps(keys), encoding="utf-8")


def test_a_flag_beats_the_variable_which_beats_the_file(tmp_path):
    config = tmp_path / "config.json"
    write(config, theme="nord")
    env = {"STARS_THEME": "gruvbox"}
    assert resolve(config, theme="dracula", env=env).theme == "dracula"
    assert resolve(config, env=env).theme == "gruvbox"
    assert resolve(config, env={}).theme == "nord"
    assert resolve(env={"STARS_CONFIG": str(config)}).path == config


def test_the_rubric_comes_from_the_flag_the_variable_or_the_file(tmp_path):
    config = tmp_path / "config.json"
    inline = {"prefer": ["kind"], "avoid": ["rude"], "relevance_weight": 0.2}
    write(config, rubric=inline)
    assert resolve(config, env={}).rubric == inline
    rubric_file = tmp_path / "mine.json"
    write(rubric_file, **inline)
    from_env = resolve(config, env={"STARS_RUBRIC": str(rubric_file)})
    assert from_env.rubric_file == rubric_file and from_env.rubric is None
    with pytest.raises(StarsError, match="rubric file does not exist"):
        resolve(config, rubric=tmp_path / "missing.json", env={})


def test_a_broken_file_or_an_unknown_theme_is_refused_by_name(tmp_path):
    config = tmp_path / "config.json"
    config.write_text("{not json", encoding="utf-8")
    with pytest.raises(StarsError, match=r"config file .*config.json: not JSON"):
        resolve(config, env={})
    with pytest.raises(StarsError, match="unknown theme 'glitter'"):
        resolve(tmp_path / "none.json", theme="glitter", env={})


def test_an_unknown_theme_on_the_command_line_is_one_error_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "stars_tui", "chat", "--theme", "glitter", "--config", str(tmp_path / "c.json")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: unknown theme 'glitter'") and "Traceback" not in done.stderr


@pytest.mark.anyio
async def test_the_app_saves_theme_rubric_and_session_then_offers_to_reopen_it(db, tmp_path):
    config = tmp_path / "config.json"
    write(config, keep="me")

    class EditableReward(ScriptedReward):
        rubric = Rubric(prefer=["kind"], avoid=["rude"])

    app = make_app(db_path=db, reward=EditableReward())
    app.settings = resolve(config, env={})
    async with app.run_test(size=SIZE) as pilot:
        app.theme = "nord"
        await chat(pilot, "remember me")
        app._set_rubric(Rubric(prefer=["gentle"], avoid=["harsh"], relevance_weight=0.1))
        await wait_until(pilot, lambda: app.reward is not None, "the rubric applied")
        session = app.chat.session_id
    saved = json.loads(config.read_text())
    assert saved["theme"] == "nord" and saved["last_session"] == session and saved["keep"] == "me"
    assert saved["rubric"] == {"prefer": ["gentle"], "avoid": ["harsh"], "relevance_weight": 0.1}

    again = make_app(db_path=db)
    again.settings = resolve(config, env={})
    async with again.run_test(size=SIZE) as pilot:
        assert again.theme == "nord"
        await wait_until(pilot, lambda: isinstance(again.screen, ConfirmDialog), "the offer to reopen")
        await pilot.press("y")
        await wait_until(pilot, lambda: again.chat.session_id == session, "the last session reopened")
        assert [t.content for t in again.chat_screen.query(UserTurn)] == ["remember me"]
