"""The strategy registry: each strategy declared once, read by the engine, the CLI, the bar and the bench.

A strategy's module declares a ``Strategy``: its name, the generator that runs
it, one line of help, the ``Params`` fields it alone reads (with the parameter
bar's label and the bench spec's short key for each), what it needs of a
policy beyond ``sample``, and how ``stars bench --strategies`` names it.
``decoding/__init__.py`` registers each with one line. The limits of every
field are declared once too, in ``params.FIELDS``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ParamError
from ..params import SHARED_KNOBS, Knob

if TYPE_CHECKING:
    from ..events import Event
    from .common import RunContext


@dataclass(frozen=True)
class Strategy:
    """One decoding strategy, declared where it is written.

    ``bench`` is how ``--strategies`` names it: ``"family"`` takes
    ``name[:key=value...]`` starting from ``bench_defaults``; any other string
    is a fixed form handled by the bench (``vanilla``, ``bon-N``).
    """

    name: str
    run: Callable[[RunContext], Iterator[Event]]
    help: str
    knobs: tuple[Knob, ...] = ()
    reads: tuple[str, ...] = ()  # fields it reads that another strategy owns or all share, in the bar's order
    needs: frozenset[str] = frozenset()  # policy abilities beyond sample: "sample_until_unsure", "branches"
    bench: str = "family"
    bench_defaults: Mapping[str, Any] = field(default_factory=dict)


_STRATEGIES: dict[str, Strategy] = {}


def register(strategy: Strategy) -> Strategy:
    """Make ``strategy`` runnable by its name everywhere (a name registered twice is a mistake)."""
    if strategy.name in _STRATEGIES and _STRATEGIES[strategy.name] is not strategy:
        raise ValueError(f"strategy {strategy.name!r} is registered twice")
    _STRATEGIES[strategy.name] = strategy
    return strategy


def unregister(name: str) -> None:
    """Forget a strategy (a test's toy one, after the test)."""
    _STRATEGIES.pop(name, None)


def names() -> tuple[str, ...]:
    """Every registered strategy's name, in registration order."""
    return tuple(_STRATEGIES)


def get(name: str) -> Strategy:
    """The strategy called ``name``; an unknown one is the ``ParamError`` every front end shows."""
    try:
        return _STRATEGIES[name]
    except (KeyError, TypeError):
        raise ParamError("strategy", f"must be one of {', '.join(_STRATEGIES)}; got {name!r}") from None


def all_strategies() -> tuple[Strategy, ...]:
    return tuple(_STRATEGIES.values())


def knobs() -> dict[str, Knob]:
    """Every field's knob, by field: the strategy's name, each strategy's own, the shared ones."""
    strategy = Knob("strategy", f"Decoding strategy: {', '.join(_STRATEGIES)}.", "strategy")
    own = [k for s in _STRATEGIES.values() for k in s.knobs]
    return {k.field: k for k in (strategy, *own, *SHARED_KNOBS)}


def labels() -> dict[str, str]:
    """Every field's label, by field."""
    return {field: knob.label for field, knob in knobs().items()}


def _every_strategy_fields() -> tuple[str, ...]:
    """The shared fields the bar shows whatever the strategy (max new tokens, top-p, top-k, seed...)."""
    return tuple(k.field for k in SHARED_KNOBS if k.bar)


def strategy_fields(name: str) -> tuple[str, ...]:
    """The fields the parameter bar shows for strategy ``name``, in order: its own, then those it reads,
    then the shared ones every strategy shows."""
    strategy = get(name)
    every = tuple(f for f in _every_strategy_fields() if f not in strategy.reads)
    return (*(k.field for k in strategy.knobs if k.bar), *strategy.reads, *every)


def bar_fields() -> tuple[str, ...]:
    """Every field the bar may show, in an order that keeps each strategy's own: the strategy, the fields
    one strategy owns, then those several read or all show."""
    shown = dict.fromkeys(f for s in _STRATEGIES.values() for f in strategy_fields(s.name))
    shared = {f for s in _STRATEGIES.values() for f in s.reads} | set(_every_strategy_fields())
    return ("strategy", *(f for f in shown if f not in shared), *(f for f in shown if f in shared))


def bench_keys() -> dict[str, str]:
    """A bench spec's short keys, each to its ``Params`` field."""
    return {k.key: k.field for k in knobs().values() if k.key is not None}
