"""The settings file and the rubric variables: typed, bounded, and refused in one line naming what is wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from stars_engine.errors import StarsError
from stars_engine.reward.rubric import Rubric
from stars_tui.commands.tui import _with_settings_rubric
from stars_tui.config import resolve

RUBRIC = {"prefer": ["be kind"], "avoid": ["be rude"], "relevance_weight": 0.25}


def config_with(tmp_path, text: str):
    path = tmp_path / "config.json"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("keys", "message"), [
    ({"theme": 5}, r"Expected `str \| null`, got `int` - at `\$.theme`"),
    ({"theme": ["nord"]}, r"Expected `str \| null`, got `array` - at `\$.theme`"),
    ({"rubric": 5}, r"got `int` - at `\$.rubric`"),
    ({"last_session": {}}, r"got `object` - at `\$.last_session`"),
    ({"rubric": {"prefer": "be kind", "avoid": ["x"]}}, r"rubric in config file .*'prefer' must be a non-empty list"),
])
def test_a_key_of_the_wrong_type_or_shape_is_one_line_naming_the_file(tmp_path, keys, message):
    path = config_with(tmp_path, json.dumps(keys))
    with pytest.raises(StarsError, match=message) as err:
        resolve(path, env={})
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_unknown_keys_are_kept_and_left_alone(tmp_path):
    path = config_with(tmp_path, json.dumps({"theme": "nord", "future_knob": [1, 2]}))
    settings = resolve(path, env={})
    assert settings.theme == "nord" and settings.saved["future_knob"] == [1, 2]


@pytest.mark.parametrize("text", ["[" * 50_000 + "]" * 50_000, '{"theme": ' * 50_000])
def test_deep_or_broken_json_is_one_line(tmp_path, text):
    with pytest.raises(StarsError, match="config file .*: (JSON nested too deeply|not JSON)"):
        resolve(config_with(tmp_path, text), env={})


def test_a_settings_file_that_is_not_a_regular_file_or_too_big_is_refused(tmp_path):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # nobody writes: a blocking read would wait forever
    with pytest.raises(StarsError, match="is a FIFO, not a regular file"):
        resolve(fifo, env={})
    with pytest.raises(StarsError, match="config file /dev/zero is a device"):
        resolve(env={"STARS_CONFIG": "/dev/zero"})
    with pytest.raises(StarsError, match="is larger than 1 MiB"):
        resolve(config_with(tmp_path, " " * (1024 * 1024 + 1)), env={})
    with pytest.raises(StarsError, match="rubric file .* is a FIFO"):
        resolve(tmp_path / "none.json", rubric=fifo, env={})


def test_stars_rubric_may_hold_the_rubric_object_itself(tmp_path):
    settings = resolve(tmp_path / "none.json", env={"STARS_RUBRIC": " " + json.dumps(RUBRIC)})
    assert settings.rubric == RUBRIC and settings.rubric_file is None
    reward = SimpleNamespace(rubric=Rubric.load())  # the default reward, whose rubric the object replaces
    assert _with_settings_rubric(reward, settings).rubric == Rubric(**RUBRIC)


@pytest.mark.parametrize(("value", "message"), [
    ('{"prefer": [], "avoid": ["x"]}', "STARS_RUBRIC: 'prefer' must be a non-empty list"),
    ('{"prefer": ["x"], "avoid": ["y"], "relevance_weight": "high"}', "STARS_RUBRIC: 'relevance_weight' must be"),
    ('{"prefer": ', "STARS_RUBRIC: not JSON"),
    ("{" + '"a":[' * 50_000, "STARS_RUBRIC: (not JSON|JSON nested too deeply)"),
])
def test_a_stars_rubric_object_of_the_wrong_shape_is_one_line(tmp_path, value, message):
    with pytest.raises(StarsError, match=message):
        resolve(tmp_path / "none.json", env={"STARS_RUBRIC": value})


def test_a_flag_still_beats_a_rubric_object_in_the_variable(tmp_path):
    rubric_file = tmp_path / "r.json"
    rubric_file.write_text(json.dumps(RUBRIC), encoding="utf-8")
    settings = resolve(tmp_path / "none.json", rubric=rubric_file, env={"STARS_RUBRIC": json.dumps(RUBRIC)})
    assert settings.rubric_file == rubric_file and settings.rubric is None


def test_the_workbench_refuses_a_theme_of_the_wrong_type_in_one_line(tmp_path):
    path = config_with(tmp_path, '{"theme": 5}')
    done = subprocess.run([sys.executable, "-m", "stars_tui", "chat", "--config", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: config file {path}: Expected `str | null`, got `int` - at `$.theme`")
    assert done.stderr.count("\n") == 1


@pytest.mark.parametrize("rubric", ["/dev/zero", "{fifo}"])
def test_stars_run_refuses_a_rubric_that_is_not_a_file_in_one_line(tmp_path, rubric):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    done = subprocess.run([sys.executable, "-m", "stars_tui", "run", "hi", "--no-save",
                           "--rubric", rubric.format(fifo=fifo)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "not a regular file" in done.stderr and done.stderr.count("\n") == 1
