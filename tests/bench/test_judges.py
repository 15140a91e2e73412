"""Held-out judges: the debiased pairwise rule, several judges in one run, and re-judging
without re-decoding (scripted models, no torch)."""

from __future__ import annotations

import json

import pytest
from fakes import ScriptedPolicy, ScriptedReward

from stars_engine.bench import BenchPlan, Hooks, parse_specs, run_bench
from stars_engine.bench.heldout import parse_judges
from stars_engine.bench.judge import LOSS, TIE, WIN, RewardJudge, compare
from stars_engine.bench.prompts import BenchPrompt
from stars_engine.bench.report import columns, markdown_table
from stars_engine.errors import StarsError
from stars_engine.params import Params


class BiasedJudge:
    """Prefers the first position by ``bias`` nats, plus a real preference for "good" words."""

    judge_id = "biased"

    def __init__(self, bias=3.0, tie_margin=0.1):
        self.bias = bias
        self.tie_margin = tie_margin
        self.words = ScriptedReward()

    def prefer(self, prompt, first, second):
        a, b = self.words.score(prompt, [first, second])
        return self.bias + (a - b)


def test_the_mean_over_both_orders_cancels_position_bias():
    judge = BiasedJudge(bias=3.0)
    verdict = compare(judge, "q", "kind clear help", "the a b")
    assert verdict.as_first > 0 > verdict.as_second  # it picked the first position both times
    assert verdict.outcome == WIN
    assert verdict.position_bias == pytest.approx(3.0)
    assert verdict.margin == pytest.approx(2 / 3)
    assert compare(judge, "q", "the a b", "kind clear help").outcome == LOSS


def test_a_difference_inside_the_tie_margin_is_a_tie():
    judge = BiasedJudge(tie_margin=0.5)
    assert compare(judge, "q", "kind a b c", "the a b c").outcome == TIE
    assert compare(judge, "q", "kind clear a b", "the a b c").outcome == WIN


def plan(tmp_path, specs="vanilla,bon-2,stars:seg=2:tau=0.3:mode=fixed:k=1"):
    base = Params(max_new_tokens=6)
    prompts = [BenchPrompt("a", "advice", "help me sleep"), BenchPrompt("b", "factual", "why is the sky blue")]
    return BenchPlan(prompts, parse_specs(specs, base), [0, 1], base, tmp_path / "out")


def test_two_judges_in_one_run_each_get_columns_tallies_and_an_overview(tmp_path):
    judges = {"biased": BiasedJudge(), "words": RewardJudge(ScriptedReward())}
    summary = run_bench(ScriptedPolicy(), ScriptedReward(), judges, plan(tmp_path))
    verdicts = [json.loads(line) for line in (tmp_path / "out" / "verdicts.jsonl").read_text().splitlines()]
    assert {v["judge"] for v in verdicts} == {"biased", "words"}
    assert all({"as_first", "as_second", "position_bias", "tie_margin"} <= set(v) for v in verdicts)
    stars = summary["strategies"][-1]
    assert set(stars["judge"]) == {"biased", "words"}
    assert set(summary["goal"]["judge_goal_met"]) == {"biased", "words"}
    for name in judges:
        overview = summary["judges"][name]
        assert overview["pairs"] == len(verdicts) // 2
        assert overview["decided"] <= overview["distinct_pairs"] <= overview["pairs"]
    distinct = summary["judges"]["biased"]["distinct_pairs"]
    assert distinct > 0  # the plan's replies differ, so there is something to judge
    assert summary["judges"]["biased"]["position_bias"] == pytest.approx(3.0)
    assert summary["judges"]["biased"]["decided_both_orders"] == 0
    assert summary["judges"]["words"]["distinct_pairs"] > 0
    assert summary["judges"]["words"]["position_bias"] == pytest.approx(0.0)  # computed, and unbiased
    agree = summary["judge_agreement"]["biased~words"]
    assert agree["agree"] <= agree["both_decided"] <= distinct
    assert "biased W/T/L vs vanilla" in columns(summary) and "words W/T/L vs BoN" in columns(summary)
    assert "biased judge: decided" in markdown_table(summary)


def test_adding_a_judge_reuses_every_cell_and_the_first_judges_verdicts(tmp_path):
    run_bench(ScriptedPolicy(), ScriptedReward(), {"biased": BiasedJudge()}, plan(tmp_path))
    cells, pairs = [], []
    hooks = Hooks(cell_done=lambda c, r, skipped: cells.append(skipped),
                  pair_done=lambda p, skipped: pairs.append(skipped))
    judges = {"biased": BiasedJudge(), "words": RewardJudge(ScriptedReward())}
    run_bench(ScriptedPolicy(), ScriptedReward(), judges, plan(tmp_path), hooks)
    assert cells and all(cells)
    half = len(pairs) // 2
    assert pairs[:half] == [True] * half and pairs[half:] == [False] * half


@pytest.mark.parametrize(("text", "names"), [("chat", ["chat"]), (" rubric , chat", ["rubric", "chat"]),
                                             ("none", [])])
def test_judge_lists_parse(text, names):
    assert parse_judges(text) == names


@pytest.mark.parametrize(("text", "message"), [("oracle", "comma list"), ("", "comma list"),
                                               ("none,chat", "comma list"), ("chat,chat", "twice")])
def test_bad_judge_lists_are_refused(text, message):
    with pytest.raises(StarsError, match=message):
        parse_judges(text)
