"""Decoding parameters: one frozen dataclass, validated on construction.

The same rules serve the CLI options, the TUI's parameter bar and the engine,
so an invalid value is refused with the same message everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .errors import ParamError

THRESHOLD_MODES = ("schedule", "fixed")
ACCEPTANCE_RULES = ("hard", "soft")

AUTO = "auto"  # candidates_per_round chosen each round from the acceptance rate so far

# Fields a running decode cannot take mid-way: they shape the whole run (the prompt's fit is
# checked against max_new_tokens before it starts; one reply is sampled under one filter and seed).
RUN_LEVEL_FIELDS = frozenset({
    "strategy", "seed", "best_of_n", "initial_n", "max_new_tokens", "top_p", "top_k",
    "particles", "beam_width", "beam_expansions",  # the population's size is the branches in the cache
})

RANDOM = "random"  # how a person writes and reads seed=None: a fresh seed for each reply


@dataclass(frozen=True)
class Knob:
    """A ``Params`` field as people meet it: its ``--flag`` help, its label (the parameter bar's
    and its messages'), its short key in a bench spec, and whether the bar has a field for it.
    The strategy that owns a field declares its knob (``decoding.registry``); ``SHARED_KNOBS``
    are the fields no one strategy owns, and the bar shows those with ``bar`` for every strategy."""

    field: str
    help: str
    label: str
    key: str | None = None
    bar: bool = True


SHARED_KNOBS = (
    Knob("temperature", "Sampling temperature (> 0).", "temp"),
    Knob("max_new_tokens", "Most tokens in the reply.", "max new tokens"),
    Knob("top_p", "Nucleus sampling mass (1 = off).", "top-p"),
    Knob("top_k", "Top-k filter (0 = off).", "top-k"),
    Knob("seed", "Random seed (default: a fresh one, recorded with the run).", "seed"),
)


@dataclass(frozen=True)
class Params:
    """Everything that steers one run.

    ``threshold`` is in the reward model's units; with ``threshold_mode="schedule"``
    it is the value the threshold reaches at ``max_new_tokens`` (it starts from the
    reward of the empty reply). ``beta`` is the temperature of the soft acceptance
    rule. ``top_k=0`` and ``top_p=1`` switch those filters off. ``seed=None`` picks
    a fresh seed per run; the one used is recorded in ``RunStarted``.
    ``candidates_per_round="auto"`` picks each round's k from the run's acceptance
    rate so far (``decoding/adaptive.py``).

    The STARS defaults (8-token segments, a fixed threshold of 0.25, one candidate
    per round) are the bench's S2: out of sample (the 30 prompts no setting was
    chosen on, 128 tokens, through vLLM) it reached Best-of-2's guide reward with
    65 % of its tokens, and no held-out judge preferred Best-of-2
    (benchmarks/RESULTS.md, "Defaults on the frontier"). With four out of five
    segments passing, one candidate per round is the cheap choice.

    CARDS (``strategy="cards"``): a segment ends before the first token, past
    ``min_segment_tokens``, whose predictive entropy reaches ``entropy_threshold``
    nats, and after ``max_segment_tokens`` at most; its threshold schedule starts
    at ``(1 - alpha) * r(prompt, "") + alpha * threshold``.
    Speculative Rejection (``strategy="specrej"``): ``initial_n`` replies grow
    ``decision_tokens`` at a time; at each decision the best
    ``ceil((1 - prune_fraction) * n)`` are kept.
    Particle filtering (``strategy="smc"``): ``particles`` replies grow
    ``segment_tokens`` at a time, resampled by ``softmax(reward / smc_temperature)``
    when the effective sample size falls below ``ess_threshold * particles``.
    Beam search (``strategy="beam"``): ``beam_width`` replies each grow
    ``beam_expansions`` candidates of ``segment_tokens``; the best ``beam_width`` go on.
    """

    strategy: str = "stars"
    segment_tokens: int = 8
    threshold: float = 0.25
    threshold_mode: str = "fixed"
    acceptance: str = "hard"
    beta: float = 0.05
    max_attempts: int = 8
    candidates_per_round: int | str = 1
    best_of_n: int = 4
    entropy_threshold: float = 3.0
    min_segment_tokens: int = 4
    max_segment_tokens: int = 64
    alpha: float = 0.5
    initial_n: int = 8
    prune_fraction: float = 0.5
    decision_tokens: int = 16
    particles: int = 8
    smc_temperature: float = 0.1
    ess_threshold: float = 0.5
    beam_width: int = 2
    beam_expansions: int = 4
    max_new_tokens: int = 128
    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 50
    seed: int | None = None

    def __post_init__(self) -> None:
        validate(self)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Params:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def with_changes(self, **changes: Any) -> Params:
        """A validated copy; raises ParamError naming the bad field."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ParamError(sorted(unknown)[0], "no such parameter")
        return replace(self, **changes)

    def diff(self, other: Params) -> dict[str, tuple[Any, Any]]:
        """Fields whose value differs, as {name: (self's, other's)}."""
        mine, theirs = self.to_dict(), other.to_dict()
        return {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}


def _int_at_least(name: str, value: Any, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamError(name, f"must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ParamError(name, f"must be {bound}, got {value}")


def _finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParamError(name, f"must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ParamError(name, f"must be a finite number, got {value}")
    return float(value)


def _fraction(name: str, value: Any, low: float, high: float, upper_open: bool = False) -> None:
    v = _finite(name, value)
    if v < low or v > high or (upper_open and v == high):
        bound = f"at least {low} and below {high}" if upper_open else f"between {low} and {high}"
        raise ParamError(name, f"must be {bound}, got {value}")


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ParamError(name, f"must be one of {', '.join(allowed)}; got {value!r}")


def validate(p: Params) -> None:
    """Raise ParamError for the first invalid field (the strategy's name: ``decoding.get``, which knows them)."""
    if not isinstance(p.strategy, str) or not p.strategy:
        raise ParamError("strategy", f"must be a strategy's name, got {p.strategy!r}")
    _int_at_least("segment_tokens", p.segment_tokens, 1, 4096)
    _finite("threshold", p.threshold)
    _choice("threshold_mode", p.threshold_mode, THRESHOLD_MODES)
    _choice("acceptance", p.acceptance, ACCEPTANCE_RULES)
    if _finite("beta", p.beta) <= 0:
        raise ParamError("beta", f"must be greater than 0, got {p.beta}")
    _int_at_least("max_attempts", p.max_attempts, 1, 1000)
    if isinstance(p.candidates_per_round, str) and p.candidates_per_round != AUTO:
        raise ParamError("candidates_per_round", f"must be a number or {AUTO!r}, got {p.candidates_per_round!r}")
    if p.candidates_per_round != AUTO:
        _int_at_least("candidates_per_round", p.candidates_per_round, 1, 64)
    _int_at_least("best_of_n", p.best_of_n, 1, 64)
    if _finite("entropy_threshold", p.entropy_threshold) <= 0:
        raise ParamError("entropy_threshold", f"must be greater than 0 nats, got {p.entropy_threshold}")
    _int_at_least("min_segment_tokens", p.min_segment_tokens, 1, 4096)
    _int_at_least("max_segment_tokens", p.max_segment_tokens, p.min_segment_tokens, 4096)
    _fraction("alpha", p.alpha, 0.0, 1.0)
    _int_at_least("initial_n", p.initial_n, 1, 64)
    _fraction("prune_fraction", p.prune_fraction, 0.0, 1.0, upper_open=True)
    _int_at_least("decision_tokens", p.decision_tokens, 1, 4096)
    _int_at_least("particles", p.particles, 1, 64)
    if not 0 < _finite("smc_temperature", p.smc_temperature) <= 100:
        raise ParamError("smc_temperature", f"must be greater than 0 and at most 100, got {p.smc_temperature}")
    _fraction("ess_threshold", p.ess_threshold, 0.0, 1.0)
    _int_at_least("beam_width", p.beam_width, 1, 16)
    _int_at_least("beam_expansions", p.beam_expansions, 1, 16)
    _int_at_least("max_new_tokens", p.max_new_tokens, 1, 32768)
    if not 0 < _finite("temperature", p.temperature) <= 10:
        raise ParamError("temperature", f"must be greater than 0 and at most 10, got {p.temperature}")
    if not 0 < _finite("top_p", p.top_p) <= 1:
        raise ParamError("top_p", f"must be greater than 0 and at most 1, got {p.top_p}")
    _int_at_least("top_k", p.top_k, 0)
    if p.seed is not None:
        _int_at_least("seed", p.seed, 0, 2**63 - 1)


def parse_value(name: str, text: str) -> Any:
    """Turn a user's text (TUI field, CLI ``--set``) into the field's type."""
    kinds = {f.name: f.type for f in fields(Params)}
    if name not in kinds:
        raise ParamError(name, "no such parameter")
    kind = str(kinds[name])
    text = text.strip()
    if name == "seed" and text.lower() == RANDOM:
        return None
    try:
        if kind == "str":
            return text
        if kind == "float":
            return float(text)
        if kind == "int | str":  # a count, or "auto"
            return AUTO if text.lower() == AUTO else int(text)
        if text.lower() in ("", "none") and "None" in kind:
            return None
        return int(text)
    except ValueError:
        also = {"int | str": f" or {AUTO!r}", "int | None": f" or {RANDOM!r}"}.get(kind, "")
        raise ParamError(name, f"cannot read {text!r} as a number{also}") from None


def format_value(name: str, value: Any) -> str:
    """A field's value as a person reads and types it: ``parse_value`` reads it back (seed ``None`` is ``random``)."""
    if name == "seed" and value is None:
        return RANDOM
    return str(value)


ParamsSource = Callable[[], Params]


def constant(params: Params) -> ParamsSource:
    """A params source that never changes (the CLI's case)."""
    return lambda: params
