"""A model folder's chat template, rendered with a bound on time and size, and one line when it fails.

A chat template is a stranger's program. transformers renders it in Jinja's
sandbox, which stops it reaching Python's internals but not from looping for
hours or building a string of gigabytes, and its errors (a sandbox refusal, a
syntax error, the template's own ``raise_exception()`` text) surface as raw
exceptions. Every template stars renders goes through ``apply``:

- the sandbox transformers builds is ``BoundedSandbox``, a subclass with the
  hooks Jinja offers for this (intercepted operators, ``call``, ``getattr``,
  ``getitem``, the output's ``concat``, each filter): while ``apply`` runs they
  check a deadline and refuse any text or list past the size bound, before it
  is built where that can be known (``"x" * n``, a huge width), else as soon as
  it is read or output;
- any failure becomes one ``StarsError`` line with its control characters
  made visible.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..display.controls import one_line
from ..errors import StarsError

TEMPLATE_SECONDS = 5.0  # a real template renders in milliseconds, even for a long prompt
BASE_CHARS = 1_000_000  # the bound is this plus a few times the messages' own length
INPUT_FACTOR = 4
MESSAGE_CHARS = 300  # of a template's own error text (raise_exception) in the one-line refusal
_HUGE_WIDTH = re.compile(r"\d{7,}")  # a format width or precision of a million characters or more


class TemplateRefused(Exception):
    """The template passed a bound; ``apply`` turns it into the one-line refusal."""


class _Budget(threading.local):
    deadline: float | None = None
    chars: int = 0


_budget = _Budget()


def _check_time() -> None:
    if _budget.deadline is not None and time.monotonic() > _budget.deadline:
        raise TemplateRefused(f"it ran past {TEMPLATE_SECONDS:g} s")


def _check_size(value: Any) -> Any:
    if _budget.deadline is not None and isinstance(value, str | bytes | list | tuple) and len(value) > _budget.chars:
        raise TemplateRefused(f"it built a value of {len(value):,} items, over the bound of {_budget.chars:,}")
    return value


def _check_args(args: Iterable[Any]) -> None:
    """Refuse, before the call, a size argument (a width, a count) past the bound."""
    if _budget.deadline is None:
        return
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > _budget.chars:
            raise TemplateRefused(f"it asked for a size of {arg:,}, over the bound of {_budget.chars:,}")
        if isinstance(arg, str) and _HUGE_WIDTH.search(arg) and ("{" in arg or "%" in arg):
            raise TemplateRefused("it formats with a width of a million characters or more")


def _format_string(obj: Any) -> str | None:
    """The format string behind ``"...".format`` (the sandbox wraps it), if ``obj`` is one."""
    target = getattr(obj, "__wrapped__", obj)
    owner = getattr(target, "__self__", None)
    return owner if isinstance(owner, str) else None


class _BoundedFilters(dict):
    """The environment's filters, each wrapped to check its size arguments and its result."""

    def __getitem__(self, name: str) -> Callable[..., Any]:
        return _bounded(super().__getitem__(name))


def _bounded(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps jinja_pass_arg, so Jinja passes the same arguments
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _check_time()
        _check_args([*args, *kwargs.values()])
        return _check_size(function(*args, **kwargs))

    return wrapper


def _bounded_concat(pieces: Iterable[str]) -> str:
    """The template's output, refused once it passes the bound (checked per piece, as it streams)."""
    out, total = [], 0
    for piece in pieces:
        _check_time()
        total += len(piece)
        if _budget.deadline is not None and total > _budget.chars:
            raise TemplateRefused(f"its output passed the bound of {_budget.chars:,} characters")
        out.append(piece)
    return "".join(out)


def _product_size(left: Any, right: Any) -> int:
    """How many items ``left * right`` would hold (0 when it is not a repetition)."""
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, str | bytes | list | tuple) and isinstance(count, int):
            return len(seq) * max(count, 0)
    return 0


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """transformers' sandbox for chat templates, with every hook checking ``apply``'s bounds."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters = _BoundedFilters(self.filters)
        self.concat = _bounded_concat  # type: ignore[method-assign]

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check_time()
        if _budget.deadline is not None:
            if operator == "*" and _product_size(left, right) > _budget.chars:
                raise TemplateRefused(f"it repeats a value to {_product_size(left, right):,} items")
            if operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1 \
                    and right * max(abs(left).bit_length(), 1) > 8 * _budget.chars:
                raise TemplateRefused(f"it raises a number to the power {right:,}")
            if operator == "%" and isinstance(left, str):
                _check_args([left])
            if operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                if len(left) + len(right) > _budget.chars:
                    raise TemplateRefused(f"it joins values into {len(left) + len(right):,} items")
        return _check_size(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's names
        _check_time()
        _check_args([*args, *kwargs.values()])
        fmt = _format_string(__obj)
        if fmt is not None:
            _check_args([fmt])
        return _check_size(super().call(__context, __obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        _check_time()
        return _check_size(super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        _check_time()
        return _check_size(super().getitem(obj, argument))


@functools.cache
def _install() -> None:
    """Make transformers build its chat-template sandbox as ``BoundedSandbox`` (once per process).

    transformers names the class in its module and caches each compiled
    template; the cache is cleared so no template compiled before keeps the
    plain sandbox.
    """
    from transformers.utils import chat_template_utils

    if not hasattr(chat_template_utils, "ImmutableSandboxedEnvironment"):
        raise StarsError("this transformers version renders chat templates in a way stars cannot bound")
    chat_template_utils.ImmutableSandboxedEnvironment = BoundedSandbox
    chat_template_utils._compile_jinja_template.cache_clear()


def _input_chars(messages: Any) -> int:
    if isinstance(messages, str):
        return len(messages)
    if isinstance(messages, dict):
        return sum(_input_chars(v) for v in messages.values())
    if isinstance(messages, list | tuple):
        return sum(_input_chars(v) for v in messages)
    return 0


def apply(tokenizer: Any, messages: list[dict[str, str]], what: str, **kwargs: Any) -> Any:
    """``tokenizer.apply_chat_template(messages, **kwargs)`` within the bounds; a failure is one line."""
    _install()
    _budget.chars = BASE_CHARS + INPUT_FACTOR * _input_chars(messages)
    _budget.deadline = time.monotonic() + TEMPLATE_SECONDS
    try:
        return tokenizer.apply_chat_template(messages, **kwargs)
    except TemplateRefused as exc:
        raise StarsError(f"the {what}'s chat template was stopped: {exc}") from None
    except Exception as exc:  # a stranger's template can fail in any way Jinja or Python can
        reason = " ".join(str(exc).split())[:MESSAGE_CHARS] or type(exc).__name__
        raise StarsError(one_line(f"the {what}'s chat template failed: {reason}")) from None
    finally:
        _budget.deadline = None
