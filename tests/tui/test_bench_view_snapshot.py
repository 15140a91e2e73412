"""A picture of the finished bench view at 80x24 (pytest-textual-snapshot), made deterministic:
the bench runs first on the scripted models, each cell's wall seconds replaced by a fixed value
per token, and its progress lines are what the view's child then replays."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from fakes import ScriptedPolicy, ScriptedReward

from stars_engine.bench import BenchPlan, parse_specs, run_bench
from stars_engine.bench.progress import Finished, ProgressWriter
from stars_engine.bench.prompts import BenchPrompt
from stars_engine.events import RunFinished
from stars_engine.params import Params
from stars_tui.screens.bench import BenchApp, BenchChild

from .helpers import wait_until
from .test_tui_snapshots import steady


def fixed_seconds(stream):
    """Each run's wall seconds as 10 ms a generated token, so the seconds plot and leaders hold still."""
    for event in stream:
        if isinstance(event, RunFinished):
            stats = dataclasses.replace(event.stats, wall_seconds=event.stats.tokens_generated / 100)
            event = dataclasses.replace(event, stats=stats)
        yield event


def test_finished_bench_view_at_80x24(snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the note names the out folder as given
    base = Params(max_new_tokens=8)
    specs = parse_specs("vanilla,bon-2,bon-4,stars:seg=2:k=1", base)
    prompts = [BenchPrompt(f"p{i}", "help", f"Say hello {i}") for i in range(3)]
    plan = BenchPlan(prompts, specs, [0, 1], base, Path("out"))
    lines = tmp_path / "progress.jsonl"
    with lines.open("wb") as stream:
        writer = ProgressWriter(stream)
        writer.write(Finished(run_bench(ScriptedPolicy(), ScriptedReward(), None, plan, writer.hooks(), fixed_seconds)))
    replay = f"import shutil, sys; shutil.copyfileobj(open({str(lines)!r}, 'rb'), sys.stdout.buffer)"
    app = BenchApp(BenchChild([sys.executable, "-c", replay], Path("out")))

    async def finished(pilot) -> None:
        await wait_until(pilot, lambda: app.bench.phase == "done" and app.bench.final, "the bench to finish")
        await steady(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=finished)
