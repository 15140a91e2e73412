"""The bench reports wall seconds beside tokens: budget leaders per second of a reply, and a second frontier."""

from __future__ import annotations

import pytest
from fakes import ScriptedPolicy, ScriptedReward

from stars_engine.bench import BenchPlan, parse_specs, run_bench
from stars_engine.bench.metrics import budget_leaders
from stars_engine.bench.prompts import BenchPrompt
from stars_engine.bench.report import budget_lines, markdown_table
from stars_engine.params import Params


def strategy(label, kind, reward, tokens, seconds):
    return {"strategy": label, "kind": kind, "cells": 2, "guide_reward": {"mean": reward},
            "tokens_generated": tokens, "wall_seconds": seconds}


def records(rewards: dict[str, list[float]]):
    return [{"strategy": label, "prompt_id": f"p{i}", "seed": 0, "guide_reward": r, "error": None}
            for label, values in rewards.items() for i, r in enumerate(values)]


# STARS: ahead in reward with fewer tokens than bon-4, but five times bon-4's wall seconds
ROWS = [
    strategy("vanilla", "vanilla", 0.30, 100, 10.0),
    strategy("bon-2", "best-of-n", 0.40, 200, 20.0),
    strategy("bon-4", "best-of-n", 0.45, 400, 22.0),
    strategy("stars:k=1", "stars", 0.50, 150, 110.0),
]
RECORDS = records({"vanilla": [0.3, 0.3], "bon-2": [0.4, 0.4], "bon-4": [0.45, 0.45], "stars:k=1": [0.5, 0.5]})


def test_a_budget_in_seconds_can_have_another_leader_than_in_tokens():
    tokens = budget_leaders(ROWS, RECORDS)
    seconds = budget_leaders(ROWS, RECORDS, "seconds")
    assert [(b["budget"], b["leader"]) for b in tokens] == [("bon-2", "stars:k=1"), ("bon-4", "stars:k=1")]
    assert [(b["budget"], b["leader"]) for b in seconds] == [("bon-2", "bon-2"), ("bon-4", "bon-4")]
    assert seconds[1]["unit"] == "seconds" and seconds[1]["seconds"] == 22.0
    assert set(seconds[1]["methods"]) == {"vanilla", "best-of-n"}  # STARS spent more than the budget
    assert all(m["wall_seconds"] <= 22.0 for m in seconds[1]["methods"].values())
    assert seconds[1]["versus"][0]["a"] == "bon-4" and seconds[1]["versus"][0]["b"] == "vanilla"


def test_unknown_units_are_refused():
    with pytest.raises(KeyError):
        budget_leaders(ROWS, RECORDS, "joules")


def test_the_lines_name_each_budgets_leader_in_tokens_and_in_seconds():
    summary = {"budgets": budget_leaders(ROWS, RECORDS), "budgets_seconds": budget_leaders(ROWS, RECORDS, "seconds")}
    lines = budget_lines(summary)
    assert lines[1].startswith("at bon-4's budget (400 tokens) stars:k=1 leads: +0.050")
    assert lines[3].startswith("at bon-4's budget (22.0 s a reply) bon-4 leads: +0.150")
    assert len(lines) == 4


def test_a_bench_summary_has_both_frontiers_and_the_plot_both_panels(tmp_path):
    base = Params(max_new_tokens=6)
    specs = parse_specs("vanilla,bon-2,bon-4,stars:seg=2:tau=0.3:mode=fixed:k=1", base)
    prompts = [BenchPrompt("a", "advice", "help me sleep"), BenchPrompt("b", "factual", "why is the sky blue")]
    summary = run_bench(ScriptedPolicy(), ScriptedReward(), None, BenchPlan(prompts, specs, [0, 1], base, tmp_path))
    seconds = summary["budgets_seconds"]  # ordered by measured seconds, which fakes make a coin toss
    assert sorted(b["budget"] for b in seconds) == ["bon-2", "bon-4"]
    assert [b["seconds"] for b in seconds] == sorted(b["seconds"] for b in seconds)
    by_label = {s["strategy"]: s for s in summary["strategies"]}
    for b in summary["budgets_seconds"]:
        assert b["seconds"] == by_label[b["budget"]]["wall_seconds"]
        assert all(m["wall_seconds"] <= b["seconds"] for m in b["methods"].values())
    md = markdown_table(summary)
    assert "s a reply)" in md and "tokens)" in md
    svg = (tmp_path / "frontier.svg").read_text()
    assert "mean wall seconds per reply" in svg and "mean tokens generated per reply" in svg
