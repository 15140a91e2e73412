"""The bench machinery end to end on the scripted policy and reward (fast, no torch)."""

from __future__ import annotations

import json

import pytest
from fakes import ScriptedPolicy, ScriptedReward

from stars_engine.bench import BenchPlan, Hooks, parse_specs, run_bench
from stars_engine.bench.judge import LOSS, TIE, WIN, RewardJudge, compare
from stars_engine.bench.log import JsonlLog
from stars_engine.bench.metrics import STAT_FIELDS, bootstrap_ci
from stars_engine.bench.prompts import BenchPrompt
from stars_engine.params import Params

PROMPTS = [BenchPrompt("a", "advice", "help me sleep"), BenchPrompt("b", "factual", "why is the sky blue")]
SPECS = "vanilla,bon-2,bon-4,stars:seg=2:tau=0.3:mode=fixed:k=1"


def plan(tmp_path, specs=SPECS, seeds=(0, 1)):
    base = Params(max_new_tokens=6)
    return BenchPlan(PROMPTS, parse_specs(specs, base), list(seeds), base, tmp_path / "out")


def counting_hooks(seen):
    return Hooks(cell_done=lambda cell, record, skipped: seen.append((cell.spec.label, skipped)))


def test_summary_has_every_metric_and_the_plots_exist(tmp_path):
    reward = ScriptedReward()
    summary = run_bench(ScriptedPolicy(), reward, {"words": RewardJudge(ScriptedReward())}, plan(tmp_path))
    saved = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [s["strategy"] for s in saved["strategies"]] == SPECS.split(",")
    for s in saved["strategies"]:
        assert s["cells"] == 4 and s["failed"] == 0
        assert set(s["guide_reward"]) == {"mean", "ci_low", "ci_high", "n"}
        assert s["guide_reward"]["ci_low"] <= s["guide_reward"]["mean"] <= s["guide_reward"]["ci_high"]
        assert all(s[name] is not None for name in STAT_FIELDS)
    stars = saved["strategies"][-1]
    assert stars["acceptance_rate"] is not None and stars["attempts_per_segment"] >= 1
    assert set(stars["judge"]["words"]) == {"vs_vanilla", "vs_bon"}
    assert stars["judge"]["words"]["vs_vanilla"]["n"] == 4
    assert sum(stars["judge"]["words"]["vs_vanilla"][o] for o in (WIN, TIE, LOSS)) == 4
    assert saved["judges"]["words"]["position_bias"] in (0.0, None)
    assert saved["goal"]["budgets"] and "frontier_goal_met" in saved["goal"]
    assert saved["config"]["max_new_tokens"] == 6
    assert (tmp_path / "out" / "summary.md").read_text().count("\n| `") == len(SPECS.split(","))
    for path in summary["plots"]:
        assert (tmp_path / "out" / path.split("/")[-1]).stat().st_size > 1000


def test_best_of_n_tokens_grow_with_n(tmp_path):
    summary = run_bench(ScriptedPolicy(), ScriptedReward(), None, plan(tmp_path))
    tokens = {s["strategy"]: s["tokens_generated"] for s in summary["strategies"]}
    assert tokens["vanilla"] <= tokens["bon-2"] <= tokens["bon-4"]
    assert summary["judges"] == {} and all(not s["judge"] for s in summary["strategies"])


def test_resume_skips_finished_cells(tmp_path):
    first, second = [], []
    run_bench(ScriptedPolicy(), ScriptedReward(), None, plan(tmp_path, seeds=(0,)), counting_hooks(first))
    lines = (tmp_path / "out" / "cells.jsonl").read_text().splitlines()
    run_bench(ScriptedPolicy(), ScriptedReward(), None, plan(tmp_path, seeds=(0, 1)), counting_hooks(second))
    assert all(not skipped for _, skipped in first)
    assert sum(skipped for _, skipped in second) == len(first) == len(lines)
    assert sum(not skipped for _, skipped in second) == len(first)


def test_a_reused_cell_takes_the_label_it_is_run_under_now(tmp_path):
    """The key is the settings; the label only names them, so a renamed spec reuses its cells."""
    run_bench(ScriptedPolicy(), ScriptedReward(), None, plan(tmp_path, "stars:seg=2", (0,)))
    seen = []
    summary = run_bench(ScriptedPolicy(), ScriptedReward(), None,
                        plan(tmp_path, "stars:segment_tokens=2", (0,)), counting_hooks(seen))
    assert seen and all(skipped for _, skipped in seen)
    assert [s["strategy"] for s in summary["strategies"]] == ["stars:segment_tokens=2"]
    assert summary["strategies"][0]["cells"] == len(seen)


def test_changed_params_are_not_reused(tmp_path):
    seen = []
    run_bench(ScriptedPolicy(), ScriptedReward(), None, plan(tmp_path, "vanilla", (0,)))
    longer = plan(tmp_path, "vanilla", (0,))
    longer.base = Params(max_new_tokens=8)
    run_bench(ScriptedPolicy(), ScriptedReward(), None, longer, counting_hooks(seen))
    assert seen and not any(skipped for _, skipped in seen)


def test_failed_cells_are_counted_and_tried_again(tmp_path):
    summary = run_bench(ScriptedPolicy(), ScriptedReward(fail_after=0), None, plan(tmp_path, "vanilla", (0,)))
    assert summary["strategies"][0]["failed"] == 2
    assert summary["strategies"][0]["errors"] == ["reward model exploded"]
    seen = []
    run_bench(ScriptedPolicy(), ScriptedReward(), None, plan(tmp_path, "vanilla", (0,)), counting_hooks(seen))
    assert [skipped for _, skipped in seen] == [False, False]


def test_a_torn_last_line_is_ignored_and_the_next_append_starts_fresh(tmp_path):
    log = JsonlLog(tmp_path / "log.jsonl")
    log.append({"key": "a", "n": 1})
    with log.path.open("a") as f:
        f.write('{"key": "b", "n"')
    assert set(log.load()) == {"a"}
    log.append({"key": "c", "n": 3})
    assert set(log.load()) == {"a", "c"}


class FirstPositionJudge:
    """Always prefers whichever reply it is shown first: pure position bias."""

    judge_id = "first-position"
    tie_margin = 0.0

    def prefer(self, prompt, first, second):
        return 1.0


def test_position_bias_becomes_a_tie_not_a_win():
    assert compare(FirstPositionJudge(), "q", "one reply", "another").outcome == TIE
    assert compare(RewardJudge(ScriptedReward()), "q", "kind clear", "the a").outcome == WIN
    assert compare(RewardJudge(ScriptedReward()), "q", "the a", "kind clear").outcome == LOSS
    assert compare(RewardJudge(ScriptedReward()), "q", "same", "same ").outcome == TIE


def test_bootstrap_interval_brackets_the_mean():
    low, high = bootstrap_ci([0.1, 0.5, 0.3, 0.9, 0.2])
    assert low < 0.4 < high
    assert bootstrap_ci([0.5]) == (0.5, 0.5)
    assert bootstrap_ci([]) == (None, None)


@pytest.mark.parametrize("reached", [0, 3])
def test_goal_check_counts_budgets(reached):
    from stars_engine.bench.metrics import goal_check

    def row(label, kind, reward, tokens):
        return {"strategy": label, "kind": kind, "guide_reward": {"mean": reward}, "tokens_generated": tokens,
                "judge": {}}

    bons = [row(f"bon-{n}", "best-of-n", 0.1 * i, 10 * n) for i, n in enumerate((2, 4, 8, 16), 1)]
    star = row("stars", "stars", 0.1 * reached + 0.01, 15 if reached else 1000)
    goal = goal_check([*bons, star])
    assert goal["budgets_reached"] == reached
    assert goal["frontier_goal_met"] is (reached >= 3)


def test_runs_can_be_recorded_into_a_session_database(tmp_path):
    from stars_engine.store import Recorder, open_store

    db = tmp_path / "bench.db"
    summary = run_bench(ScriptedPolicy(), ScriptedReward(), None, plan(tmp_path, "vanilla,bon-2", (0,)),
                        wrap=Recorder(db, title="stars bench").record)
    with open_store(db) as store:
        runs = [run for s in store.list_sessions() for run in store.runs_of(s.id)]
    assert len(runs) == 4 == sum(s["cells"] for s in summary["strategies"])


def test_the_whole_family_runs_under_one_tally_and_each_budget_has_a_leader(tmp_path):
    specs = "vanilla,bon-2,bon-4,stars:seg=2:k=auto,cards:min=1:max=3,specrej:n=4:every=2"
    summary = run_bench(ScriptedPolicy(), ScriptedReward(), None, plan(tmp_path, specs))
    kinds = [s["kind"] for s in summary["strategies"]]
    assert kinds == ["vanilla", "best-of-n", "best-of-n", "stars", "cards", "specrej"]
    for s in summary["strategies"]:
        assert s["cells"] == 4 and all(s[name] is not None for name in STAT_FIELDS)
    assert [b["budget"] for b in summary["budgets"]] == ["bon-2", "bon-4"]
    for b in summary["budgets"]:
        methods = b["methods"]
        assert all(m["tokens_generated"] <= b["tokens"] for m in methods.values())
        assert b["leader"] == max(methods.values(), key=lambda m: m["guide_reward"])["strategy"]
        assert len(b["versus"]) == len(methods) - 1
        for d in b["versus"]:
            assert d["a"] == b["leader"] and d["n"] == 4 and d["mean"] >= 0
            assert d["significant"] == (d["ci_low"] > 0 or d["ci_high"] < 0)
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "bon-4's budget" in md


def test_paired_difference_pairs_by_prompt_and_seed():
    from stars_engine.bench.metrics import paired_difference

    def rec(label, prompt, seed, reward):
        return {"strategy": label, "prompt_id": prompt, "seed": seed, "guide_reward": reward, "error": None}

    records = [rec("a", "p", 0, 0.5), rec("b", "p", 0, 0.2), rec("a", "q", 0, 0.4), rec("b", "q", 0, 0.1),
               rec("a", "r", 0, 0.9), rec("b", "r", 1, 0.0)]  # r has no pair: left out
    d = paired_difference(records, "a", "b")
    assert d["n"] == 2 and d["mean"] == pytest.approx(0.3) and d["a_ahead"] == 2
    assert d["significant"] and d["ci_low"] == pytest.approx(0.3)
    same = paired_difference(records[:2] + [rec("a", "q", 0, 0.0), rec("b", "q", 0, 0.3)], "a", "b")
    assert same["mean"] == pytest.approx(0.0) and not same["significant"]
