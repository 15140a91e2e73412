"""``stars bench --system TEXT|@FILE``: every cell is given the system prompt first, it is part of the
cell's identity (a resumed bench never mixes replies to another one), and a bad file is one line."""

from __future__ import annotations

import json

import pytest
from fakes import ScriptedPolicy, ScriptedReward

from stars_engine.bench import BenchPlan, parse_specs, run_bench
from stars_engine.bench.cells import Cell
from stars_engine.bench.prompts import BenchPrompt
from stars_engine.events import RunStarted
from stars_engine.params import Params
from stars_engine.store import Recorder, open_store
from stars_tui import cli

PROMPT = BenchPrompt("a", "x", "hello there")


def test_every_cell_is_given_the_system_prompt_and_keyed_by_it(tmp_path):
    base = Params(max_new_tokens=4)
    specs = parse_specs("vanilla,bon-2", base)
    db = tmp_path / "s.db"
    recorder = Recorder(db, title="stars bench")
    plan = BenchPlan([PROMPT], specs, [0], base, tmp_path / "out", system="Answer in French.")
    run_bench(ScriptedPolicy(), ScriptedReward(), None, plan, wrap=recorder.record)
    with open_store(db) as store:
        [session] = store.list_sessions()
        starts = [store.run_events(run.id)[0] for run in store.runs_of(session.id)]
    assert len(starts) == 2 and all(isinstance(s, RunStarted) for s in starts)
    assert all(s.messages[0] == {"role": "system", "content": "Answer in French."} for s in starts)
    assert session.system_prompt == "Answer in French."
    records = [json.loads(line) for line in (tmp_path / "out" / "cells.jsonl").read_text().splitlines()]
    assert {r["system"] for r in records} == {"Answer in French."}
    plain, french = (Cell(PROMPT, specs[0], 0, specs[0].params(base, 0), system) for system in ("", "Answer."))
    policy = ScriptedPolicy()
    assert plain.key(policy, "r") != french.key(policy, "r")
    assert plain.messages() == [{"role": "user", "content": "hello there"}]


@pytest.mark.parametrize("case", ["missing", "folder"])
def test_a_bad_system_file_is_one_line(tmp_path, capsys, case):
    path = tmp_path / "nope.txt" if case == "missing" else tmp_path
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", "--system", f"@{path}", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1 and "--system file" in err
    assert not (tmp_path / "out").exists()
