"""A comparison on the real default models: two columns decoded through the engine's ``Comparison``
and recorded as ``stars compare`` records them, linked by ``record_comparison``, exported side by side
and imported back whole."""

from __future__ import annotations

import re

import pytest

from stars_engine.bench.heldout import build_judges
from stars_engine.store import export_session, import_jsonl, open_store
from stars_engine.store.comparisons import comparison_events, load_comparison

from .helpers import record_compared

pytestmark = pytest.mark.real


def test_a_real_comparison_is_recorded_exported_side_by_side_and_imported_back(tmp_path, real_policy, real_reward):
    db = tmp_path / "a.db"
    judges = build_judges(["rubric"], real_policy, real_reward)
    comparison_id, session_id, engine_side = record_compared(
        db, real_policy, real_reward, "vanilla,stars:seg=8", "Give one tip for sleeping better.",
        base_seed=2, max_new_tokens=16, judges=judges)
    outcomes = engine_side.outcomes
    assert [o.error for o in outcomes] == [None, None]
    assert all(any(ch.isalpha() for ch in o.text) and 0 < o.stats.tokens_accepted <= 16 for o in outcomes)

    with open_store(db) as store:
        recorded = load_comparison(store, comparison_id)
        events = comparison_events(store, recorded)
        export_session(store, session_id, "jsonl", tmp_path / "a.jsonl")
        export_session(store, session_id, "md", tmp_path / "a.md")
    assert [(c.spec, c.run.id, c.run.final_text) for c in recorded.columns] == [
        (o.column.spec.label, o.run_id, o.text) for o in outcomes]
    assert [c.run.comparison_column for c in recorded.columns] == [0, 1]
    assert [what for what, _ in recorded.winners()] == ["guide reward", "rubric judge"]
    assert recorded.summary["columns"][1]["tokens_generated"] == outcomes[1].stats.tokens_generated
    reply_row = next(line for line in (tmp_path / "a.md").read_text().splitlines() if line.startswith("| reply |"))
    assert reply_row.count(" | ") == 2 and all(
        max(re.findall(r"[A-Za-z]+", o.text), key=len) in reply_row for o in outcomes)  # letters are never escaped

    with open_store(tmp_path / "b.db") as store:
        assert import_jsonl(store, tmp_path / "a.jsonl") == [session_id]
        assert load_comparison(store, comparison_id) == recorded
        assert comparison_events(store, recorded) == events
        export_session(store, session_id, "jsonl", tmp_path / "b.jsonl")
    assert (tmp_path / "b.jsonl").read_bytes() == (tmp_path / "a.jsonl").read_bytes()
