"""The recipe "adding a strategy" holds: a toy strategy, one module and one registry line, runs everywhere."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fakes import ScriptedPolicy, ScriptedReward, scripted_backend

from stars_engine import backends, decoding, engine
from stars_engine.backends.spec import ModelSpec
from stars_engine.bench.strategies import parse_spec
from stars_engine.decoding.common import RunContext
from stars_engine.decoding.segments import FixedSegments, run_segments
from stars_engine.errors import ParamError, StarsError
from stars_engine.events import Event, RunFinished, RunStarted
from stars_engine.params import Params
from stars_tui import cli

from .checks import check_stream


class TakeFirst(FixedSegments):
    """Two candidates a segment, the first one taken, nothing judged."""

    def threshold(self, params: Params, reply_tokens: int) -> float | None:
        return None

    def accepts(self, params: Params, reward: float, threshold: float | None) -> bool:
        return True

    def max_attempts(self, params: Params) -> int:
        return 2

    def per_round(self, params: Params) -> int:
        return 2


def first_of_two(ctx: RunContext) -> Iterator[Event]:
    yield ctx.started(ctx.policy.start(ctx.messages, ctx.seed), None)
    yield from run_segments(ctx, TakeFirst(), None)


TOY = decoding.Strategy("first-of-two", first_of_two, "two candidates a segment, the first taken",
                        reads=("segment_tokens", "temperature"))
UNSURE_TOY = decoding.Strategy("unsure-toy", first_of_two, "needs entropy cuts",
                               needs=frozenset({"sample_until_unsure"}))


@pytest.fixture
def toy():
    decoding.register(TOY)
    decoding.register(UNSURE_TOY)
    try:
        yield TOY
    finally:
        decoding.unregister(TOY.name)
        decoding.unregister(UNSURE_TOY.name)


def test_a_registered_strategy_runs_headless(toy):
    params = Params(strategy=toy.name, seed=3, segment_tokens=4, max_new_tokens=16)
    events = list(engine.run(ScriptedPolicy(), ScriptedReward(), [{"role": "user", "content": "hi"}], params))
    check_stream(events, params, attempts_limit=2)
    assert isinstance(events[0], RunStarted) and events[0].strategy == toy.name
    assert isinstance(events[-1], RunFinished) and events[-1].stats.segments == 4


def test_the_cli_and_the_bench_know_it(toy, capsys):
    with backends.registered(scripted_backend()):
        cli.main(["run", "hi", "--strategy", toy.name, "--no-save", "--json", "--max-new-tokens", "8"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["type"] == "RunStarted" and lines[0]["strategy"] == toy.name
    assert lines[-1]["type"] == "RunFinished" and lines[-1]["stats"]["attempts"] == 2
    assert dict(parse_spec(f"{toy.name}:seg=4").overrides) == {"strategy": toy.name, "segment_tokens": 4}
    assert toy.name in decoding.names() and "first-of-two" in decoding.knobs()["strategy"].help
    assert decoding.strategy_fields(toy.name) == (  # what it reads, then what every strategy shows
        "segment_tokens", "temperature", "max_new_tokens", "top_p", "top_k", "seed")


def test_an_unknown_name_is_refused_where_a_bad_value_is():
    with pytest.raises(ParamError, match="strategy: must be one of stars, best-of-n, vanilla, cards, specrej"):
        decoding.get("greedy")


def test_a_strategy_a_backend_cannot_run_is_refused_before_anything_loads(toy):
    with pytest.raises(StarsError, match="unsure-toy cannot run on the vllm backend"):
        backends.check(ModelSpec(server=["http://127.0.0.1:9"]), [UNSURE_TOY.name])
    assert backends.check(ModelSpec(backend="worker"), [UNSURE_TOY.name]).name == "worker"
