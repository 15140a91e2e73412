"""Events from outside (an imported line, a stored row) checked against the dataclasses the engine emits.

The shape is msgspec's to check, typed by the event dataclasses themselves:
a value of the wrong type (``reward: "abc"``, ``params: [1, 2]``, ``eos:
"yes"``), a missing field, a number that overflows a double (``1e309``) or
malformed UTF-16 is refused by the decoder. What a type cannot say is checked
here once: integers must fit SQLite's 64 bits, floats must be finite, JSON may
nest only ``MAX_DEPTH`` deep, timestamps must be timestamps, and verdicts, stop
reasons and params must be ones the engine would write, so nothing that
``export`` or ``replay`` could not show is ever stored. ``RunChecker`` adds
what one event cannot show alone: the order of a run's events.
"""

from __future__ import annotations

import math
import re
import typing
from dataclasses import is_dataclass
from datetime import datetime
from functools import cache
from typing import Any

import msgspec

from .. import decoding
from ..errors import StarsError
from ..events import (
    EVENT_TYPES,
    STOP_REASONS,
    VERDICTS,
    AttemptScored,
    Event,
    ParamsChanged,
    RunFailed,
    RunFinished,
    RunStarted,
    SegmentAccepted,
)
from ..params import Params

ROLES = ("system", "user", "assistant")
INT64 = (-(2**63), 2**63 - 1)  # SQLite's INTEGER
MAX_DEPTH = 32  # nesting of JSON values (params, runtime): far past what stars writes, far short of the stack
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?)?")
_EXPECTED = re.compile(r"Expected `(.+?)`, got `(.+?)`(?: - at `\$\.?(.*)`)?")
_MISSING = re.compile(r"Object missing required field `(.+?)`(?: - at `\$\.?(.*)`)?")
_AT = re.compile(r"(.+) - at `\$\.?(.*)`")
_AT_BYTE = re.compile(r"\(byte (\d+)\)")
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class _Kind(msgspec.Struct):
    """What every line must be: an object with a ``type``; the rest is decoded once the type is known."""

    type: str


def reason(exc: msgspec.MsgspecError) -> str:
    """msgspec's message in the words the rest of stars uses (``reward must be float, got str``)."""
    text = str(exc)
    if m := _EXPECTED.fullmatch(text):
        expected, got, where = m.groups()
        return f"{where + ' ' if where else ''}must be {expected.replace('`', '')}, got {got}"
    if m := _MISSING.fullmatch(text):
        name, parent = m.groups()
        return f"{parent + '.' if parent else ''}{name} is missing"
    if m := _AT.fullmatch(text):
        problem, where = m.groups()
        return f"{where or 'the line'}: {problem[0].lower()}{problem[1:]}"
    return text


def _malformed(raw: bytes, exc: msgspec.DecodeError) -> str:
    """Name the non-numbers JSON has no room for (``NaN``, ``Infinity``) rather than a byte offset."""
    if m := _AT_BYTE.search(str(exc)):
        byte = int(m.group(1))
        for word in (b"NaN", b"Infinity", b"-Infinity"):
            if raw[byte:].startswith(word):
                return f"{word.decode()} is not a number"
        if _SURROGATE.search(raw, max(0, byte - 12), byte + 6):
            return "text with a lone surrogate (\\ud800…) is not valid"
    if "surrogate" in str(exc):
        return "text with a lone surrogate (\\ud800…) is not valid"
    return f"not JSON ({exc})"


def decode_line(raw: bytes) -> str:
    """The ``type`` of one line; StarsError (one line) for anything that is not a JSON object with one."""
    try:
        return msgspec.json.decode(raw, type=_Kind).type
    except msgspec.ValidationError as exc:
        if "`type`" in str(exc) or "Expected `object`" in str(exc):
            raise StarsError('expected an object with a "type"') from None
        raise StarsError(reason(exc)) from None
    except msgspec.DecodeError as exc:
        raise StarsError(_malformed(raw, exc)) from None
    except RecursionError:
        raise StarsError(f"JSON nested deeper than {MAX_DEPTH} levels") from None


@cache
def _decoder(cls: type) -> msgspec.json.Decoder:
    return msgspec.json.Decoder(cls)


def decode(raw: bytes, cls: type) -> Any:
    """``raw`` decoded as a ``cls`` (a dataclass or Struct), range-checked; StarsError naming the field."""
    try:
        value = _decoder(cls).decode(raw)
    except msgspec.ValidationError as exc:
        raise StarsError(reason(exc)) from None
    except msgspec.DecodeError as exc:
        raise StarsError(_malformed(raw, exc)) from None
    except RecursionError:
        raise StarsError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    problem = range_problem(value)
    if problem:
        raise StarsError(problem)
    return value


def range_problem(value: Any) -> str | None:
    """What no SQLite column or JSON file can hold: a 65-bit integer, a non-finite float, deep nesting.

    The walk is flat and fast (every imported value passes it); only a value
    found wanting is walked again to name where it is.
    """
    problem = _range_problem(value)
    if problem is None:
        return None
    where = _where(value, problem) or "a value"
    return f"{where if len(where) <= 60 else where[:57] + '...'}: {problem}"


def _children(item: Any) -> list[tuple[str, Any]]:
    if type(item) is dict:
        return [(str(k), v) for k, v in item.items()]
    if type(item) in (list, tuple):
        return [(f"[{i}]", v) for i, v in enumerate(item)]
    if is_dataclass(item) or isinstance(item, msgspec.Struct):
        names = list(getattr(item, "__struct_fields__", ())) or list(vars(item))
        return [(name, getattr(item, name)) for name in names]
    return []


def _where(value: Any, problem: str, path: str = "", depth: int = 0) -> str | None:
    """The dotted path of the first value whose own problem is ``problem``."""
    if _range_problem(value, shallow=True) == problem or depth > MAX_DEPTH:
        return path
    for name, child in _children(value):
        step = name if name.startswith("[") or not path else f".{name}"
        found = _where(child, problem, path + step, depth + (not is_dataclass(value)))
        if found is not None:
            return found
    return None


@cache
def _plan(cls: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A dataclass's fields that can break a range: (int or float fields, container or nested fields).
    Text and booleans fit any column, so the walk skips them."""
    numbers, nested = [], []
    for name, hint in typing.get_type_hints(cls).items():
        args = set(typing.get_args(hint)) - {type(None)} or {hint}
        if args <= {int, float}:
            numbers.append(name)
        elif not args <= {str, bool}:
            nested.append(name)
    return tuple(numbers), tuple(nested)


def _number_problem(item: Any) -> str | None:
    kind = type(item)
    if kind is int and not INT64[0] <= item <= INT64[1]:
        return f"{str(item)[:40]} is beyond SQLite's 64-bit integer range"
    if kind is float and not math.isfinite(item):
        return f"{item} is not a finite number"
    return None


def _range_problem(value: Any, shallow: bool = False) -> str | None:
    if is_dataclass(value) and not shallow:  # an event: check its numbers, walk only what may nest
        numbers, nested = _plan(type(value))
        for name in numbers:
            problem = _number_problem(getattr(value, name))
            if problem:
                return problem
        for name in nested:
            problem = _range_problem(getattr(value, name))
            if problem:
                return problem
        return None
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is int:
            if not INT64[0] <= item <= INT64[1]:
                return f"{str(item)[:40]} is beyond SQLite's 64-bit integer range"
        elif kind is float:
            if not math.isfinite(item):
                return f"{item} is not a finite number"
        elif kind is str or item is None or kind is bool:
            continue
        elif shallow:
            continue
        elif depth >= MAX_DEPTH:
            return f"JSON nested deeper than {MAX_DEPTH} levels"
        elif kind is dict:
            stack.extend((v, depth + 1) for v in item.values())
        elif kind is list or kind is tuple:
            stack.extend((v, depth + 1) for v in item)
        elif is_dataclass(item) or isinstance(item, msgspec.Struct):
            fields = vars(item).values() if hasattr(item, "__dict__") else msgspec.structs.astuple(item)
            stack.extend((v, depth) for v in fields)
    return None


def timestamp_problem(value: str | None, name: str) -> str | None:
    """None when ``value`` is empty or an ISO 8601 timestamp (what stars writes), else why not."""
    if not value:
        return None
    if not TIMESTAMP.fullmatch(value):
        return f"{name} must be a timestamp (2026-01-31T12:00:00+00:00), got {value!r:.60}"
    try:
        datetime.fromisoformat(value)
    except ValueError as exc:
        return f"{name} is not a valid timestamp ({exc})"
    return None


def _params_problem(params: dict[str, Any]) -> str | None:
    try:
        Params.from_dict(params)
    except StarsError as exc:
        return f"params: {exc}"
    return None


class _RubricShape(msgspec.Struct, forbid_unknown_fields=True):
    """What ``Rubric.to_dict`` writes (the reward module itself is not imported here: it loads torch)."""

    prefer: list[str]
    avoid: list[str]
    relevance_weight: float


def _rubric_problem(rubric: dict[str, Any]) -> str | None:
    if not rubric:
        return None
    try:
        msgspec.convert(rubric, _RubricShape)
    except msgspec.ValidationError as exc:
        return f"rubric: {reason(exc)}"
    return None


def _meaning_problem(event: Event) -> str | None:
    """What a well-typed event can still get wrong."""
    if isinstance(event, RunStarted):
        if event.strategy not in decoding.names():
            return f"unknown strategy {event.strategy!r}"
        if not event.messages or any(m.get("role") not in ROLES or "content" not in m for m in event.messages):
            return f"messages must be a list of {{role, content}} objects with a role among {', '.join(ROLES)}"
        return (timestamp_problem(event.started_at, "started_at") or _params_problem(event.params)
                or _rubric_problem(event.rubric))
    if isinstance(event, AttemptScored):
        if event.verdict not in VERDICTS:
            return f"unknown verdict {event.verdict!r} (expected {', '.join(VERDICTS)})"
        if min(event.segment, event.attempt, event.tokens) < 0 or event.elapsed_ms < 0:
            return "segment, attempt, tokens and elapsed_ms cannot be negative"
    if isinstance(event, SegmentAccepted) and (event.segment < 0 or event.attempts < 1 or event.tokens < 0):
        return "segment and tokens cannot be negative, and a segment needs at least one attempt"
    if isinstance(event, ParamsChanged):
        if any(len(pair) != 2 for pair in event.changes.values()):
            return "changes must map each field to [old, new]"
        return _params_problem(event.params) if event.params else None
    if isinstance(event, RunFinished) and event.stop_reason not in STOP_REASONS:
        return f"unknown stop_reason {event.stop_reason!r} (expected {', '.join(STOP_REASONS)})"
    return None


def _checked(cls: type[Event], make: Any) -> Event:
    try:
        event = make()
        problem = range_problem(event) or _meaning_problem(event)
    except StarsError as exc:
        problem = str(exc)
    except msgspec.ValidationError as exc:
        problem = reason(exc)
    if problem is not None:
        raise StarsError(f"not a valid {cls.__name__} event: {problem}")
    return event


def event_class(kind: str) -> type[Event]:
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        raise StarsError(f"unknown event type {kind!r:.60}")
    return cls


def checked_event_json(kind: str, raw: bytes) -> Event:
    """The event one JSON line (of type ``kind``) describes, or a StarsError saying which field is wrong."""
    cls = event_class(kind)
    return _checked(cls, lambda: decode(raw, cls))


def checked_event(data: dict[str, Any]) -> Event:
    """The event ``data`` (``Event.to_dict()`` output, a stored row) describes, or a StarsError saying why not."""
    cls = event_class(data.get("type"))
    return _checked(cls, lambda: msgspec.convert(data, cls))


class RunChecker:
    """The order a run's events must come in: RunStarted first and once; each segment's
    attempts, then its acceptance, one segment after another; nothing after the run closed."""

    def __init__(self) -> None:
        self.started = False
        self.closed = False
        self.segment = 0  # the segment being drawn
        self.attempted = False  # it has at least one attempt

    def add(self, event: Event) -> None:
        """Accept ``event`` as the run's next one, or raise StarsError saying why not."""
        if isinstance(event, RunStarted) and self.started:
            raise StarsError("a second RunStarted inside one run (events of another run?)")
        if not self.started and not isinstance(event, RunStarted):
            raise StarsError("a run must begin with RunStarted")
        if self.closed:
            raise StarsError(f"{type(event).__name__} after the run finished (events of another run?)")
        self.started = True
        if isinstance(event, AttemptScored | SegmentAccepted | ParamsChanged) and event.segment != self.segment:
            raise StarsError(f"{type(event).__name__} for segment {event.segment} while segment "
                             f"{self.segment} is being drawn")
        if isinstance(event, AttemptScored):
            self.attempted = True
        elif isinstance(event, SegmentAccepted):
            if not self.attempted:
                raise StarsError(f"SegmentAccepted for segment {event.segment}, which has no attempts")
            self.segment, self.attempted = self.segment + 1, False
        elif isinstance(event, RunFinished | RunFailed):
            self.closed = True
