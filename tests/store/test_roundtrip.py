"""Record -> replay -> export -> import on real SQLite files, with scripted models (fast)."""

from __future__ import annotations

import csv
import json
import sqlite3

import pytest
from fakes import ScriptedPolicy, ScriptedReward

from stars_engine.engine import run
from stars_engine.events import AttemptScored, ParamsChanged, RunFinished, RunStarted
from stars_engine.params import Params
from stars_engine.store import Recorder, export_run, export_session, import_jsonl, open_store

from .helpers import record_fake


@pytest.mark.parametrize("strategy", ["stars", "vanilla", "best-of-n", "cards", "specrej", "smc", "beam"])
def test_replay_equals_the_recorded_stream(tmp_path, strategy):
    db = tmp_path / "s.db"
    recorder, events = record_fake(db, strategy=strategy, decision_tokens=3, min_segment_tokens=2)
    attempts = [e for e in events if isinstance(e, AttemptScored)]
    if strategy == "cards":  # the entropy that cut a segment is kept
        assert any(a.cut_entropy is not None for a in attempts)
    if strategy == "specrej":  # and the round a reply was pruned in
        assert any(a.verdict == "pruned" and a.round is not None for a in attempts)
    with open_store(db) as store:
        assert store.run_events(recorder.run_id) == events
        assert store.get_run(recorder.run_id).status == "finished"
        assert store.get_run(recorder.run_id).attempts == sum(isinstance(e, AttemptScored) for e in events)


def test_params_changed_mid_run_is_replayed_in_place(tmp_path):
    calls = []

    def source() -> Params:
        calls.append(1)
        threshold = 0.1 if len(calls) < 3 else 0.3
        return Params(segment_tokens=2, max_new_tokens=10, seed=3, threshold=threshold, threshold_mode="fixed")

    recorder = Recorder(tmp_path / "s.db")
    events = list(recorder.record(run(ScriptedPolicy(), ScriptedReward(), [{"role": "user", "content": "hi"}], source)))
    assert any(isinstance(e, ParamsChanged) for e in events)
    with open_store(tmp_path / "s.db") as store:
        assert store.run_events(recorder.run_id) == events


def test_second_turn_joins_the_session_and_stores_each_turn_once(tmp_path):
    db = tmp_path / "s.db"
    first, events = record_fake(db, "be kind")
    reply = events[-1].text
    history = [{"role": "user", "content": "be kind"}, {"role": "assistant", "content": reply}]
    second, _ = record_fake(db, "and clear too", session_id=first.session_id, history=history)
    assert second.session_id == first.session_id
    with open_store(db) as store:
        messages = store.messages_of(first.session_id)
        runs = store.runs_of(first.session_id)
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[2].content == "and clear too"
    assert [r.turn for r in runs] == [0, 1] and runs[1].prompt == "and clear too"


def test_a_stream_abandoned_by_its_reader_reads_as_interrupted(tmp_path):
    db = tmp_path / "s.db"
    recorder = Recorder(db)
    stream = recorder.record(run(ScriptedPolicy(), ScriptedReward(), [{"role": "user", "content": "x"}], Params()))
    for event in stream:
        if isinstance(event, AttemptScored):
            break
    stream.close()
    with open_store(db) as store:
        run_info = store.get_run(recorder.run_id)
        replayed = store.run_events(recorder.run_id)
    assert run_info.status == "interrupted"
    assert isinstance(replayed[0], RunStarted) and len(replayed) == 2


def test_a_failed_run_keeps_its_message(tmp_path):
    db = tmp_path / "s.db"
    recorder = Recorder(db)
    events = list(
        recorder.record(
            run(ScriptedPolicy(), ScriptedReward(fail_after=2), [{"role": "user", "content": "x"}], Params())
        )
    )
    with open_store(db) as store:
        info = store.get_run(recorder.run_id)
        assert store.run_events(recorder.run_id) == events
    assert info.status == "failed" and info.error == "reward model exploded"


def _session_with_every_kind_of_run(db):
    first, events = record_fake(db, "be kind")
    history = [{"role": "user", "content": "be kind"}, {"role": "assistant", "content": events[-1].text}]
    record_fake(db, "and clear", session_id=first.session_id, history=history, strategy="best-of-n")
    stream = Recorder(db, session_id=first.session_id).record(
        run(ScriptedPolicy(), ScriptedReward(), [{"role": "user", "content": "<b>cut</b> & 'go'"}], Params())
    )
    next(stream), next(stream)
    stream.close()
    return first.session_id


def test_export_import_export_is_the_identity(tmp_path):
    session_id = _session_with_every_kind_of_run(tmp_path / "a.db")
    with open_store(tmp_path / "a.db") as store:
        export_session(store, session_id, "jsonl", tmp_path / "a.jsonl")
    with open_store(tmp_path / "b.db") as store:
        assert import_jsonl(store, tmp_path / "a.jsonl") == [session_id]
        export_session(store, session_id, "jsonl", tmp_path / "b.jsonl")
        assert [r.status for r in store.runs_of(session_id)] == ["finished", "finished", "interrupted"]
    assert (tmp_path / "b.jsonl").read_text() == (tmp_path / "a.jsonl").read_text()


def test_importing_the_same_session_twice_is_refused_and_adds_nothing(tmp_path):
    session_id = _session_with_every_kind_of_run(tmp_path / "a.db")
    with open_store(tmp_path / "a.db") as store:
        export_session(store, session_id, None, tmp_path / "a.jsonl")
        with pytest.raises(Exception, match="already in"):
            import_jsonl(store, tmp_path / "a.jsonl")
        assert len(store.runs_of(session_id)) == 3


def test_fts_finds_a_word_of_a_recorded_reply_and_of_a_prompt(tmp_path):
    db = tmp_path / "s.db"
    recorder, events = record_fake(db, "tell me about zeppelins")
    word = events[-1].text.split()[0]
    with open_store(db) as store:
        assert {h.run_id for h in store.search(word)} == {recorder.run_id}
        assert [h.role for h in store.search("ZEPPELINS")] == ["user"]
        assert store.search('"unbalanced AND (') == []


def test_delete_removes_every_row_of_the_session_only(tmp_path):
    db = tmp_path / "s.db"
    keep, _ = record_fake(db, "keep me")
    gone, _ = record_fake(db, "delete me")
    with open_store(db) as store:
        store.delete_session(gone.session_id)
        assert [s.id for s in store.list_sessions()] == [keep.session_id]
        assert store.search("delete") == []
    conn = sqlite3.connect(db)
    for table, column in (
        ("runs", "id"),
        ("attempts", "run_id"),
        ("segments", "run_id"),
        ("messages", "run_id"),
    ):
        owners = {r[0] for r in conn.execute(f"SELECT DISTINCT {column} FROM {table}")}
        assert owners == {keep.run_id}, table


def test_csv_has_one_row_per_attempt_and_html_escapes_model_text(tmp_path):
    db = tmp_path / "s.db"
    recorder, events = record_fake(db, "<script>alert(1)</script>")
    attempts = [e for e in events if isinstance(e, AttemptScored)]
    with open_store(db) as store:
        export_run(store, recorder.run_id, None, tmp_path / "r.csv")
        export_run(store, recorder.run_id, None, tmp_path / "r.html")
        export_run(store, recorder.run_id, None, tmp_path / "r.md")
    rows = list(csv.DictReader((tmp_path / "r.csv").open(newline="")))
    assert len(rows) == len(attempts)
    assert [(r["text"], float(r["reward"])) for r in rows] == [(a.text, a.reward) for a in attempts]
    page = (tmp_path / "r.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count('class="accepted"') == sum(a.verdict == "accepted" for a in attempts)
    markdown = (tmp_path / "r.md").read_text()
    assert events[-1].text.strip().split()[0] in markdown and "<details>" in markdown


def test_jsonl_lines_are_the_events_after_a_session_and_a_run_line(tmp_path):
    db = tmp_path / "s.db"
    recorder, events = record_fake(db)
    with open_store(db) as store:
        export_run(store, recorder.run_id, "jsonl", tmp_path / "r.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [line["type"] for line in lines[:2]] == ["session", "run"]
    assert lines[2:] == [e.to_dict() for e in events]
    assert isinstance(events[-1], RunFinished)
