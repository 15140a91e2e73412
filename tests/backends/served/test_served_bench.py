"""The bench through a real vLLM server: several cells in flight write the same cells as one at a time."""

from __future__ import annotations

import json

import pytest

from stars_engine.backends.served.connect import served_policies
from stars_engine.bench import BenchPlan, load_prompts, parse_specs, run_bench, take
from stars_engine.params import Params

pytestmark = [pytest.mark.served, pytest.mark.real]


def cells(out) -> dict[str, dict]:
    """Each cell's record by key, without the wall-clock fields that differ between runs."""
    records = {}
    for line in (out / "cells.jsonl").read_text().splitlines():
        record = json.loads(line)
        record["stats"].pop("wall_seconds")
        records[record["key"]] = record
    return records


def test_concurrency_4_writes_the_same_cells_as_concurrency_1(vllm_url, real_reward, tmp_path):
    base = Params(max_new_tokens=16)
    plan_for = lambda out: BenchPlan(  # noqa: E731
        take(load_prompts(None), 3), parse_specs("vanilla,bon-2,stars:seg=8:k=2", base), [0, 1], base, out
    )
    one = served_policies([vllm_url], count=1)
    four = served_policies([vllm_url], count=4)
    run_bench(one[0], real_reward, None, plan_for(tmp_path / "c1"))
    summary = run_bench(four[0], real_reward, None, plan_for(tmp_path / "c4"), workers=four[1:])

    serial, parallel = cells(tmp_path / "c1"), cells(tmp_path / "c4")
    assert len(serial) == 3 * 3 * 2
    assert all(r["error"] is None for r in serial.values())
    assert parallel == serial
    assert summary["config"]["concurrency"] == 4 and summary["config"]["servers"] == [vllm_url]
    # every worker ran cells: four were really in flight
    assert all(p.requests for p in four)
