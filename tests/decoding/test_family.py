"""CARDS, Speculative Rejection and ``candidates_per_round = auto`` on the scripted fakes."""

from __future__ import annotations

import math

import pytest
from fakes import ScriptedPolicy, ScriptedReward, scripted_entropy

from stars_engine.decoding.adaptive import adaptive_k
from stars_engine.decoding.cards import cards_start
from stars_engine.decoding.specrej import kept_count
from stars_engine.engine import run
from stars_engine.errors import ParamError
from stars_engine.events import (
    ACCEPTED,
    KEPT,
    PRUNED,
    REJECTED,
    AttemptScored,
    RunFinished,
    RunStarted,
    SegmentAccepted,
)
from stars_engine.params import Params, parse_value

from .checks import check_stream

MESSAGES = [{"role": "user", "content": "be kind and clear"}]


def attempts_of(events) -> list[AttemptScored]:
    return [e for e in events if isinstance(e, AttemptScored)]


# -- candidates_per_round = auto ------------------------------------------------


def test_auto_k_is_the_smallest_k_that_reaches_the_target():
    assert adaptive_k(0, 0, 8) == 4  # p = 1/2: 1 - 0.5^4 = 0.94 >= 0.9 > 1 - 0.5^3
    assert adaptive_k(8, 8, 8) == 1  # p = 0.9
    assert adaptive_k(0, 10, 8) == 8  # p = 1/12 would want 27: capped by the attempts left
    assert adaptive_k(0, 10, 3) == 3
    for accepted, judged in [(1, 1), (3, 3), (2, 10), (5, 9)]:
        p = (accepted + 1) / (judged + 2)
        k = adaptive_k(accepted, judged, 1000)
        assert 1 - (1 - p) ** k >= 0.9 > 1 - (1 - p) ** (k - 1) or k == 1


def test_auto_k_shrinks_rounds_as_acceptance_stays_high():
    params = Params(seed=3, threshold=-1.0, threshold_mode="fixed", candidates_per_round="auto",
                    segment_tokens=2, max_new_tokens=24)
    events = list(run(ScriptedPolicy(), ScriptedReward(), MESSAGES, params))
    check_stream(events, params)
    per_segment = [sum(a.segment == s for a in attempts_of(events)) for s in range(12)]
    assert per_segment[0] == 4 and per_segment[-1] == 1  # everything passes: 4 candidates, then 1
    assert per_segment == sorted(per_segment, reverse=True)


def test_auto_is_read_from_text_and_a_bad_word_is_refused():
    assert parse_value("candidates_per_round", " Auto ") == "auto"
    assert parse_value("candidates_per_round", "3") == 3
    with pytest.raises(ParamError, match="or 'auto'"):
        parse_value("candidates_per_round", "many")
    with pytest.raises(ParamError, match="candidates_per_round"):
        Params(candidates_per_round="many")


# -- CARDS ----------------------------------------------------------------------


@pytest.mark.parametrize("threshold, least, most", [(3.0, 4, 64), (2.0, 1, 5), (3.6, 2, 7), (9.0, 1, 6)])
def test_cards_cuts_at_the_entropy_threshold_within_min_and_max(threshold, least, most):
    params = Params(strategy="cards", seed=1, entropy_threshold=threshold, min_segment_tokens=least,
                    max_segment_tokens=most, max_new_tokens=40, max_attempts=3, threshold=0.2)
    events = list(run(ScriptedPolicy(), ScriptedReward(), MESSAGES, params))
    check_stream(events, params)
    start = 0  # reply tokens before the segment being drawn
    for event in events:
        if isinstance(event, SegmentAccepted):
            start += event.tokens
        if not isinstance(event, AttemptScored):
            continue
        budget = min(most, params.max_new_tokens - start)
        assert event.tokens <= budget
        passed = range(start + min(least, budget), start + event.tokens)
        unsure = [p for p in passed if scripted_entropy(p) >= threshold]
        assert not unsure  # never went past a place it should have cut
        if event.cut_entropy is not None:
            assert event.tokens >= least
            assert event.cut_entropy == scripted_entropy(start + event.tokens) >= threshold
        else:
            assert event.tokens == budget or event.eos
    cuts = [a for a in attempts_of(events) if a.cut_entropy is not None]
    assert bool(cuts) == (threshold < 9.0)  # the scripted entropies reach 4.0 at most


def test_cards_schedule_starts_between_the_empty_reward_and_the_target():
    params = Params(strategy="cards", seed=2, alpha=0.5, threshold=0.6, max_new_tokens=30, max_attempts=1)
    events = list(run(ScriptedPolicy(), ScriptedReward(), MESSAGES, params))
    started = events[0]
    assert isinstance(started, RunStarted) and started.baseline_reward == 0.0
    start = cards_start(params, started.baseline_reward)
    assert start == pytest.approx(0.3)
    taus = [a.threshold for a in attempts_of(events)]
    assert all(start < t <= 0.6 for t in taus) and taus == sorted(taus)


def test_cards_draws_one_candidate_per_round_and_takes_the_best_when_attempts_run_out():
    params = Params(strategy="cards", seed=5, threshold=5.0, threshold_mode="fixed", max_attempts=21,
                    candidates_per_round=4, max_new_tokens=12)
    events = list(run(ScriptedPolicy(), ScriptedReward(), MESSAGES, params))
    check_stream(events, params)
    segments = [e for e in events if isinstance(e, SegmentAccepted)]
    assert segments and all(s.exhausted and s.attempts == 21 for s in segments)


# -- Speculative Rejection ------------------------------------------------------


class RecordingPolicy(ScriptedPolicy):
    """The scripted policy, remembering every grow's branches and every keep."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.log: list[tuple[str, list]] = []

    def grow(self, max_tokens, sampling, cancel=None):
        out = super().grow(max_tokens, sampling, cancel)
        self.log.append(("grow", [c.text for c in out]))
        return out

    def keep(self, rows):
        super().keep(rows)
        self.log.append(("keep", list(rows)))


@pytest.mark.parametrize("n, fraction, eos_after", [(8, 0.5, None), (7, 0.3, None), (6, 0.75, 9), (5, 0.0, None)])
def test_specrej_keeps_ceil_of_the_pool_each_round_and_pruned_rows_never_come_back(n, fraction, eos_after):
    params = Params(strategy="specrej", seed=4, initial_n=n, prune_fraction=fraction, decision_tokens=3,
                    max_new_tokens=15)
    policy = RecordingPolicy(eos_after=eos_after)
    events = list(run(policy, ScriptedReward(), MESSAGES, params))
    check_stream(events, params)
    attempts = attempts_of(events)
    assert sum(a.round == 0 for a in attempts) == n  # the first round reports every reply as it grew
    last = max(a.round for a in attempts)
    pool = n
    for r in range(last):
        pruned = sum(a.round == r and a.verdict == PRUNED for a in attempts)
        kept = sum(a.round == r and a.verdict == KEPT for a in attempts)
        assert pool - pruned == kept == kept_count(pool, fraction) == math.ceil((1 - fraction) * pool)
        pool -= pruned
    assert sum(a.round == last and a.verdict in (ACCEPTED, REJECTED) for a in attempts) == pool
    assert not any(a.verdict == PRUNED and a.round == last for a in attempts) or last == 0
    # a kept branch grows on from its own text; the others are never extended again
    for (kind, rows), (_, before), (_, after) in zip(policy.log[1::2], policy.log[0::2], policy.log[2::2]):
        assert kind == "keep" and len(after) == len(rows)
        assert all(a.startswith(before[i]) and len(a) > len(before[i]) for i, a in zip(rows, after))


def test_specrej_pruned_replies_are_counted_in_tokens_generated():
    params = Params(strategy="specrej", seed=8, initial_n=8, prune_fraction=0.5, decision_tokens=4,
                    max_new_tokens=16)
    events = list(run(ScriptedPolicy(), ScriptedReward(), MESSAGES, params))
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    attempts = attempts_of(events)
    pruned = [(a.round, a.tokens) for a in attempts if a.verdict == PRUNED]
    assert pruned == [(0, 4)] * 4 + [(1, 4)] * 2 + [(2, 4)]  # 8 -> 4 -> 2 -> 1 live, 4 tokens a round
    assert [sum(a.round == r and a.verdict == KEPT for a in attempts) for r in range(3)] == [4, 2, 1]
    # an attempt's text is its reply so far: a kept reply's next attempt grows on from it
    texts = {r: [a.text for a in attempts if a.round == r and a.verdict == KEPT] for r in range(3)}
    assert all(any(t.startswith(before) for before in texts[0]) for t in texts[1])
    assert finished.stats.tokens_generated == 4 * 4 + 2 * 8 + 12 + 16
    assert finished.stats.tokens_accepted == 16
    assert all(a.threshold is not None for a in attempts if a.verdict in (PRUNED, KEPT))


def test_specrej_without_pruning_is_best_of_n():
    """prune_fraction 0 keeps everyone: the same replies as best-of-n with the same seed."""
    spec = Params(strategy="specrej", seed=6, initial_n=4, prune_fraction=0.0, decision_tokens=3, max_new_tokens=9)
    bon = Params(strategy="best-of-n", seed=6, best_of_n=4, max_new_tokens=9)
    a = list(run(ScriptedPolicy(), ScriptedReward(), MESSAGES, spec))
    b = list(run(ScriptedPolicy(), ScriptedReward(), MESSAGES, bon))
    assert a[-1].stats.tokens_generated == b[-1].stats.tokens_generated == 36
    assert a[-1].stats.policy_forward_passes == b[-1].stats.policy_forward_passes


def test_attempts_carry_cut_entropy_and_round_only_where_set():
    """Other strategies' attempts export as they did before these fields existed; the family's round-trip."""
    from stars_engine.events import event_from_dict

    for strategy in ("stars", "cards", "specrej", "smc", "beam"):
        params = Params(strategy=strategy, seed=1, max_new_tokens=12, min_segment_tokens=2, decision_tokens=3)
        for a in attempts_of(run(ScriptedPolicy(), ScriptedReward(), MESSAGES, params)):
            data = a.to_dict()
            assert ("cut_entropy" in data) == (a.cut_entropy is not None)
            assert ("round" in data) == (a.round is not None) == (strategy in ("specrej", "smc", "beam"))
            assert event_from_dict(data) == a
