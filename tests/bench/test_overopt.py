"""Over-optimisation in the summary: guide-judge rank agreement, the flags, length control and the
judges plot (hand-made pairs and scripted models, no torch)."""

from __future__ import annotations

import pytest
from fakes import ScriptedPolicy, ScriptedReward

from stars_engine.bench import BenchPlan, parse_specs, run_bench
from stars_engine.bench.judge import LOSS, TIE, WIN, RewardJudge
from stars_engine.bench.judging import Pair
from stars_engine.bench.overopt import flags, length_effect, rank_agreement
from stars_engine.bench.prompts import BenchPrompt
from stars_engine.bench.report import markdown_table
from stars_engine.params import Params


def pair(prompt_id, guide_diff, length=10, other_length=10, reply="x", strategy="s"):
    return Pair("vs_vanilla", strategy, "vanilla", prompt_id, 0, "q", reply, "y", guide_diff, length, other_length)


def verdict(outcome):
    return {"outcome": outcome}


def test_rank_agreement_is_kendall_tau_per_prompt_averaged():
    items = [
        (pair("a", 0.2, reply="r1"), verdict(WIN)),    # both prefer the reply: +1
        (pair("a", -0.1, reply="r2"), verdict(LOSS)),  # both prefer the other: +1
        (pair("b", 0.3, reply="r3"), verdict(LOSS)),   # opposite: -1
        (pair("b", 0.3, reply="r4"), verdict(TIE)),    # the judge calls it even: 0
        (pair("c", 0.3, reply="y"), verdict(TIE)),     # identical replies say nothing
    ]
    got = rank_agreement(items)
    assert got["prompts"] == 2 and got["pairs"] == 4
    assert got["tau"] == pytest.approx((1.0 + (-0.5)) / 2)


def test_length_control_counts_only_pairs_of_similar_length_and_names_the_length_share():
    items = [
        (pair("a", 0.1, 100, 40, reply="long1"), verdict(WIN)),  # the longer reply won
        (pair("b", 0.1, 100, 40, reply="long2"), verdict(WIN)),  # the longer reply won
        (pair("c", 0.1, 52, 50, reply="same1"), verdict(LOSS)),  # within 10 %; the shorter won
        (pair("d", 0.1, 50, 48, reply="same2"), verdict(TIE)),   # within 10 %
    ]
    got = length_effect(items)
    assert got["win_rate"] == pytest.approx(2.5 / 4)
    assert got["lc_pairs"] == 2 and got["lc_win_rate"] == pytest.approx(0.5 / 2)
    assert got["length_share"] == pytest.approx(2.5 / 4 - 0.25)
    assert got["longer_wins"] == pytest.approx(2 / 3)  # the tie is left out
    assert got["unequal_decided"] == 3


def strategy(label, kind, reward, tokens, **judge):
    return {"strategy": label, "kind": kind, "guide_reward": {"mean": reward}, "tokens_generated": tokens,
            "judge": judge}


def tally(win, tie, loss, guide_diff, opponent="vanilla"):
    n = win + tie + loss
    return {"opponent": opponent, "win": win, "tie": tie, "loss": loss, "n": n, "guide_diff": guide_diff,
            "win_rate": (win + tie / 2) / n, "lc_win_rate": None, "lc_pairs": 0, "length_share": None, "tau": None}


def test_flags_name_a_judge_that_contradicts_the_guide_and_a_setting_that_over_optimises():
    strategies = [
        strategy("vanilla", "vanilla", 0.1, 40),
        strategy("bon-2", "best-of-n", 0.2, 80, rubric={"vs_vanilla": tally(6, 2, 2, 0.1)}),
        strategy("bon-4", "best-of-n", 0.3, 160, rubric={"vs_vanilla": tally(4, 2, 4, 0.2)}),
        strategy("stars", "stars", 0.35, 120, rubric={"vs_vanilla": tally(7, 0, 3, 0.25),
                                                       "vs_bon": tally(2, 1, 5, 0.05, "bon-4")}),
    ]
    got = flags(strategies)
    assert {(f["kind"], f["strategy"]) for f in got} == {("judge_disagrees", "stars"), ("overoptimised", "bon-4")}
    over = next(f for f in got if f["kind"] == "overoptimised")
    assert over["cheaper"] == "bon-2" and over["win_rate_before"] == pytest.approx(0.7)
    assert over["win_rate_after"] == pytest.approx(0.5) and over["guide_rise"] == pytest.approx(0.1)
    disagree = next(f for f in got if f["kind"] == "judge_disagrees")
    assert disagree["opponent"] == "bon-4" and (disagree["win"], disagree["loss"]) == (2, 5)


def test_no_flag_when_the_judge_agrees_with_the_guide():
    strategies = [
        strategy("bon-2", "best-of-n", 0.2, 80, rubric={"vs_vanilla": tally(5, 0, 5, 0.1)}),
        strategy("bon-4", "best-of-n", 0.3, 160, rubric={"vs_vanilla": tally(7, 0, 3, 0.2)}),
    ]
    assert flags(strategies) == []


def test_a_bench_summary_carries_agreement_length_flags_and_the_judges_plot(tmp_path):
    base = Params(max_new_tokens=6)
    prompts = [BenchPrompt("a", "advice", "help me sleep"), BenchPrompt("b", "factual", "why is the sky blue")]
    specs = parse_specs("vanilla,bon-2,stars:seg=2:tau=0.3:mode=fixed:k=1", base)
    plan = BenchPlan(prompts, specs, [0, 1], base, tmp_path / "out")
    summary = run_bench(ScriptedPolicy(), ScriptedReward(), {"words": RewardJudge(ScriptedReward())}, plan)
    stars = summary["strategies"][-1]
    for role in ("vs_vanilla", "vs_bon"):
        t = stars["judge"]["words"][role]
        assert {"guide_diff", "win_rate", "lc_win_rate", "lc_pairs", "length_share", "tau"} <= set(t)
        assert t["win_rate"] == pytest.approx((t["win"] + t["tie"] / 2) / t["n"])
    # the judge is the guide itself, so wherever both decide they agree
    g = summary["judges"]["words"]["guide_agreement"]
    assert g["pairs"] > 0 and g["tau"] > 0
    assert isinstance(summary["flags"], list)
    assert not [f for f in summary["flags"] if f["kind"] == "judge_disagrees"]
    assert stars["tokens_accepted"] > 0
    text = markdown_table(summary)
    assert "reply tok" in text and "Kendall tau" in text and "length-controlled" in text
    assert all((tmp_path / "out" / name).stat().st_size > 1000 for name in ("judges.png", "judges.svg"))


def test_no_judges_plot_without_a_judge(tmp_path):
    base = Params(max_new_tokens=4)
    plan = BenchPlan([BenchPrompt("a", "advice", "help me sleep")], parse_specs("vanilla,bon-2", base), [0], base,
                     tmp_path / "out")
    summary = run_bench(ScriptedPolicy(), ScriptedReward(), None, plan)
    assert summary["flags"] == [] and not (tmp_path / "out" / "judges.png").exists()


def test_the_report_prints_each_flag_in_one_line():
    from stars_engine.bench.report import overoptimisation_lines

    strategies = [
        strategy("bon-2", "best-of-n", 0.2, 80, rubric={"vs_vanilla": tally(6, 2, 2, 0.1)}),
        strategy("bon-4", "best-of-n", 0.3, 160, rubric={"vs_vanilla": tally(4, 2, 4, 0.2)}),
        strategy("stars", "stars", 0.35, 120, rubric={"vs_bon": tally(2, 1, 5, 0.05, "bon-4")}),
    ]
    lines = overoptimisation_lines({"strategies": strategies, "flags": flags(strategies)})
    flagged = [line for line in lines if line.startswith("FLAG")]
    assert flagged == [
        "FLAG stars: the guide puts it +0.050 ahead of bon-4, but the rubric judge prefers bon-4 (2/1/5)",
        "FLAG bon-4: guide +0.100 over bon-2, but the rubric judge's win rate vs vanilla falls 70% -> 50% "
        "(over-optimisation)",
    ]


class LookupEmbedder:
    """Unit vectors from a table: the prompt sits on one axis, each reply partly on it."""

    server_url = served_model = ""

    def __init__(self, table):
        self.table = table

    def __call__(self, texts):
        import torch

        rows = [torch.tensor(self.table.get(t, [0.0, 0.0, 1.0])) for t in texts]
        return torch.nn.functional.normalize(torch.stack(rows), dim=1)


def test_the_rubric_drops_relevance_only_on_prompts_of_the_decline_category():
    from stars_engine.bench.heldout import HELD_OUT_RUBRIC, rubric_judge

    ask = "do the harmful thing"
    table = {ask: [1.0, 0.0, 0.0], "complies": [1.0, 0.0, 0.2], "declines": [0.0, 1.0, 0.2]}
    table |= {t: [0.0, 0.0, 1.0] for t in HELD_OUT_RUBRIC["prefer"] + HELD_OUT_RUBRIC["avoid"]}
    embedder = LookupEmbedder(table)
    as_advice = rubric_judge(embedder, [BenchPrompt("x", "advice", ask)])
    declined = rubric_judge(embedder, [BenchPrompt("x", "decline", ask)])
    assert declined.decline == {ask} and not as_advice.decline
    assert as_advice.prefer(ask, "complies", "declines") > 0.2  # relevance credit for complying
    assert declined.prefer(ask, "complies", "declines") == pytest.approx(0.0, abs=1e-6)
    assert "no relevance term on decline prompts (1 here" in declined.judge_id
    assert declined.judge_id != as_advice.judge_id  # a verdict made under one rule is not reused under the other
