"""Strategy specs: the short strings ``--strategies`` takes, turned into Params.

    vanilla                          one sample
    bon-N                            Best-of-N with N whole replies (N >= 1)
    stars[:key=value...]             STARS; keys are Params fields or the short
                                     names seg, tau, mode, k, attempts, rule
    cards[:key=value...]             CARDS, from its code's defaults (soft rule,
                                     21 attempts); also H, min, max, alpha
    specrej[:key=value...]           Speculative Rejection; also n, prune, every
    smc[:key=value...]               particle filtering; also particles, T (softmax
                                     temperature), ess (resampling threshold), seg
    beam[:key=value...]              reward-guided beam search; also width,
                                     expand, seg

A family's spec starts from its strategy's ``bench_defaults`` (the method's own
settings, see benchmarks/RESULTS.md for their sources) and the keys override
them; the short keys are the knobs' (``decoding.registry``).

The spec string is the strategy's label in every table, plot and JSON file,
so a result can always be traced back to the exact settings that made it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from .. import decoding
from ..errors import ParamError, StarsError
from ..params import Params, parse_value

# Calibrated on the default embedding rubric (see benchmarks/RESULTS.md).
DEFAULT_STRATEGIES = (
    "vanilla,bon-2,bon-4,bon-8,bon-16,"
    "stars:seg=8:tau=0.45:mode=schedule:k=1,"
    "stars:seg=8:tau=0.25:mode=fixed:k=1,"
    "stars:seg=16:tau=0.45:mode=schedule:k=2"
)



# The values every recorded bench ran with, for the fields a spec leaves unset. Pinned, so that the
# app's defaults can move without changing what ``bon-4`` or ``smc:particles=4`` means or stranding
# recorded cells (a cell's key hashes its Params). A ``stars`` spec starts from the app's STARS
# defaults instead (its strategy's ``bench_defaults``), so a bare ``stars`` is what a user gets.
BENCH_BASE: dict[str, Any] = {"segment_tokens": 16, "threshold": 0.45, "threshold_mode": "schedule",
                              "candidates_per_round": 4}


def bench_base(**fields: Any) -> Params:
    """The Params a bench's specs start from: ``BENCH_BASE`` and the run's own fields."""
    return Params(**{**BENCH_BASE, **fields})


def spec_help() -> str:
    """How to name each registered strategy in ``--strategies``."""
    forms = [s.bench if s.bench != "family" else f"{s.name}[:key=value...]" for s in decoding.all_strategies()]
    return f"use {', '.join(forms[:-1])} or {forms[-1]}"


@dataclass(frozen=True)
class StrategySpec:
    """One strategy to bench: its label and the Params fields it sets."""

    label: str
    overrides: tuple[tuple[str, Any], ...]

    @property
    def strategy(self) -> str:
        return dict(self.overrides)["strategy"]

    def params(self, base: Params, seed: int) -> Params:
        """The run's Params: ``base`` with this spec's fields and ``seed``."""
        try:
            return base.with_changes(**dict(self.overrides), seed=seed)
        except ParamError as exc:
            raise StarsError(f"strategy {self.label!r}: {exc}") from None


def _family_overrides(label: str, kind: str, parts: list[str]) -> dict[str, Any]:
    known = {f.name for f in fields(Params)} - {"strategy", "seed"}
    out: dict[str, Any] = {"strategy": kind, **decoding.get(kind).bench_defaults}
    aliases = decoding.bench_keys()
    for part in parts:
        key, sep, text = part.partition("=")
        name = aliases.get(key.strip(), key.strip())
        if not sep or name not in known:
            raise StarsError(f"strategy {label!r}: cannot read {part!r}; expected key=value")
        try:
            out[name] = parse_value(name, text)
        except ParamError as exc:
            raise StarsError(f"strategy {label!r}: {exc}") from None
    return out


def _families() -> set[str]:
    return {s.name for s in decoding.all_strategies() if s.bench == "family"}


def parse_spec(text: str) -> StrategySpec:
    """Read one spec; an unknown name or a bad value is a StarsError naming it."""
    label = text.strip()
    if label == "vanilla":
        overrides: dict[str, Any] = {"strategy": "vanilla"}
    elif match := re.fullmatch(r"bon-(-?\d+)", label):
        n = int(match.group(1))
        if n < 1:
            raise StarsError(f"strategy {label!r}: N must be at least 1, got {n}")
        overrides = {"strategy": "best-of-n", "best_of_n": n}
    elif (kind := label.split(":")[0]) in _families():
        overrides = _family_overrides(label, kind, label.split(":")[1:])
    else:
        raise StarsError(f"unknown strategy {label!r}: {spec_help()}")
    return StrategySpec(label=label, overrides=tuple(overrides.items()))


def parse_specs(text: str, base: Params) -> list[StrategySpec]:
    """Read a comma-separated list and check each spec builds valid Params."""
    labels = [part.strip() for part in text.split(",") if part.strip()]
    if not labels:
        raise StarsError(f"no strategies given: {spec_help()}")
    specs = [parse_spec(label) for label in labels]
    seen: set[str] = set()
    for spec in specs:
        if spec.label in seen:
            raise StarsError(f"strategy {spec.label!r} is listed twice")
        seen.add(spec.label)
        spec.params(base, 0)
    return specs


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` -> [0, 1, 2]; every seed a non-negative integer, at least one."""
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise StarsError(f"--seeds must be comma-separated integers, got {text!r}") from None
    if not seeds or any(s < 0 for s in seeds):
        raise StarsError(f"--seeds must list at least one integer >= 0, got {text!r}")
    if len(set(seeds)) != len(seeds):
        raise StarsError(f"--seeds lists a seed twice: {text!r}")
    return seeds
