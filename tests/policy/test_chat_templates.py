"""A model's chat template is a stranger's program: bounded in time and size, and one visible line when it fails.

Every place stars renders a template (the chat prompt, a reward model's pairs,
the judge) is tried with hostile templates on a real tokenizer (the bundled
MiniLM's, given each template), so the real transformers rendering path runs.
"""

from __future__ import annotations

import pytest

from stars_engine.bench.judge import ChatJudge
from stars_engine.errors import StarsError
from stars_engine.policy import chat_template
from stars_engine.policy.text import chat_ids
from stars_engine.reward.pairs import pair_ids
from stars_engine.weights.safe_load import pretrained
from stars_engine.weights.sources import bundled_minilm

ESCAPES = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J"

FAILING = {
    "raise_exception": ("{{ raise_exception('no system role\\n" + ESCAPES + "') }}", "no system role"),
    "sandbox": ("{{ ''.__class__.__mro__ }}", "unsafe"),
    "namespace": ("{% set ns = namespace(_x=1) %}", "underscore"),
    "syntax": ("{% for %}", "Expected an expression"),
    "undefined": ("{{ nothing.at.all }}", "undefined"),
    "recursion": ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "recursion"),
    "type": ("{{ messages + 1 }}", "can only concatenate|unsupported"),
}

BOUNDED = {
    "nested loops": "{% for i in range(99999) %}{% for j in range(99999) %}{% for k in range(99999) %}"
                    "{% endfor %}{% endfor %}{% endfor %}",
    "endless output": "{% for i in range(99999) %}{% for j in range(99999) %}xxxxxxxx{% endfor %}{% endfor %}",
    "repeat": "{{ 'x' * 10**10 }}",
    "repeat a list": "{{ (messages * 10**9) | length }}",
    "power": "{{ 7 ** 10000000000 }}",
    "doubling": "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "filter width": "{{ 'x' | center(10**10) }}",
    "format width": "{{ '{:>1000000000}'.format(1) }}",
    "percent width": "{{ '%1000000000d' % 1 }}",
    "joined": "{% set ns = namespace(s=['x']) %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
}


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return pretrained(AutoTokenizer, str(bundled_minilm()), "the bundled reward model")


@pytest.fixture
def hostile(tokenizer):
    """The tokenizer with a template set by the test, put back afterwards."""
    saved = tokenizer.chat_template
    yield tokenizer
    tokenizer.chat_template = saved


def render_everywhere(tokenizer):
    """Each place stars renders a template, in turn; each must refuse in one line."""
    yield lambda: chat_ids(tokenizer, [{"role": "user", "content": "hi"}])
    yield lambda: pair_ids(tokenizer, "hi", "hello", 512)
    yield lambda: ChatJudge(None, tokenizer).prefer("hi", "a", "b")  # the template fails before the model runs


@pytest.mark.parametrize("name", sorted(FAILING))
def test_every_template_error_is_one_visible_line(hostile, name):
    template, reason = FAILING[name]
    hostile.chat_template = template
    for render in render_everywhere(hostile):
        with pytest.raises(StarsError, match=f"chat template failed: .*({reason})") as info:
            render()
        message = str(info.value)
        assert "\n" not in message and "\x1b" not in message and "\x07" not in message
    if name == "raise_exception":
        assert "no system role \\x1b]52;c;" in message


@pytest.mark.parametrize("name", sorted(BOUNDED))
def test_a_template_that_loops_or_grows_is_stopped_in_one_line(hostile, monkeypatch, name):
    monkeypatch.setattr(chat_template, "TEMPLATE_SECONDS", 0.5)
    hostile.chat_template = BOUNDED[name]
    for render in render_everywhere(hostile):
        with pytest.raises(StarsError, match="chat template was stopped: ") as info:
            render()
        assert "\n" not in str(info.value)


def test_the_bound_grows_with_the_prompt_so_a_long_prompt_still_renders(hostile):
    hostile.chat_template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    long = "word " * 400_000  # 2,000,000 characters, past the base bound on its own
    assert len(chat_ids(hostile, [{"role": "user", "content": long}])) > 400_000


def test_a_plain_template_renders_as_transformers_renders_it(hostile):
    hostile.chat_template = ("{% for m in messages %}[{{ m['role'] | upper }}] {{ m['content'] }} {% endfor %}"
                             "{% if add_generation_prompt %}[ASSISTANT]{% endif %}")
    messages = [{"role": "user", "content": "hello there"}]
    direct = hostile.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    direct = direct["input_ids"] if hasattr(direct, "keys") else direct
    assert chat_ids(hostile, messages) == list(direct)
