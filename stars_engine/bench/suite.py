"""One bench run from start to finish: cells, then judge verdicts, then summary and plot.

Files in the output folder:
    cells.jsonl      one line per finished (prompt, strategy, seed) cell
    verdicts.jsonl   one line per held-out judge comparison (every judge, one file)
    summary.json     every number (what the table and plot show, and the goal check)
    summary.md       the table as Markdown
    frontier.png/svg reward against tokens generated
    judges.png/svg   each judge's win rate against vanilla over guide reward (when a judge ran)
Run it again with the same folder and it picks up where it stopped.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..params import Params
from ..policy.base import Policy
from ..reward.base import Reward
from .cells import Cell, EventWrapper, grid, run_cells
from .judge import PairJudge
from .judging import Pair, judge_pairs, plan_pairs
from .log import JsonlLog
from .metrics import summarize
from .plot import plot_frontier, plot_judges
from .prompts import BenchPrompt
from .report import markdown_table
from .strategies import StrategySpec

CELLS, VERDICTS, SUMMARY = "cells.jsonl", "verdicts.jsonl", "summary.json"


@dataclass
class Hooks:
    """Progress callbacks (the CLI drives a progress bar with them); all optional."""

    cells_total: Callable[[int], None] = lambda n: None
    cell_done: Callable[[Cell, dict[str, Any], bool], None] = lambda c, r, s: None
    pairs_total: Callable[[int], None] = lambda n: None
    pair_done: Callable[[Pair, bool], None] = lambda p, s: None


@dataclass
class BenchPlan:
    prompts: list[BenchPrompt]
    specs: list[StrategySpec]
    seeds: list[int]
    base: Params
    out_dir: Path
    config: dict[str, Any] = field(default_factory=dict)
    system: str = ""  # --system: sent first in every cell (and part of each cell's key)

    def cells(self) -> list[Cell]:
        return grid(self.prompts, self.specs, self.seeds, self.base, self.system)


def run_bench(
    policy: Policy,
    reward: Reward,
    judges: dict[str, PairJudge] | None,
    plan: BenchPlan,
    hooks: Hooks | None = None,
    wrap: EventWrapper | None = None,
    cancel: threading.Event | None = None,
    workers: Sequence[Policy] = (),
) -> dict[str, Any]:
    """Run (or resume) the bench and write every output file; return the summary.

    ``judges`` maps a short name (its table column) to a held-out judge.
    ``workers`` are more policies of the same model, to keep that many more cells in flight.
    """
    hooks = hooks or Hooks()
    out = Path(plan.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cells = plan.cells()
    hooks.cells_total(len(cells))
    records = run_cells(policy, reward, cells, JsonlLog(out / CELLS), hooks.cell_done, wrap, cancel, workers)
    judges = judges or {}
    pairs = plan_pairs(records) if judges else []
    hooks.pairs_total(len(pairs) * len(judges))
    verdicts = judge_pairs(judges, pairs, JsonlLog(out / VERDICTS), hooks.pair_done, 1 + len(workers)) if judges else {}
    summary = summarize(records, pairs, verdicts, {name: j.judge_id for name, j in judges.items()})
    summary["config"] = {
        **plan.config,
        "prompts": len(plan.prompts),
        "seeds": plan.seeds,
        "strategies": [s.label for s in plan.specs],
        "max_new_tokens": plan.base.max_new_tokens,
        "base_params": plan.base.to_dict(),
        "policy_id": policy.model_id,
        "servers": sorted({p.server_url for p in (policy, *workers) if p.server_url}),
        "concurrency": 1 + len(workers),
        "reward_id": reward.reward_id,
    }
    (out / SUMMARY).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "summary.md").write_text(markdown_table(summary), encoding="utf-8")
    summary["plots"] = [str(p) for p in [*plot_frontier(summary, out), *plot_judges(summary, out)]]
    return summary
