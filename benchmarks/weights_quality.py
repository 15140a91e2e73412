"""The guide reward of one bench run once per weight path, paired cell by cell: the bench half of
the quality guard (the other half, next-token KL against fp32, is ``test_dtype_quality.py``).

    bench() { .venv/bin/stars bench --limit 12 --seeds 0,1 --max-new-tokens 128 --judge rubric \\
                  --strategies vanilla,bon-4,stars "$@"; }
    bench --weights dense --dtype fp32 --out benchmarks/results/weights-fp32 &
    bench --weights fp16 --out benchmarks/results/weights-fp16 &
    bench --weights int4 --out benchmarks/results/weights-int4 &
    wait
    .venv/bin/python benchmarks/weights_quality.py benchmarks/results/weights-{fp32,fp16,int4} \\
        --json benchmarks/results/weights_quality.json

For every strategy, each path's mean guide reward and tokens per reply, and each path
minus the first (dense fp32, the reference) paired by (prompt, seed) with a 95% bootstrap interval
(``metrics.paired_difference``). Another weight path samples other tokens from the same
seed once its distribution has moved enough to flip a draw, so a difference is sampling
noise plus the path's effect; "within noise" is an interval that holds zero. ``same_reply``
counts the cells whose reply is the reference's, character for character.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from statistics import fmean

from stars_engine.bench.judging import ok
from stars_engine.bench.log import JsonlLog
from stars_engine.bench.metrics import paired_difference


def tagged(folder: Path) -> tuple[str, list[dict]]:
    """The folder's cells, each strategy label suffixed with the weight path and dtype its runtime used."""
    records = ok(list(JsonlLog(folder / "cells.jsonl").load().values()))
    paths = {f'{r["runtime"].get("weights", "dense")}-{r["runtime"].get("dtype")}' for r in records}
    if len(paths) != 1:
        raise SystemExit(f"{folder}: cells on {len(paths)} weight paths, expected one")
    path = paths.pop()
    return path, [{**r, "strategy": f"{r['strategy']}@{path}"} for r in records]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="bench out folders; the first is the reference")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    runs = [tagged(folder) for folder in args.folders]
    records = [r for _, rs in runs for r in rs]
    strategies = sorted({r["strategy"].split("@")[0] for r in records})
    reference = runs[0][0]
    report: dict = {"reference": reference, "strategies": {}}
    for strategy in strategies:
        rows = {}
        for path, _ in runs:
            mine = [r for r in records if r["strategy"] == f"{strategy}@{path}"]
            row = {"n": len(mine), "guide_reward": round(fmean(r["guide_reward"] for r in mine), 4),
                   "tokens": round(fmean(r["stats"]["tokens_generated"] for r in mine), 1)}
            if path != reference:
                theirs = {(r["prompt_id"], r["seed"]): r["text"] for r in records
                          if r["strategy"] == f"{strategy}@{reference}"}
                row["same_reply"] = sum(theirs.get((r["prompt_id"], r["seed"])) == r["text"] for r in mine)
                diff = paired_difference(records, f"{strategy}@{path}", f"{strategy}@{reference}")
                row["minus_reference"] = {k: round(v, 4) if isinstance(v, float) else v for k, v in diff.items()
                                          if k in ("n", "mean", "ci_low", "ci_high", "significant")}
            rows[path] = row
            print(f"{strategy:>10} {path:>6}: {row}")
        report["strategies"][strategy] = rows
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
