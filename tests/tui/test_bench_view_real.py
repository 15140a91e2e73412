"""``stars bench --tui`` on the real default models, through the command, its bench in a real
child process (``python -m stars_tui bench``): the cells land on the screen, the frontier plots
get their points, the held-out rubric judges the pairs, and the child is gone at the end."""

from __future__ import annotations

import sys

import pytest

from stars_tui.widgets.bench_plot import FrontierPlot
from stars_tui.widgets.bench_tables import CellsTable

from .helpers import screen_text
from .test_bench_view import drive_view, gone, until_done

pytestmark = pytest.mark.real


def test_a_real_bench_lands_its_cells_and_plots_its_points(monkeypatch, tmp_path, capsys):
    args = ["bench", "--limit", "2", "--strategies", "vanilla,bon-2", "--seeds", "0", "--max-new-tokens", "16",
            "--judge", "rubric", "--out", str(tmp_path / "out"), "--tui"]

    async def watch(pilot, app) -> None:
        await until_done(pilot, app, limit=600)
        screen = app.bench
        assert screen.failure is None and screen.final
        assert screen.query_one(CellsTable).row_count == 4
        assert "cells 4/4" in screen_text(app) and "bon-2" in screen_text(app)
        assert all(not r["error"] and r["stats"]["tokens_generated"] > 0 for r in screen.records)
        for plot in screen.query(FrontierPlot):
            assert {p.strategy for p in plot.points} == {"vanilla", "bon-2"}
        assert screen.pairs is not None and screen.pairs[0] == screen.pairs[1] > 0
        await pilot.press("q")

    code, app = drive_view(monkeypatch, args, (80, 24), watch, limit=60)
    assert code is None and app.return_value == "done" and gone(app)
    assert app.bench.process is not None and app.bench.process.args[:3] == [sys.executable, "-m", "stars_tui"]
    assert "rubric judge" in capsys.readouterr().out
