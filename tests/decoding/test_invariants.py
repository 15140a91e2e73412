"""Algorithm invariants on a scripted policy and reward (no torch), property-based."""

from __future__ import annotations

import threading

from fakes import ScriptedPolicy, ScriptedReward
from hypothesis import given, settings
from hypothesis import strategies as st

from stars_engine.decoding.stars import scheduled_threshold
from stars_engine.engine import run
from stars_engine.events import (
    ACCEPTED,
    NOT_NEEDED,
    REJECTED,
    AttemptScored,
    ParamsChanged,
    RunFailed,
    RunFinished,
    RunStarted,
    SegmentAccepted,
)
from stars_engine.params import Params

from .checks import check_stream

MESSAGES = [{"role": "user", "content": "be kind and clear"}]

params_strategy = st.builds(
    Params,
    strategy=st.sampled_from(["stars", "vanilla", "best-of-n", "cards", "specrej", "smc", "beam"]),
    segment_tokens=st.integers(1, 6),
    threshold=st.floats(0.0, 0.8),
    threshold_mode=st.sampled_from(["schedule", "fixed"]),
    acceptance=st.sampled_from(["hard", "soft"]),
    beta=st.floats(0.01, 1.0),
    max_attempts=st.integers(1, 6),
    candidates_per_round=st.one_of(st.integers(1, 4), st.just("auto")),
    best_of_n=st.integers(1, 5),
    entropy_threshold=st.floats(0.5, 4.5),
    min_segment_tokens=st.integers(1, 4),
    max_segment_tokens=st.integers(4, 9),
    alpha=st.floats(0.0, 1.0),
    initial_n=st.integers(1, 6),
    prune_fraction=st.floats(0.0, 0.9),
    decision_tokens=st.integers(1, 6),
    particles=st.integers(1, 6),
    smc_temperature=st.floats(0.01, 2.0),
    ess_threshold=st.floats(0.0, 1.0),
    beam_width=st.integers(1, 3),
    beam_expansions=st.integers(1, 3),
    max_new_tokens=st.integers(1, 20),
    seed=st.integers(0, 10_000),
)


@settings(max_examples=300, deadline=None)
@given(params=params_strategy, eos_after=st.one_of(st.none(), st.integers(1, 25)))
def test_every_run_satisfies_the_invariants(params, eos_after):
    events = list(run(ScriptedPolicy(eos_after=eos_after), ScriptedReward(), MESSAGES, params))
    check_stream(events, params)


def test_exhausted_segment_takes_the_best_attempt():
    params = Params(seed=4, threshold=5.0, threshold_mode="fixed", max_attempts=5,
                    candidates_per_round=2, segment_tokens=3, max_new_tokens=9)
    events = list(run(ScriptedPolicy(), ScriptedReward(), MESSAGES, params))
    accepted = [e for e in events if isinstance(e, SegmentAccepted)]
    assert accepted and all(e.exhausted for e in accepted)
    for seg in accepted:
        rewards = [e.reward for e in events if isinstance(e, AttemptScored) and e.segment == seg.segment]
        assert len(rewards) == 5
        assert seg.reward == max(rewards)
    assert all(e.verdict == REJECTED for e in events if isinstance(e, AttemptScored))


def test_schedule_rises_from_baseline_to_target():
    params = Params(threshold=0.9, threshold_mode="schedule", max_new_tokens=100)
    values = [scheduled_threshold(params, -0.2, t) for t in (0, 25, 50, 100, 150)]
    assert values[0] == -0.2
    assert values == sorted(values)
    assert abs(values[2] - 0.35) < 1e-9
    assert values[3] == values[4] == 0.9
    fixed = Params(threshold=0.9, threshold_mode="fixed")
    assert scheduled_threshold(fixed, -0.2, 0) == 0.9


def test_thresholds_in_a_run_follow_the_schedule():
    params = Params(seed=1, threshold=0.6, max_attempts=1, segment_tokens=4, max_new_tokens=20)
    events = list(run(ScriptedPolicy(), ScriptedReward(), MESSAGES, params))
    started = events[0]
    assert isinstance(started, RunStarted)
    taus = [e.threshold for e in events if isinstance(e, AttemptScored)]
    assert taus == sorted(taus) and taus[-1] == 0.6 and taus[0] > started.baseline_reward


def test_params_change_takes_effect_at_the_next_segment_only():
    """The source changes while segment 1 is being drawn: segment 1 keeps the old size."""
    current = {"p": Params(seed=2, segment_tokens=2, max_new_tokens=30, max_attempts=1)}
    events = []
    for event in run(ScriptedPolicy(), ScriptedReward(), MESSAGES, lambda: current["p"]):
        events.append(event)
        if isinstance(event, AttemptScored) and event.segment == 1:
            current["p"] = current["p"].with_changes(segment_tokens=5, strategy="vanilla", seed=99)
    changes = [e for e in events if isinstance(e, ParamsChanged)]
    assert len(changes) == 1 and changes[0].segment == 2
    assert changes[0].changes == {"segment_tokens": [2, 5]}  # run-level fields stay pinned
    sizes = [e.tokens for e in events if isinstance(e, SegmentAccepted)]
    assert sizes[:2] == [2, 2] and set(sizes[2:-1]) == {5}
    check_stream(events, Params(seed=2, segment_tokens=2, max_new_tokens=30, max_attempts=1))


def test_cancel_ends_the_run_with_cancelled():
    cancel = threading.Event()
    events = []
    for event in run(ScriptedPolicy(), ScriptedReward(), MESSAGES, Params(seed=1, max_new_tokens=500), cancel):
        events.append(event)
        if isinstance(event, SegmentAccepted) and event.segment == 1:
            cancel.set()
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.stop_reason == "cancelled"
    assert finished.stats.segments == 2


def test_a_reward_that_raises_ends_in_one_run_failed():
    events = list(run(ScriptedPolicy(), ScriptedReward(fail_after=3), MESSAGES, Params(seed=1)))
    assert isinstance(events[-1], RunFailed)
    assert events[-1].message == "reward model exploded"
    assert not any(isinstance(e, RunFinished) for e in events)


def test_first_passing_candidate_in_sampling_order_wins():
    params = Params(seed=7, threshold=0.0, threshold_mode="fixed", candidates_per_round=4, max_new_tokens=8)
    events = list(run(ScriptedPolicy(), ScriptedReward(), MESSAGES, params))
    for seg in {e.segment for e in events if isinstance(e, AttemptScored)}:
        verdicts = [e.verdict for e in events if isinstance(e, AttemptScored) and e.segment == seg]
        assert verdicts[0] == ACCEPTED and set(verdicts[1:]) <= {NOT_NEEDED}
