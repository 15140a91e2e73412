"""Text the program did not write, made safe to print on a terminal.

A title, prompt or reply (written by a model, or imported from a file), a
server's error body or a template's error message may hold ESC sequences
(colours, OSC 8 links, OSC 52 clipboard writes), bidi controls that reorder
what a line appears to say, or line separators that split one line into two.
Printed raw, the terminal obeys them. ``visible_controls`` shows each of them as
its escape instead (``\\x1b``, ``\\u202e``), keeping only newline and tab; every
front end (the CLI's printers and errors, the app's widgets and notifications)
goes through it, and ``error_line`` is the one way an exception becomes a message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any, TypeVar

from ..errors import StarsError

T = TypeVar("T")

# C0 (but tab and newline), DEL and C1 (0x85 NEL, 0x9b CSI among them); the bidi marks, embeddings,
# overrides and isolates; the line and paragraph separators.
UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[{UNSAFE}]")
MAX_ERROR_CHARS = 2000  # a server body or a template's message is data, not a page to print


def escape(char: str) -> str:
    """One unsafe character as the escape Python would write for it: ``\\x1b``, ``\\u202e``."""
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible_controls(text: str, shown_as: Callable[[str], str] = escape) -> str:
    """``text`` with every unsafe character (controls but newline and tab, bidi controls, line
    separators) replaced by ``shown_as(char)``: its escape unless a front end draws its own symbol."""
    return _UNSAFE.sub(lambda m: shown_as(m.group()), text)


def one_line(text: str) -> str:
    """``text`` as one printable line: line breaks of every kind as spaces, the rest made visible."""
    return visible_controls(" ".join(text.splitlines()).strip())


def error_line(exc: BaseException, first_line: bool = False) -> str:
    """An exception as the one visible line a person reads: its message, prefixed by its type unless
    stars or a value check raised it on purpose; ``first_line`` keeps only the first line (a
    library's long explanation)."""
    text = str(exc).strip()
    if first_line:
        text = text.splitlines()[0] if text else ""
    text = one_line(text) or type(exc).__name__
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 1] + "…"
    return text if isinstance(exc, (ValueError, RuntimeError, StarsError)) else f"{type(exc).__name__}: {text}"


def json_text(data: object, indent: int | None = None) -> str:
    """``data`` as JSON that is safe on a terminal: what JSON leaves raw (DEL, C1, bidi controls, line
    separators) written as ``\\uXXXX`` escapes, which any JSON reader turns back into the same text."""
    import json

    text = json.dumps(data, ensure_ascii=False, indent=indent)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


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
        return {_visible(k): _visible(v) for k, v in value.items()}
    return value


def visible_fields(record: T) -> T:
    """A copy of a dataclass (an event, a run's row) with every text in it made visible."""
    return replace(record, **{f.name: _visible(getattr(record, f.name)) for f in fields(record) if f.init})
