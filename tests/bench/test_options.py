"""Parsing the bench's options: prompt files, strategy specs, seeds (no models)."""

from __future__ import annotations

import json

import pytest

from stars_engine.bench import load_prompts, parse_seeds, parse_specs, take
from stars_engine.bench.strategies import DEFAULT_STRATEGIES, parse_spec
from stars_engine.errors import StarsError
from stars_engine.params import Params


def write_prompts(path, *prompts, category="misc"):
    path.write_text("".join(json.dumps({"id": f"p{i}", "category": category, "prompt": p}) + "\n"
                            for i, p in enumerate(prompts)))
    return path


def test_shipped_prompt_set_covers_every_category():
    prompts = load_prompts()
    categories = {p.category for p in prompts}
    assert len(prompts) >= 40
    assert categories == {"advice", "decline", "factual", "creative", "explain"}
    assert len({p.id for p in prompts}) == len(prompts)


def test_limit_takes_prompts_round_robin_across_categories():
    chosen = take(load_prompts(), 5)
    assert len({p.category for p in chosen}) == 5


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "has no prompts"),
        ("\n  \n", "has no prompts"),
        ("{not json\n", "line 1: not valid JSON"),
        ('{"id": "a"}\n', 'non-empty "prompt"'),
        ('{"id": "a", "prompt": "x"}\n{"id": "a", "prompt": "y"}\n', "appears twice"),
    ],
)
def test_bad_prompt_files_are_refused(tmp_path, content, message):
    path = tmp_path / "p.jsonl"
    path.write_text(content)
    with pytest.raises(StarsError, match=message):
        load_prompts(path)


def test_missing_prompt_file_is_refused(tmp_path):
    with pytest.raises(StarsError, match="prompt file does not exist"):
        load_prompts(tmp_path / "nope.jsonl")


def test_specs_become_params():
    base = Params(max_new_tokens=24)
    vanilla, bon, stars = parse_specs("vanilla, bon-8, stars:seg=4:tau=0.3:mode=fixed:k=2", base)
    assert vanilla.params(base, 1).strategy == "vanilla"
    assert bon.params(base, 1).best_of_n == 8
    p = stars.params(base, 7)
    assert (p.segment_tokens, p.threshold, p.threshold_mode, p.candidates_per_round) == (4, 0.3, "fixed", 2)
    assert (p.seed, p.max_new_tokens) == (7, 24)
    assert stars.label == "stars:seg=4:tau=0.3:mode=fixed:k=2"


def test_default_strategies_parse():
    specs = parse_specs(DEFAULT_STRATEGIES, Params())
    assert [s.strategy for s in specs].count("best-of-n") == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bogus", "unknown strategy 'bogus'"),
        ("bon-0", "N must be at least 1"),
        ("bon--3", "N must be at least 1"),
        ("bon-100", "best_of_n: must be between 1 and 64"),
        ("stars:seg=0", "segment_tokens: must be between"),
        ("stars:colour=red", "cannot read 'colour=red'"),
        ("stars:tau=high", "cannot read 'high'"),
        ("vanilla,vanilla", "listed twice"),
        (" , ", "no strategies given"),
    ],
)
def test_bad_strategies_are_refused(text, message):
    with pytest.raises(StarsError, match=message):
        parse_specs(text, Params())


def test_spec_cannot_override_the_strategy_or_seed():
    with pytest.raises(StarsError, match="cannot read 'strategy=vanilla'"):
        parse_spec("stars:strategy=vanilla")


def test_seeds():
    assert parse_seeds("0, 3,5") == [0, 3, 5]
    for bad in ("", "x", "-1", "1,1"):
        with pytest.raises(StarsError, match="--seeds"):
            parse_seeds(bad)


def test_family_specs_start_from_each_methods_defaults():
    base = Params(max_new_tokens=32)
    cards, cards_hard, spec = parse_specs("cards, cards:H=2.5:min=2:max=16:rule=hard, specrej:n=4:prune=0.25:every=8",
                                          base)
    p = cards.params(base, 0)
    assert (p.strategy, p.acceptance, p.max_attempts, p.entropy_threshold) == ("cards", "soft", 21, 3.0)
    assert (p.min_segment_tokens, p.max_segment_tokens, p.alpha) == (4, 64, 0.5)
    p = cards_hard.params(base, 0)
    assert (p.acceptance, p.entropy_threshold, p.min_segment_tokens, p.max_segment_tokens) == ("hard", 2.5, 2, 16)
    p = spec.params(base, 3)
    assert (p.strategy, p.initial_n, p.prune_fraction, p.decision_tokens, p.seed) == ("specrej", 4, 0.25, 8, 3)
    assert parse_spec("stars:k=auto").params(base, 0).candidates_per_round == "auto"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cards:min=8:max=4", "max_segment_tokens: must be between 8"),
        ("cards:H=0", "entropy_threshold: must be greater than 0"),
        ("specrej:prune=1", "prune_fraction: must be at least 0.0 and below 1.0"),
        ("specrej:n=0", "initial_n: must be between 1"),
        ("stars:k=lots", "or 'auto'"),
    ],
)
def test_bad_family_specs_are_refused(text, message):
    with pytest.raises(StarsError, match=message):
        parse_specs(text, Params())
