"""Text the program did not write, made safe to print on a terminal.

A title, prompt or reply (written by a model, or imported from a file) may hold
ESC sequences: colours, OSC 8 links, OSC 52 clipboard writes. Printed raw, the
terminal obeys them. ``visible_controls`` shows every control character as its
escape instead (``\\x1b``), keeping only newline and tab.
"""

from __future__ import annotations

import re
from dataclasses import fields, replace
from typing import Any, TypeVar

from ..errors import StarsError

T = TypeVar("T")

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible_controls(text: str) -> str:
    """``text`` with C0/C1 control characters (but newline and tab) written as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def one_line(text: str) -> str:
    """``text`` as one printable line: controls visible, line breaks as spaces."""
    return visible_controls(" ".join(text.splitlines()))


def valid_text(text: str, what: str) -> str:
    """``text`` if it is Unicode that can be stored; lone surrogates (undecodable bytes) are refused."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise StarsError(f"{what} is not valid UTF-8 text (it holds undecodable bytes)") from None
    return text


def _visible(value: Any) -> Any:
    if isinstance(value, str):
        return visible_controls(value)
    if isinstance(value, list | tuple):
        return type(value)(_visible(v) for v in value)
    if isinstance(value, dict):
        return {k: _visible(v) for k, v in value.items()}
    return value


def visible_fields(record: T) -> T:
    """A copy of a dataclass (an event, a run's row) with every text in it made visible."""
    return replace(record, **{f.name: _visible(getattr(record, f.name)) for f in fields(record) if f.init})
