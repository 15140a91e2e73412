"""``--judge rm:REF``: a sequence-classification reward model in a local folder as a held-out judge,
loaded in-process through the safe loader and named in every verdict (a tiny random model saved with
save_pretrained; nothing is downloaded)."""

from __future__ import annotations

import json

import pytest
from backends.served.reward_models import build_tiny_rm
from fakes import ScriptedPolicy, ScriptedReward

from stars_engine.bench import BenchPlan, parse_specs, run_bench
from stars_engine.bench.heldout import build_judges, check_judges, parse_judges
from stars_engine.bench.judge import compare
from stars_engine.bench.prompts import BenchPrompt
from stars_engine.errors import StarsError
from stars_engine.params import Params


@pytest.fixture(scope="module")
def tiny_rm(tmp_path_factory):
    return build_tiny_rm(tmp_path_factory.mktemp("judge-rm") / "rm")


def test_an_rm_judge_parses_checks_loads_and_judges_without_position_bias(tiny_rm):
    names = parse_judges(f"rubric,rm:{tiny_rm}")
    assert names == ["rubric", f"rm:{tiny_rm}"]
    check_judges(names)  # configs and weight headers only; a good folder passes
    judge = build_judges([f"rm:{tiny_rm}"], ScriptedPolicy(), ScriptedReward())[f"rm:{tiny_rm}"]
    assert str(tiny_rm) in judge.judge_id
    prompt, a, b = "How do I boil an egg?", "Put it in boiling water for eight minutes.", "Eggs are nice."
    scores = judge.reward.score(prompt, [a, b])
    assert scores[0] != scores[1]  # the random model still tells these apart
    verdict = compare(judge, prompt, a, b)
    assert verdict.margin == pytest.approx(scores[0] - scores[1], abs=1e-5)
    assert verdict.position_bias == pytest.approx(0.0, abs=1e-5)
    assert verdict.outcome == ("win" if scores[0] > scores[1] else "loss")


def test_every_verdict_of_a_bench_names_the_rm_judge(tiny_rm, tmp_path):
    name = f"rm:{tiny_rm}"
    judges = build_judges([name], ScriptedPolicy(), ScriptedReward())
    base = Params(max_new_tokens=6)
    plan = BenchPlan([BenchPrompt("a", "advice", "help me sleep")], parse_specs("vanilla,bon-2", base), [0, 1],
                     base, tmp_path / "out")
    summary = run_bench(ScriptedPolicy(), ScriptedReward(), judges, plan)
    verdicts = [json.loads(line) for line in (tmp_path / "out" / "verdicts.jsonl").read_text().splitlines()]
    assert len(verdicts) == 2
    assert all(v["judge"] == name and v["judge_id"] == judges[name].judge_id for v in verdicts)
    assert summary["strategies"][1]["judge"][name]["vs_vanilla"]["n"] == 2


def test_an_rm_judge_that_cannot_load_is_refused_in_one_line(tmp_path):
    with pytest.raises(StarsError) as refused:
        check_judges([f"rm:{tmp_path / 'missing'}"])
    assert len(str(refused.value).splitlines()) == 1


def test_a_classifier_with_two_outputs_is_not_a_judge(tiny_rm, tmp_path):
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    folder = tmp_path / "two-labels"
    config = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2)
    BertForSequenceClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_rm).save_pretrained(folder)
    with pytest.raises(StarsError, match="has 2 outputs"):
        build_judges([f"rm:{folder}"], ScriptedPolicy(), ScriptedReward())


@pytest.mark.parametrize("text", ["rm:", "rm: ", "rm"])
def test_an_rm_judge_needs_a_reference(text):
    with pytest.raises(StarsError, match="comma list"):
        parse_judges(text)
