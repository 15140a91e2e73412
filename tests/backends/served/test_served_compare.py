"""``stars compare`` through a real vLLM server: the columns run at once, and each is recorded."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from stars_engine.store import open_store

pytestmark = [pytest.mark.served, pytest.mark.real]


def test_two_columns_run_at_once_on_the_server_and_both_runs_are_recorded(vllm_url, tmp_path):
    db = tmp_path / "s.db"
    proc = subprocess.run(
        [sys.executable, "-m", "stars_tui", "compare", "Give me one tip for sleeping well.",
         "--strategies", "stars:seg=8,bon-2", "--max-new-tokens", "32", "--seed", "4", "--judge", "none",
         "--json", "--db", str(db), "--server", vllm_url],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "the columns run at once" in proc.stderr.splitlines()[0]
    *events, summary = [json.loads(line) for line in proc.stdout.splitlines()]
    assert summary["schedule"] == "at once"
    order = [(e["column"], e["type"]) for e in events]
    # at once: column 1 starts while column 0 (four rounds of 8 tokens, each scored) is still decoding
    assert order.index((1, "RunStarted")) < order.index((0, "RunFinished"))
    columns = summary["columns"]
    assert all(c["error"] is None and c["stop_reason"] for c in columns)
    with open_store(db) as store:
        (session,) = store.list_sessions()
        runs = {r.id: r for r in store.runs_of(session.id)}
        firsts = [store.run_events(c["run_id"])[0] for c in columns]
    assert sorted(runs) == sorted(c["run_id"] for c in columns)
    assert [(runs[c["run_id"]].strategy, runs[c["run_id"]].status, runs[c["run_id"]].final_text) for c in columns] == [
        ("stars", "finished", columns[0]["text"]), ("best-of-n", "finished", columns[1]["text"])]
    assert [(e.backend, e.server_url, e.seed) for e in firsts] == [("vllm", vllm_url, 4), ("vllm", vllm_url, 5)]
