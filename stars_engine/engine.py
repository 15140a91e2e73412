"""The one entry point a front end calls: ``run(...)`` yields the event stream.

Any exception inside a strategy (a reward model that raises, a model error)
ends the stream with one ``RunFailed`` carrying a one-line message, so the
recorder can close the run and the caller can show the message.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from . import decoding
from .decoding.common import RunContext
from .display.controls import error_line
from .events import Event, RunFailed
from .params import Params, ParamsSource, constant
from .policy.base import Policy
from .reward.base import Reward

one_line = error_line  # the name the front ends import: an exception as one visible line


def run(
    policy: Policy,
    reward: Reward,
    messages: list[dict[str, str]],
    params: Params | ParamsSource,
    cancel: threading.Event | None = None,
) -> Iterator[Event]:
    """Decode a reply to ``messages`` and yield every event as it happens.

    ``params`` is a Params or a callable returning the current Params; the
    callable is read at every segment boundary (that is how the TUI changes
    knobs mid-run).
    """
    source = params if callable(params) else constant(params)
    ctx = RunContext(policy, reward, messages, source, cancel or threading.Event())
    strategy = decoding.get(ctx.initial.strategy).run
    try:
        yield from strategy(ctx)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one event
        yield RunFailed(message=one_line(exc))
