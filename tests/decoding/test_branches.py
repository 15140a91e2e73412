"""Particle filtering (smc) and reward-guided beam search on the scripted fakes."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from fakes import ScriptedPolicy, ScriptedReward

from stars_engine.decoding.smc import effective_size, systematic, weights
from stars_engine.engine import run
from stars_engine.errors import ParamError
from stars_engine.events import ACCEPTED, DROPPED, KEPT, AttemptScored, ParamsChanged
from stars_engine.params import Params

from .checks import check_stream
from .test_family import RecordingPolicy

MESSAGES = [{"role": "user", "content": "be kind and clear"}]


def attempts_of(events) -> list[AttemptScored]:
    return [e for e in events if isinstance(e, AttemptScored)]


def without_timing(events) -> list:
    """The events with what depends on the clock left out."""
    out = []
    for e in events:
        data = e.to_dict()
        data.pop("elapsed_ms", None)
        data.pop("started_at", None)
        if "stats" in data:
            data["stats"] = {k: v for k, v in data["stats"].items() if k != "wall_seconds"}
        out.append(data)
    return out


# -- the resampling arithmetic ---------------------------------------------------


def test_weights_are_a_softmax_and_the_ess_spans_one_to_n():
    w = weights([0.1, 0.2, 0.4], 0.1)
    assert sum(w) == pytest.approx(1.0)
    assert w[2] > w[1] > w[0]
    assert w[1] / w[0] == pytest.approx(2.718281828, rel=1e-6)  # e^(0.1 / 0.1)
    assert effective_size([0.25] * 4) == pytest.approx(4.0)
    assert effective_size([1.0, 0.0, 0.0]) == pytest.approx(1.0)
    assert weights([1000.0, 0.0], 0.01) == [1.0, 0.0]  # no overflow


@pytest.mark.parametrize("seed", range(20))
def test_systematic_resampling_draws_each_particle_floor_or_ceil_of_n_times_its_weight(seed):
    rng = random.Random(seed)
    raw = [rng.random() ** 3 for _ in range(7)]
    w = [x / sum(raw) for x in raw]
    drawn = systematic(w, random.Random(seed))
    counts = Counter(drawn)
    assert len(drawn) == 7 and drawn == sorted(drawn)
    for i, weight in enumerate(w):
        assert int(7 * weight) <= counts[i] <= int(7 * weight) + 1


# -- smc --------------------------------------------------------------------------


def test_smc_without_resampling_keeps_every_particle_in_its_row():
    params = Params(strategy="smc", seed=2, particles=5, segment_tokens=3, max_new_tokens=12, ess_threshold=0.0)
    policy = RecordingPolicy()
    events = list(run(policy, ScriptedReward(), MESSAGES, params))
    check_stream(events, params)
    assert [rows for kind, rows in policy.log if kind == "keep"] == [[0, 1, 2, 3, 4]] * 3
    attempts = attempts_of(events)
    assert not any(a.verdict == DROPPED for a in attempts)
    assert [sum(a.round == r for a in attempts) for r in range(4)] == [5] * 4


def test_smc_resampling_duplicates_a_branch_and_the_copies_grow_apart():
    """A sharp softmax and ESS threshold 1: the best particles are drawn several times (``keep`` with a
    repeated row); each copy grows on from the same text, into different texts."""
    params = Params(strategy="smc", seed=5, particles=6, segment_tokens=3, max_new_tokens=12,
                    smc_temperature=0.05, ess_threshold=1.0)
    policy = RecordingPolicy()
    events = list(run(policy, ScriptedReward(), MESSAGES, params))
    check_stream(events, params)
    log = policy.log
    repeated = 0
    for (_, before), (kind, rows), (_, after) in zip(log[0::2], log[1::2], log[2::2]):
        assert kind == "keep" and len(rows) == len(after) == 6
        for row, text in zip(rows, after):
            assert text.startswith(before[row]) and len(text) > len(before[row])
        for row in {r for r in rows if rows.count(r) > 1}:
            copies = [text for r, text in zip(rows, after) if r == row]
            assert len(set(copies)) == len(copies)  # the copies sampled apart
            repeated += 1
    assert repeated
    attempts = attempts_of(events)
    # a round's kept attempts are its distinct ancestors: those the rows of the next keep name
    keeps = [rows for kind, rows in log if kind == "keep"]
    for r, rows in enumerate(keeps):
        assert sum(a.round == r and a.verdict == KEPT for a in attempts) == len(set(rows))
        assert sum(a.round == r and a.verdict == DROPPED for a in attempts) == 6 - len(set(rows))


def test_smc_seeds_reproduce_and_differ():
    def events(seed):
        params = Params(strategy="smc", seed=seed, particles=4, segment_tokens=3, max_new_tokens=12,
                        smc_temperature=0.05, ess_threshold=1.0)
        return without_timing(run(ScriptedPolicy(), ScriptedReward(), MESSAGES, params))

    assert events(11) == events(11)
    assert events(11) != events(12)


def test_smc_temperature_and_ess_change_mid_run_and_the_particle_count_stays():
    current = {"p": Params(strategy="smc", seed=3, particles=4, segment_tokens=3, max_new_tokens=12)}

    def source():
        return current["p"]

    events = []
    for event in run(ScriptedPolicy(), ScriptedReward(), MESSAGES, source):
        events.append(event)
        if isinstance(event, AttemptScored) and event.round == 0:
            current["p"] = current["p"].with_changes(smc_temperature=0.5, ess_threshold=0.0, particles=9)
    changes = [e for e in events if isinstance(e, ParamsChanged)]
    assert len(changes) == 1
    assert changes[0].changes == {"smc_temperature": [0.1, 0.5], "ess_threshold": [0.5, 0.0]}
    assert all(sum(a.round == r for a in attempts_of(events)) <= 4 for r in range(4))
    check_stream(events, Params(strategy="smc", seed=3, particles=4, segment_tokens=3, max_new_tokens=12))


def test_smc_finished_particles_are_carried_and_the_best_finished_wins():
    params = Params(strategy="smc", seed=9, particles=5, segment_tokens=4, max_new_tokens=20, ess_threshold=1.0,
                    smc_temperature=0.05)
    events = list(run(ScriptedPolicy(eos_after=7), ScriptedReward(), MESSAGES, params))
    check_stream(events, params)
    finished = events[-1]
    assert finished.stop_reason == "eos"
    winner = next(a for a in attempts_of(events) if a.verdict == ACCEPTED)
    assert winner.eos and winner.text == finished.text


# -- beam -------------------------------------------------------------------------


def test_beam_keeps_the_best_width_and_expands_each_into_several():
    params = Params(strategy="beam", seed=4, beam_width=2, beam_expansions=3, segment_tokens=3, max_new_tokens=12)
    policy = RecordingPolicy()
    events = list(run(policy, ScriptedReward(), MESSAGES, params))
    check_stream(events, params)
    attempts = attempts_of(events)
    keeps = [rows for kind, rows in policy.log if kind == "keep"]
    assert len(keeps) == 3
    for r, rows in enumerate(keeps):
        mine = [a for a in attempts if a.round == r]
        assert len(mine) == 6
        kept = sorted((a for a in mine if a.verdict == KEPT), key=lambda a: -a.reward)
        assert len(kept) == 2 and len(rows) == 6
        assert all(a.reward <= kept[-1].reward for a in mine if a.verdict == DROPPED)
        assert all(a.threshold == kept[-1].reward for a in mine)
        assert sorted(Counter(rows).values()) == [3, 3]  # each beam repeated W times


def test_beam_segment_length_is_pinned_for_the_run():
    current = {"p": Params(strategy="beam", seed=4, beam_width=2, beam_expansions=2, segment_tokens=3,
                           max_new_tokens=12)}

    def source():
        return current["p"]

    events = []
    for event in run(ScriptedPolicy(), ScriptedReward(), MESSAGES, source):
        events.append(event)
        if isinstance(event, AttemptScored):
            current["p"] = current["p"].with_changes(segment_tokens=5, beam_width=4, temperature=0.5)
    changes = [e for e in events if isinstance(e, ParamsChanged)]
    assert [c.changes for c in changes] == [{"temperature": [0.8, 0.5]}]
    assert all(a.tokens == 3 for a in attempts_of(events))


def test_beam_seeds_reproduce():
    params = Params(strategy="beam", seed=21, beam_width=2, beam_expansions=2, segment_tokens=3, max_new_tokens=9)
    a = without_timing(run(ScriptedPolicy(), ScriptedReward(), MESSAGES, params))
    b = without_timing(run(ScriptedPolicy(), ScriptedReward(), MESSAGES, params))
    assert a == b


@pytest.mark.parametrize("field, value", [("particles", 0), ("particles", 65), ("smc_temperature", 0.0),
                                          ("ess_threshold", 1.5), ("beam_width", 0), ("beam_expansions", 17)])
def test_bad_values_are_refused_with_the_field_named(field, value):
    with pytest.raises(ParamError, match=field):
        Params(strategy="smc", **{field: value})


# -- bench specs and plot markers ---------------------------------------------------


def test_bench_specs_name_smc_and_beam_by_their_short_keys():
    from stars_engine.bench.strategies import parse_specs
    from stars_engine.errors import StarsError

    smc, beam = parse_specs("smc:particles=4:T=0.2:ess=1:seg=8, beam:width=3:expand=2:seg=4", Params())
    p = smc.params(Params(), seed=3)
    assert (p.strategy, p.particles, p.smc_temperature, p.ess_threshold, p.segment_tokens) == ("smc", 4, 0.2, 1.0, 8)
    q = beam.params(Params(), seed=3)
    assert (q.strategy, q.beam_width, q.beam_expansions, q.segment_tokens, q.seed) == ("beam", 3, 2, 4, 3)
    with pytest.raises(StarsError, match="ess_threshold: must be between"):
        parse_specs("smc:ess=2", Params())
    with pytest.raises(StarsError, match="beam_width: must be between"):
        parse_specs("beam:width=0", Params())


def test_every_strategy_has_a_marker_on_the_frontier_plot():
    from stars_engine import decoding
    from stars_engine.bench.plot import STYLE

    assert set(decoding.names()) <= set(STYLE)
