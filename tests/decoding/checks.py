"""One checker of the event-stream invariants, shared by the scripted and the real-model tests."""

from __future__ import annotations

from stars_engine.events import (
    ACCEPTED,
    DROPPED,
    KEPT,
    NOT_NEEDED,
    PRUNED,
    REJECTED,
    AttemptScored,
    ParamsChanged,
    RunFinished,
    RunStarted,
    SegmentAccepted,
)
from stars_engine.params import Params


def check_stream(events, params: Params, attempts_limit: int | None = None) -> None:
    """Assert every invariant docs/ARCHITECTURE.md states of one run's events.

    ``attempts_limit``: the most attempts a segment may have, for a strategy this module does not know."""
    assert isinstance(events[0], RunStarted)
    finished = events[-1]
    assert isinstance(finished, RunFinished), finished
    assert sum(isinstance(e, (RunStarted, RunFinished)) for e in events) == 2
    attempts = [e for e in events if isinstance(e, AttemptScored)]
    segments = [e for e in events if isinstance(e, SegmentAccepted)]
    stats = finished.stats

    # reply = concatenation of accepted segments, in order
    assert finished.text == "".join(s.text for s in segments)
    assert [s.segment for s in segments] == list(range(len(segments)))
    # one AttemptScored per scored candidate; counts add up
    assert stats.attempts == len(attempts)
    assert stats.segments == len(segments)
    assert stats.tokens_generated == sum(a.tokens for a in attempts)
    assert stats.tokens_accepted == sum(s.tokens for s in segments)
    assert stats.tokens_discarded == stats.tokens_generated - stats.tokens_accepted
    assert stats.tokens_accepted <= max_new_tokens(events, params)
    judged = [a for a in attempts if a.verdict in (ACCEPTED, REJECTED)]
    if judged:
        rate = sum(a.verdict == ACCEPTED for a in judged) / len(judged)
        assert abs(stats.acceptance_rate - rate) < 1e-9
    if segments:
        assert stats.final_reward == segments[-1].reward
    population = BRANCHES.get(params.strategy, lambda p: 0)(params)
    rounds = [a.round for a in attempts]
    if population:  # each round reports each branch it grew, at most the population
        assert all(r is not None and rounds.count(r) <= population for r in rounds), rounds
        assert rounds == sorted(rounds)
    limit = attempts_limit or {"stars": params.max_attempts, "cards": params.max_attempts, "vanilla": 1,
                               "best-of-n": params.best_of_n}.get(params.strategy, population * len(set(rounds)))
    whole_replies = params.strategy == "best-of-n" or population  # one segment; the best reply standing wins
    for seg in segments:
        mine = [a for a in attempts if a.segment == seg.segment]
        assert [a.attempt for a in mine] == list(range(len(mine)))
        assert len(mine) == seg.attempts <= limit
        assert sum(a.verdict == ACCEPTED for a in mine) == (0 if seg.exhausted else 1)
        if seg.exhausted:
            assert all(a.verdict == REJECTED for a in mine)
            assert seg.reward == max(a.reward for a in mine)
        else:
            winner = next(a for a in mine if a.verdict == ACCEPTED)
            assert (winner.text, winner.reward) == (seg.text, seg.reward)
            if whole_replies:  # the best of the replies still standing wins; the others fell in earlier rounds
                assert winner.reward == max(a.reward for a in mine if a.verdict in (ACCEPTED, REJECTED))
                assert all(a.verdict in (REJECTED, PRUNED, KEPT, DROPPED) for a in mine if a is not winner)
                assert population or not any(a.verdict in (PRUNED, KEPT, DROPPED) for a in mine)
                assert params.strategy == "specrej" or not any(a.verdict == PRUNED for a in mine)
            else:  # candidates after the accepted one are never judged
                assert all(a.verdict == REJECTED for a in mine if a.attempt < winner.attempt)
                assert all(a.verdict == NOT_NEEDED for a in mine if a.attempt > winner.attempt)
        if params.strategy in ("stars", "cards") and not seg.exhausted:
            winner = next(a for a in mine if a.verdict == ACCEPTED)
            if params.acceptance == "hard":
                assert winner.reward >= winner.threshold
            assert all(a.reward < a.threshold for a in mine if a.verdict == REJECTED and params.acceptance == "hard")
    if finished.stop_reason == "eos":
        assert segments[-1].text is not None and any(a.eos for a in attempts)
    assert stats.reward_calls >= len(attempts)


BRANCHES = {  # the strategies on the policy's branches, and the most branches one round grows
    "specrej": lambda p: p.initial_n,
    "smc": lambda p: p.particles,
    "beam": lambda p: p.beam_width * p.beam_expansions,
}


def max_new_tokens(events, params: Params) -> int:
    """The largest max_new_tokens in force at any point of the run."""
    values = [params.max_new_tokens] + [
        e.changes["max_new_tokens"][1] for e in events if isinstance(e, ParamsChanged) and "max_new_tokens" in e.changes
    ]
    return max(values)
