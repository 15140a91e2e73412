"""``stars bench --tui`` driven through the command with Textual's pilot, its bench in a child
process: ``tests/fake_stars.py`` (the same command on the scripted models). Cells land in the
table, the progress bar reaches 100 %, the leaders and the frontier fill, a cell opens in replay
(with ``--db``; one line without), closing mid-run keeps the finished cells (and the ones in
flight) for a second run to resume and leaves no child behind, and a child that fails is one line."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from fakes import scripted_backend
from textual.widgets import ProgressBar

from stars_engine import backends
from stars_engine.backends.priority import BACKGROUND_NICENESS
from stars_engine.events import RunStarted
from stars_tui import cli
from stars_tui.commands import bench as bench_command
from stars_tui.screens.bench import NO_DB, STOPPED, BenchApp
from stars_tui.screens.replay import ReplayScreen
from stars_tui.widgets.bench_plot import FrontierPlot
from stars_tui.widgets.bench_tables import CellsTable, LeadersTable

from .helpers import wait_until

FAKE_STARS = Path(__file__).resolve().parents[1] / "fake_stars.py"
SIZES = [(80, 24), (120, 40)]
PARTS = ("#bench-head", "#bench-progress", "#bench-cells", "#bench-leaders", "#bench-plot-tokens",
         "#bench-plot-seconds", "#bench-note")
STRATEGIES = "vanilla,bon-2,bon-4"
Scenario = Callable[[object, BenchApp], Awaitable[None]]


def prompt_file(tmp_path: Path, n: int = 2) -> Path:
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps({"id": f"p{i}", "category": "help", "prompt": f"Say hello {i}"}) + "\n"
                            for i in range(n)))
    return path


def bench_args(tmp_path: Path, *extra: str, strategies: str = STRATEGIES, seeds: str = "0,1") -> list[str]:
    return ["bench", "--prompts", str(prompt_file(tmp_path)), "--strategies", strategies, "--seeds", seeds,
            "--max-new-tokens", "8", "--judge", "none", "--out", str(tmp_path / "out"), "--tui", *extra]


def drive_view(monkeypatch, args: list[str], size: tuple[int, int], scenario: Scenario,
               limit: float = 30) -> tuple[int | None, BenchApp]:
    """``stars ARGS``, its view driven by ``scenario`` in Textual's pilot; (exit code, the app)."""
    shown: list[BenchApp] = []

    def drive(app: BenchApp) -> None:
        shown.append(app)

        async def go() -> None:
            async with app.run_test(size=size) as pilot:
                await scenario(pilot, app)
                await wait_until(pilot, lambda: not app.is_running, "the view to close", limit=limit)

        asyncio.run(go())

    monkeypatch.setattr(bench_command, "show_view", drive)
    try:
        cli.main(args)
        code = None
    except SystemExit as exc:
        code = exc.code
    return code, shown[0]


def run_view(monkeypatch, args: list[str], size: tuple[int, int], scenario: Scenario,
             child: list[str] | None = None) -> tuple[int | None, BenchApp]:
    """``drive_view`` with the child on the scripted models (``tests/fake_stars.py``, or ``child``)."""
    monkeypatch.setattr(bench_command, "CHILD_COMMAND", child or [sys.executable, str(FAKE_STARS)])
    with backends.registered(scripted_backend("local")):  # the view's own checks, model-free too
        return drive_view(monkeypatch, args, size, scenario)


def gone(app: BenchApp) -> bool:
    """The child has ended and been reaped: no process of that id is left."""
    process = app.bench.process
    assert process is not None
    try:
        os.kill(process.pid, 0)
    except ProcessLookupError:
        return process.returncode is not None
    return False


def gate_cells(monkeypatch, tmp_path: Path, hold: int | None = None) -> Path:
    """A gate folder the fake child waits on: every reply from the ``hold``-th (default the first) waits at
    its start until ``gate/open`` exists (``tests/fake_stars.py``)."""
    gate = tmp_path / "gate"
    gate.mkdir()
    monkeypatch.setenv("FAKE_STARS_GATE", str(gate))
    if hold is not None:
        monkeypatch.setenv("FAKE_STARS_HOLD", str(hold))
    return gate


def held(gate: Path) -> int:
    return len(list(gate.glob("held-*")))


async def until_done(pilot, app: BenchApp, limit: float = 60) -> None:
    await wait_until(pilot, lambda: app.bench.phase == "done", "the bench to finish", limit=limit)


def fits(app: BenchApp) -> None:
    """Every part of the view is on the screen, none squeezed away, the plots tall enough to read."""
    width, height = app.size
    for selector in PARTS:
        region = app.bench.query_one(selector).region
        assert region.width > 0 and region.height > 0, selector
        assert region.right <= width and region.bottom <= height, (selector, region)
    assert all(plot.region.height >= 7 for plot in app.bench.query(FrontierPlot))


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_cells_land_the_bar_fills_and_the_leaders_and_frontier_follow(monkeypatch, tmp_path, capsys, size):
    async def scenario(pilot, app: BenchApp) -> None:
        await until_done(pilot, app)
        screen = app.bench
        assert screen.total == 12 and len(screen.records) == 12
        assert screen.query_one(CellsTable).row_count == 12
        assert screen.query_one(ProgressBar).percentage == 1.0
        leaders = screen.query_one(LeadersTable)
        assert leaders.row_count == 4  # bon-2 and bon-4, in tokens and in seconds
        assert {str(leaders.get_row_at(i)[1]) for i in range(4)} <= set(STRATEGIES.split(","))
        for plot in screen.query(FrontierPlot):
            assert [p.strategy for p in plot.points] and {p.strategy for p in plot.points} == set(STRATEGIES.split(","))
        fits(app)
        assert "cells 12/12" in str(screen.query_one("#bench-head").render())
        await pilot.press("q")

    code, app = run_view(monkeypatch, bench_args(tmp_path), size, scenario)
    assert code is None and app.return_value == "done" and gone(app)
    out = capsys.readouterr().out
    assert "stars bench (means per reply)" in out and "summary.json" in out
    assert (tmp_path / "out" / "summary.json").is_file()


def test_closing_mid_run_keeps_the_finished_cells_and_a_second_run_resumes_them(monkeypatch, tmp_path, capsys):
    gate = gate_cells(monkeypatch, tmp_path, 3)
    db = tmp_path / "s.db"
    args = bench_args(tmp_path, "--db", str(db))

    async def close_during_the_third(pilot, app: BenchApp) -> None:
        screen = app.bench
        await wait_until(pilot, lambda: held(gate) == 1 and len(screen.records) == 2, "two cells landed")
        assert screen.query_one(CellsTable).row_count == 2  # they show while the third runs
        assert "ETA" in str(screen.query_one("#bench-head").render())
        mine = os.getpriority(os.PRIO_PROCESS, 0)  # the child's models yield the cores to the view
        assert os.getpriority(os.PRIO_PROCESS, screen.process.pid) == min(mine + BACKGROUND_NICENESS, 19)
        await pilot.press("q")
        assert screen.phase == "stopping" and app.is_running  # the cell in flight goes on
        (gate / "open").touch()

    code, app = run_view(monkeypatch, args, (80, 24), close_during_the_third)
    assert code == 130 and app.return_value == STOPPED and gone(app)
    assert capsys.readouterr().err.strip().endswith(STOPPED)
    lines = [json.loads(line) for line in (tmp_path / "out" / "cells.jsonl").read_text().splitlines()]
    kept = [r for r in lines if not r["error"]]
    assert len(kept) == 3 and len(app.bench.records) == 3  # the one in flight finished and was kept
    assert all(r["error"] == "cancelled" for r in lines if r["error"])  # the next one never ran
    monkeypatch.delenv("FAKE_STARS_GATE")

    async def resume(pilot, app: BenchApp) -> None:
        await until_done(pilot, app)
        screen = app.bench
        assert screen.reused == 3 and len(screen.records) == 12
        assert "resumed: 3 cells reused" in str(screen.query_one("#bench-head").render())
        table = screen.query_one(CellsTable)
        table.focus()
        table.move_cursor(row=0)  # a reused cell, recorded by the first run into the same --db
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ReplayScreen), "the replay screen")
        started = next(e for e in app.screen.events if isinstance(e, RunStarted))
        first = screen.records[0]
        assert (started.seed, started.messages[-1]["content"]) == (first["seed"], first["prompt"])
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen, "back to the bench")
        await pilot.press("q")

    code, app = run_view(monkeypatch, args, (120, 40), resume)
    assert code is None and app.return_value == "done"
    finished = {r["key"] for line in (tmp_path / "out" / "cells.jsonl").read_text().splitlines()
                if not (r := json.loads(line))["error"]}
    assert len(finished) == 12 and {r["key"] for r in kept} <= finished


def test_quitting_while_the_models_load_ends_the_child_at_once(monkeypatch, tmp_path, capsys):
    """Before the first cell there is nothing to keep: q kills the child without waiting for its models."""
    gate_cells(monkeypatch, tmp_path)  # the first reply never starts: the bench stays busy

    async def quit_early(pilot, app: BenchApp) -> None:
        await pilot.press("q")

    code, app = run_view(monkeypatch, bench_args(tmp_path), (80, 24), quit_early)
    assert code == 130 and app.return_value == STOPPED and gone(app)
    assert capsys.readouterr().err.strip().endswith(STOPPED)


def test_an_app_that_ends_otherwise_kills_its_child(monkeypatch, tmp_path):
    """The app's exit by any other way (here app.exit mid-cell) leaves no child; the cells logged stay."""
    gate = gate_cells(monkeypatch, tmp_path, 2)

    async def exit_mid_cell(pilot, app: BenchApp) -> None:
        await wait_until(pilot, lambda: held(gate) == 1 and len(app.bench.records) == 1, "a cell landed")
        app.exit("gone")

    code, app = run_view(monkeypatch, bench_args(tmp_path), (80, 24), exit_mid_cell)
    assert code == 130 and gone(app)
    lines = [json.loads(line) for line in (tmp_path / "out" / "cells.jsonl").read_text().splitlines()]
    assert len(lines) == 1 and not lines[0]["error"]


def test_a_point_opens_its_strategys_best_cell_in_replay(monkeypatch, tmp_path):
    async def pick(pilot, app: BenchApp) -> None:
        await until_done(pilot, app)
        plot = app.bench.query_one("#bench-plot-tokens", FrontierPlot)
        plot.focus()
        await pilot.press("right", "right")  # the second cheapest point: bon-2
        other = app.bench.query_one("#bench-plot-seconds", FrontierPlot)
        await wait_until(pilot, lambda: other.picked == "bon-2", "the seconds plot to highlight it too")
        assert "bon-2" in str(other.border_subtitle)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ReplayScreen), "the replay screen")
        mine = [r for r in app.bench.records if r["strategy"] == plot.picked]
        best = max(mine, key=lambda r: r["guide_reward"])
        started = next(e for e in app.screen.events if isinstance(e, RunStarted))
        assert plot.picked == "bon-2" and started.params["best_of_n"] == 2
        assert (started.seed, started.messages[-1]["content"]) == (best["seed"], best["prompt"])
        await pilot.press("escape", "q")

    code, _ = run_view(monkeypatch, bench_args(tmp_path, "--db", str(tmp_path / "s.db")), (80, 24), pick)
    assert code is None


def test_without_db_picking_a_cell_says_replay_needs_it(monkeypatch, tmp_path):
    async def pick(pilot, app: BenchApp) -> None:
        await until_done(pilot, app)
        app.bench.query_one(CellsTable).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert str(app.bench.query_one("#bench-note").render()) == NO_DB
        assert app.screen is app.bench
        await pilot.press("q")

    code, _ = run_view(monkeypatch, bench_args(tmp_path, strategies="vanilla,bon-2", seeds="0"), (80, 24), pick)
    assert code is None


FAILING_CHILD = """
import sys
sys.stdout.write('{"type": "total", "cells": 3}\\n')
sys.stdout.flush()
sys.stderr.write('Traceback (most recent call last):\\n  something\\nerror: disk on fire \\x1b[31mred\\n')
sys.exit(1)
"""


def test_a_child_that_fails_is_one_line_in_the_view_and_after_it(monkeypatch, tmp_path, capsys):
    async def failed(pilot, app: BenchApp) -> None:
        await wait_until(pilot, lambda: app.bench.phase == "failed", "the failure shown")
        note = str(app.bench.query_one("#bench-note").render())
        assert note == "failed: disk on fire \\x1b[31mred (q closes)"  # its last line, the escape made visible
        await pilot.press("q")

    code, app = run_view(monkeypatch, bench_args(tmp_path), (80, 24), failed,
                         child=[sys.executable, "-c", FAILING_CHILD])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err == "error: disk on fire \\x1b[31mred" and gone(app)


def test_a_child_that_sends_what_is_not_progress_is_stopped_with_one_line(monkeypatch, tmp_path, capsys):
    line = json.dumps({"type": "cell", "record": {}, "reused": False})  # a cell without its record's fields
    liar = [sys.executable, "-c", f"import sys, time; print({line!r}, flush=True); time.sleep(60)"]

    async def failed(pilot, app: BenchApp) -> None:
        await wait_until(pilot, lambda: app.bench.phase == "failed", "the failure shown")
        await pilot.press("q")

    code, app = run_view(monkeypatch, bench_args(tmp_path), (80, 24), failed, child=liar)
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and gone(app)
    assert err.startswith("error: the bench sent what is not progress: ") and "key" in err


def test_closing_with_two_cells_in_flight_keeps_both(monkeypatch, tmp_path, capsys):
    """With --concurrency 2 (two replicas), q lets both cells in flight finish and be kept; none starts after."""
    gate = gate_cells(monkeypatch, tmp_path, 3)

    async def close_with_two_running(pilot, app: BenchApp) -> None:
        await wait_until(pilot, lambda: held(gate) == 2 and len(app.bench.records) == 2, "two cells held")
        await pilot.press("q")
        (gate / "open").touch()

    code, app = run_view(monkeypatch, bench_args(tmp_path, "--concurrency", "2"), (80, 24), close_with_two_running)
    assert code == 130 and capsys.readouterr().err.strip().endswith(STOPPED) and gone(app)
    lines = [json.loads(line) for line in (tmp_path / "out" / "cells.jsonl").read_text().splitlines()]
    assert len([r for r in lines if not r["error"]]) == 4 and len(app.bench.records) == 4
    assert all(r["error"] == "cancelled" for r in lines if r["error"])


def test_the_child_is_the_same_command_with_the_options_as_given(monkeypatch, tmp_path, capsys):
    """Every option given goes to the child as written (a value that starts with a dash stays a value),
    the defaults stay out, --tui becomes the progress stream."""
    shown: list[BenchApp] = []
    monkeypatch.setattr(bench_command, "show_view", shown.append)
    db = tmp_path / "s.db"
    with backends.registered(scripted_backend("local")), pytest.raises(SystemExit):
        cli.main(bench_args(tmp_path, "--db", str(db), "--concurrency", "2", "--system", "-be brief", "--limit", "1"))
    argv = shown[0].child.argv
    assert argv[:4] == [*bench_command.CHILD_COMMAND, "bench"] and argv[-1] == bench_command.CHILD_FLAG
    assert sorted(argv[4:-1]) == sorted([
        f"--prompts={prompt_file(tmp_path)}", f"--strategies={STRATEGIES}", "--seeds=0,1", "--max-new-tokens=8",
        "--judge=none", f"--out={tmp_path / 'out'}", f"--db={db}", "--concurrency=2", "--system=-be brief",
        "--limit=1"])
    assert capsys.readouterr().err.strip() == STOPPED  # the view never ran: nothing finished
