"""The bench's progress lines (what ``stars bench --tui``'s child writes): every fact a watcher
needs comes through, each line reads back validated, and a line of another shape is refused."""

from __future__ import annotations

import io
import json
from pathlib import Path

import msgspec
import pytest
from fakes import ScriptedPolicy, ScriptedReward

from stars_engine.bench import BenchPlan, parse_specs, run_bench
from stars_engine.bench.progress import CellDone, Finished, Pairs, ProgressWriter, Stopped, Total, read_line
from stars_engine.bench.prompts import BenchPrompt
from stars_engine.params import Params


def plan(out: Path) -> BenchPlan:
    base = Params(max_new_tokens=6)
    prompts = [BenchPrompt(f"p{i}", "help", f"Say hello {i}") for i in range(2)]
    return BenchPlan(prompts, parse_specs("vanilla,bon-2", base), [0], base, out)


def progress(out: Path) -> list:
    stream = io.BytesIO()
    writer = ProgressWriter(stream)
    writer.write(Finished(run_bench(ScriptedPolicy(), ScriptedReward(), None, plan(out), writer.hooks())))
    return [read_line(line) for line in stream.getvalue().splitlines(keepends=True)]


def test_a_run_and_its_resume_say_total_cells_reuse_pairs_and_summary(tmp_path):
    first = progress(tmp_path)
    assert first[0] == Total(4)
    cells = [m for m in first if isinstance(m, CellDone)]
    logged = [json.loads(line) for line in (tmp_path / "cells.jsonl").read_text().splitlines()]
    assert [c.record["key"] for c in cells] == [r["key"] for r in logged] and not any(c.reused for c in cells)
    assert Pairs(0, 0) in first
    assert isinstance(first[-1], Finished) and {s["strategy"] for s in first[-1].summary["strategies"]} == {
        "vanilla", "bon-2"}
    again = progress(tmp_path)
    assert [m.reused for m in again if isinstance(m, CellDone)] == [True] * 4


@pytest.mark.parametrize("line", [
    b'{"type": "total", "cells": "many"}\n',
    b'{"type": "cell", "record": {"key": "k"}, "reused": false}\n',
    b'{"type": "launch", "what": "missiles"}\n',
    b'{"type": "total", "cells": 3, "extra": 1}\n',
    b'not json\n',
])
def test_a_line_of_another_shape_is_refused(line):
    with pytest.raises((msgspec.ValidationError, msgspec.DecodeError)):
        read_line(line)


def test_stopped_reads_back():
    stream = io.BytesIO()
    ProgressWriter(stream).write(Stopped())
    assert read_line(stream.getvalue()) == Stopped()
