"""One visible-controls path: every unsafe character, every front end, every exception message."""

from __future__ import annotations

import json
import re

import pytest
from fakes import ScriptedPolicy, ScriptedReward

from stars_engine.display.controls import UNSAFE, error_line, json_text, one_line, visible_controls
from stars_engine.engine import run
from stars_engine.errors import StarsError
from stars_engine.events import RunFailed
from stars_engine.params import Params
from stars_engine.policy.text import chat_ids
from stars_tui.literal import printable

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
SEPARATORS = "\u2028\u2029\x85"
HOSTILE = "a\x1b]52;c;aGk=\x07b\x9b31mc" + BIDI + SEPARATORS + "d"
RAW = re.compile(f"[{UNSAFE}]")


@pytest.mark.parametrize("char", list(BIDI + SEPARATORS + "\x1b\x07\x7f\x9b\x00\r"))
def test_every_unsafe_character_is_shown_as_its_escape(char):
    shown = visible_controls(f"x{char}y")
    code = ord(char)
    assert shown == (f"x\\x{code:02x}y" if code < 0x100 else f"x\\u{code:04x}y")
    assert not RAW.search(shown)


def test_newline_tab_and_ordinary_text_pass_unchanged():
    text = "line one\n\tindented — déjà vu ‘quoted’ 漢字 🙂 [bold]"
    assert visible_controls(text) == text


def test_the_app_draws_the_same_characters_with_its_own_symbols():
    shown = printable(HOSTILE)
    assert not RAW.search(shown)
    assert "␛" in shown and "\\u202e" in shown and "\\u2028" in shown and "\\x85" in shown


def test_one_line_has_no_line_break_of_any_kind():
    line = one_line("first\nsecond\u2028third\u2029fourth\x85fifth\r\nsixth \u202eevil")
    assert "\n" not in line and not RAW.search(line)
    assert line.startswith("first second third fourth fifth sixth")
    assert line.endswith("\\u202eevil")


def test_an_exception_is_one_visible_line():
    assert error_line(StarsError("bad\nthing \x1b[2J")) == "bad thing \\x1b[2J"
    assert error_line(KeyError("k")) == "KeyError: 'k'"
    assert error_line(OSError()) == "OSError: OSError"
    assert error_line(ValueError("first\nsecond"), first_line=True) == "first"
    assert len(error_line(ValueError("x" * 100_000))) <= 2000


def test_json_text_reads_back_as_the_same_data_with_nothing_raw():
    data = {"title": HOSTILE, "n": [1, 2.5, None]}
    text = json_text(data, indent=2)
    assert not RAW.search(text)
    assert json.loads(text) == data


class FailingReward(ScriptedReward):
    def score(self, prompt, replies):
        raise RuntimeError("server said \x1b]52;c;aGk=\x07 \u202eevil\n<html>")


def test_a_failed_run_carries_a_visible_one_line_message():
    events = list(run(ScriptedPolicy(), FailingReward(), [{"role": "user", "content": "hi"}],
                      Params(seed=1, max_new_tokens=8, segment_tokens=4)))
    failed = events[-1]
    assert isinstance(failed, RunFailed)
    assert failed.message == "server said \\x1b]52;c;aGk=\\x07 \\u202eevil <html>"


class RaisingTemplate:
    chat_template = "{{ raise_exception('...') }}"

    def apply_chat_template(self, *args, **kwargs):
        from jinja2 import TemplateError

        raise TemplateError("\x1b]8;;http://evil\x07click\x1b]8;;\x07 \u202eno")


def test_a_chat_template_error_is_one_visible_line():
    with pytest.raises(StarsError) as err:
        chat_ids(RaisingTemplate(), [{"role": "user", "content": "hi"}])
    assert str(err.value) == ("the chat model's chat template failed: "
                              "\\x1b]8;;http://evil\\x07click\\x1b]8;;\\x07 \\u202eno")
