"""Preference pairs from recorded runs: which attempts pair up, at which prefix, and the gap filter."""

from __future__ import annotations

import json

import pytest

from stars_engine.engine import run
from stars_engine.events import (
    ACCEPTED,
    NOT_NEEDED,
    PRUNED,
    REJECTED,
    AttemptScored,
    RunFinished,
    RunStarted,
    RunStats,
    SegmentAccepted,
)
from stars_engine.params import Params
from stars_engine.store import Recorder, open_store
from stars_engine.store.export import session_bundle
from stars_engine.store.pairs import to_pairs

from .helpers import cli, record_events

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi"}]


def _attempt(segment: int, attempt: int, text: str, reward: float, verdict: str,
             threshold: float | None = 0.5) -> AttemptScored:
    return AttemptScored(segment=segment, attempt=attempt, text=text, tokens=2, reward=reward,
                         threshold=threshold, verdict=verdict, elapsed_ms=1.0)


def _run(strategy: str, *steps) -> list:
    started = RunStarted(strategy=strategy, params={}, messages=MESSAGES, policy_id="p", reward_id="r",
                         seed=1, prompt_tokens=3)
    return [started, *steps, RunFinished(text="", stop_reason="eos", stats=RunStats())]


def _pairs(tmp_path, events, min_gap=None) -> list[dict]:
    db = tmp_path / "p.db"
    recorder = record_events(db, events)
    with open_store(db) as store:
        text = to_pairs([session_bundle(store, recorder.session_id)], min_gap)
    return [json.loads(line) for line in text.splitlines()]


def test_segment_pairs_share_the_accepted_prefix(tmp_path):
    events = _run(
        "stars",
        _attempt(0, 0, "Hel", 0.2, REJECTED), _attempt(0, 1, "Hi", 0.7, ACCEPTED),
        _attempt(0, 2, "Yo", 0.1, NOT_NEEDED), _attempt(0, 3, "Hey", 0.9, NOT_NEEDED),
        SegmentAccepted(segment=0, text="Hi", reward=0.7, attempts=4, exhausted=False, threshold=0.5),
        _attempt(1, 0, " there", 0.8, ACCEPTED),
        SegmentAccepted(segment=1, text=" there", reward=0.8, attempts=1, exhausted=False, threshold=0.5),
    )
    pairs = _pairs(tmp_path, events)
    # the rejected try and the not-needed one under the bar; the not-needed one above it would have passed
    assert [(p["chosen"][0]["content"], p["rejected"][0]["content"]) for p in pairs] == [("Hi", "Hel"), ("Hi", "Yo")]
    assert all(p["prompt"] == MESSAGES and p["prefix"] == "" and p["segment"] == 0 for p in pairs)
    assert pairs[0]["chosen_reward"] == 0.7 and pairs[0]["rejected_reward"] == 0.2
    assert pairs[0]["strategy"] == "stars" and pairs[0]["chosen"][0]["role"] == "assistant"


def test_a_later_segment_carries_the_prefix_in_both_completions(tmp_path):
    events = _run(
        "stars",
        _attempt(0, 0, "Hi", 0.7, ACCEPTED),
        SegmentAccepted(segment=0, text="Hi", reward=0.7, attempts=1, exhausted=False, threshold=0.5),
        _attempt(1, 0, " you!", 0.3, REJECTED), _attempt(1, 1, " there", 0.8, ACCEPTED),
        SegmentAccepted(segment=1, text=" there", reward=0.8, attempts=2, exhausted=False, threshold=0.5),
    )
    (pair,) = _pairs(tmp_path, events)
    assert pair["prefix"] == "Hi" and pair["segment"] == 1
    assert pair["chosen"][0]["content"] == "Hi there" and pair["rejected"][0]["content"] == "Hi you!"


def test_an_exhausted_segment_has_no_pair(tmp_path):
    """No attempt passed: the one kept is only the least bad, not a preferred reply."""
    events = _run(
        "stars",
        _attempt(0, 0, "a", 0.3, REJECTED), _attempt(0, 1, "b", 0.4, REJECTED),
        SegmentAccepted(segment=0, text="b", reward=0.4, attempts=2, exhausted=True, threshold=0.5),
    )
    assert _pairs(tmp_path, events) == []


def test_whole_reply_runs_give_best_against_worst_and_skip_pruned(tmp_path):
    events = _run(
        "specrej",
        _attempt(0, 0, "cut short", 0.0, PRUNED, threshold=0.2),
        _attempt(0, 1, "good reply", 0.9, ACCEPTED, threshold=None),
        _attempt(0, 2, "fine reply", 0.5, REJECTED, threshold=None),
        _attempt(0, 3, "poor reply", 0.1, REJECTED, threshold=None),
        SegmentAccepted(segment=0, text="good reply", reward=0.9, attempts=4, exhausted=False),
    )
    (pair,) = _pairs(tmp_path, events)
    assert (pair["chosen"][0]["content"], pair["rejected"][0]["content"]) == ("good reply", "poor reply")
    assert pair["strategy"] == "specrej"


def test_min_gap_keeps_only_wide_pairs(tmp_path):
    events = _run(
        "stars",
        _attempt(0, 0, "x", 0.45, REJECTED), _attempt(0, 1, "y", 0.1, REJECTED), _attempt(0, 2, "z", 0.6, ACCEPTED),
        SegmentAccepted(segment=0, text="z", reward=0.6, attempts=3, exhausted=False, threshold=0.5),
    )
    assert len(_pairs(tmp_path, events)) == 2
    (wide,) = _pairs(tmp_path, events, min_gap=0.3)
    assert wide["rejected"][0]["content"] == "y"


def test_text_is_kept_literally_and_each_pair_is_one_line(tmp_path):
    odd = "a\u2028b\x85c [bold]x[/bold]\x1b[31m"
    events = _run(
        "stars",
        _attempt(0, 0, odd, 0.1, REJECTED), _attempt(0, 1, "ok", 0.9, ACCEPTED),
        SegmentAccepted(segment=0, text="ok", reward=0.9, attempts=2, exhausted=False, threshold=0.5),
    )
    db = tmp_path / "p.db"
    recorder = record_events(db, events)
    with open_store(db) as store:
        text = to_pairs([session_bundle(store, recorder.session_id)])
    assert text.count("\n") == 1 and len(text.splitlines()) == 1
    assert json.loads(text)["rejected"][0]["content"] == odd


def test_runs_taken_out_of_the_conversation_give_no_pairs(tmp_path, capsys):
    """A turn deleted (or edited) in the chat is not preference data: ``export -f pairs`` of the session, of
    the removed run and of ``--all`` leave its runs out and say how many; the other runs' pairs stay."""
    from stars_engine.store.turns import remove_turns

    def one_pair(text: str) -> list:
        return _run("stars", _attempt(0, 0, "bad", 0.1, REJECTED), _attempt(0, 1, text, 0.9, ACCEPTED),
                    SegmentAccepted(segment=0, text=text, reward=0.9, attempts=2, exhausted=False, threshold=0.5))

    db = tmp_path / "p.db"
    kept = Recorder(db, turn=0)
    list(kept.record(one_pair("kept")))
    gone = Recorder(db, session_id=kept.session_id, turn=1)
    list(gone.record(one_pair("gone")))
    with open_store(db) as store:
        assert len(to_pairs([session_bundle(store, kept.session_id)]).splitlines()) == 2
        assert remove_turns(store, kept.session_id, [1], "deleted") == 1
    for args, count in (([kept.session_id], 1), ([gone.run_id], 0), (["--all"], 1)):
        out = tmp_path / "pairs.jsonl"
        code, shown, err = cli(["export", *args, "-f", "pairs", "-o", str(out), "--force", "--db", str(db)], capsys)
        assert code == 0, err
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert [r["run"] for r in rows] == [kept.run_id] * count
        assert [r["chosen"][0]["content"] for r in rows] == ["kept"] * count
        assert "(1 removed run left out)" in shown


@pytest.mark.real
def test_real_runs_export_pairs_that_datasets_reads_as_preference_data(tmp_path, real_policy, real_reward, capsys):
    """A real Best-of-N and a real STARS run, exported with ``--all --format pairs``, load with
    ``datasets.load_dataset("json")`` with the columns TRL's conversational preference format needs."""
    import datasets  # a dev dependency, imported here so the fast tests do not pay for it
    db = tmp_path / "real.db"
    messages = [{"role": "user", "content": "Give me one tip for sleeping better."}]
    for params in (Params(strategy="best-of-n", best_of_n=3, max_new_tokens=16, seed=3),
                   Params(segment_tokens=4, max_new_tokens=16, threshold=0.3, threshold_mode="fixed",
                          candidates_per_round=2, max_attempts=4, seed=3)):
        recorder = Recorder(db, session_id=None)
        for _ in recorder.record(run(real_policy, real_reward, messages, params)):
            pass
    out = tmp_path / "pairs.jsonl"
    code, _, err = cli(["export", "--all", "--format", "pairs", "-o", str(out), "--db", str(db)], capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    whole = [r for r in rows if r["strategy"] == "best-of-n"]
    assert len(whole) == 1 and whole[0]["chosen_reward"] > whole[0]["rejected_reward"]
    assert all(r["rejected_reward"] < 0.3 <= r["chosen_reward"] for r in rows if r["strategy"] == "stars")
    table = datasets.load_dataset("json", data_files=str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert {"prompt", "chosen", "rejected"} <= set(table.column_names) and table.num_rows == len(rows)
    first = table[0]
    assert first["prompt"] == messages
    assert [m["role"] for m in first["chosen"]] == ["assistant"] == [m["role"] for m in first["rejected"]]
