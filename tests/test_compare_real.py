"""``stars compare`` on the real default models: both columns decode, land in the SQLite file, and the
held-out judges (the bench's chat judge and rubric) name a winner."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from stars_engine.store import open_store

pytestmark = pytest.mark.real


def test_compare_vanilla_and_bon2_records_both_runs_and_names_a_winner(tmp_path):
    db = tmp_path / "s.db"
    proc = subprocess.run(
        [sys.executable, "-m", "stars_tui", "compare", "Give me one tip for sleeping well.",
         "--strategies", "vanilla,bon-2", "--max-new-tokens", "16", "--seed", "4", "--json", "--db", str(db)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    *events, summary = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {(e["column"], e["spec"]) for e in events} == {(0, "vanilla"), (1, "bon-2")}
    finished = [e for e in events if e["type"] == "RunFinished"]
    assert sorted(e["column"] for e in finished) == [0, 1]  # each once; interleaved, either may end first
    finished.sort(key=lambda e: e["column"])
    assert all(any(ch.isalpha() for ch in e["text"]) for e in finished)
    assert summary["type"] == "CompareSummary" and summary["base_seed"] == 4
    columns = summary["columns"]
    assert [(c["spec"], c["seed"]) for c in columns] == [("vanilla", 4), ("bon-2", 5)]
    assert columns[1]["tokens_generated"] > columns[0]["tokens_generated"]  # two replies cost more than one
    with open_store(db) as store:
        (session,) = store.list_sessions()
        runs = store.runs_of(session.id)
    assert [r.id for r in runs] == [c["run_id"] for c in columns]
    assert [(r.strategy, r.status, r.final_text) for r in runs] == [
        ("vanilla", "finished", finished[0]["text"]), ("best-of-n", "finished", finished[1]["text"])]
    guide = summary["guide"]
    assert guide["spec"] in ("vanilla", "bon-2")  # two real-valued rewards: one is higher
    scores = {columns[int(i)]["spec"]: s for i, s in guide["scores"].items()}
    assert scores[guide["spec"]] == max(scores.values()) == columns[guide["winner"]]["guide_reward"]
    assert guide["cost"]["tokens_generated"] == columns[guide["winner"]]["tokens_generated"]
    assert set(summary["judges"]) == {"chat", "rubric"}
    for judged in summary["judges"].values():
        (pair,) = judged["pairs"]
        assert (pair["a"], pair["b"]) == (0, 1) and pair["outcome_for_a"] in ("win", "tie", "loss")
        result = judged["result"]
        # one pair: a win names its winner, a tie names both columns
        assert result["spec"] in ("vanilla", "bon-2") if pair["outcome_for_a"] != "tie" else result["winner"] is None


def test_a_seed_gives_each_column_the_same_reply_in_turn_and_interleaved(real_policy, real_reward):
    """Siblings of the real policy keep their own caches, branches and generators: two columns
    interleaved event by event decode exactly what they decode one after another."""
    import threading

    from stars_engine.compare import IN_TURN, INTERLEAVED, Comparison, plan, schedule_of
    from stars_engine.params import Params

    assert schedule_of(real_policy) == INTERLEAVED
    messages = [{"role": "user", "content": "Give me one tip for sleeping well."}]
    replies = {}
    for schedule in (IN_TURN, INTERLEAVED):
        comparison = Comparison(plan("stars:seg=8,specrej:n=4", Params(max_new_tokens=16), 3), messages)
        order = [c.index for c, _ in comparison.events(real_policy, real_reward, threading.Event(), schedule=schedule)]
        assert (order[:4] == [0, 1, 0, 1]) == (schedule == INTERLEAVED)
        assert all(o.error is None and o.stats is not None for o in comparison.outcomes)
        replies[schedule] = [(o.text, o.stats.tokens_generated, o.stats.policy_forward_passes)
                             for o in comparison.outcomes]
    assert all(any(ch.isalpha() for ch in text) for text, _, _ in replies[IN_TURN])
    assert replies[INTERLEAVED] == replies[IN_TURN]
