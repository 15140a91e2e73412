"""Events from outside (an imported file) checked against the dataclasses the engine emits.

``checked_event`` refuses a value of the wrong type (``reward: "abc"``, ``params:
[1, 2]``, ``eos: "yes"``), a non-finite number, an unknown verdict or stop
reason, or params the engine would never run with, so nothing that ``export``
or ``replay`` could not show is ever stored. ``RunChecker`` adds what one event
cannot show alone: the order of a run's events.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import MISSING, fields, is_dataclass
from typing import Any

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
    event_from_dict,
)
from ..params import Params

ROLES = ("system", "user", "assistant")


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _conforms(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a field's type hint (ints count as floats; NaN fits nothing)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if origin is list:
        return isinstance(value, list) and all(_conforms(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            _conforms(k, args[0]) and _conforms(v, args[1]) for k, v in value.items()
        )
    if is_dataclass(hint):
        return isinstance(value, dict) and _field_problem(hint, value) is None
    return False


def _field_problem(cls: type, data: dict[str, Any]) -> str | None:
    """The first field of ``data`` that ``cls`` would not hold, or None."""
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        if f.name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                return f"{f.name} is missing"
            continue
        if not _conforms(data[f.name], hints[f.name]):
            return f"{f.name} must be {_type_name(hints[f.name])}, got {data[f.name]!r:.60}"
    return None


def _params_problem(params: dict[str, Any]) -> str | None:
    try:
        Params.from_dict(params)
    except StarsError as exc:
        return f"params: {exc}"
    return None


def _meaning_problem(event: Event) -> str | None:
    """What a well-typed event can still get wrong."""
    if isinstance(event, RunStarted):
        if event.strategy not in decoding.names():
            return f"unknown strategy {event.strategy!r}"
        if not event.messages or any(m.get("role") not in ROLES or "content" not in m for m in event.messages):
            return f"messages must be a list of {{role, content}} objects with a role among {', '.join(ROLES)}"
        return _params_problem(event.params)
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


def checked_event(data: dict[str, Any]) -> Event:
    """The event ``data`` describes, or a StarsError saying which field is wrong."""
    cls = EVENT_TYPES.get(data.get("type"))
    if cls is None:
        raise StarsError(f"unknown event type {data.get('type')!r}")
    problem = _field_problem(cls, data)
    if problem is None:
        event = event_from_dict(data)
        problem = _meaning_problem(event)
    if problem is not None:
        raise StarsError(f"not a valid {cls.__name__} event: {problem}")
    return event


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
