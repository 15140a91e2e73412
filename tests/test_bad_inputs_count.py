"""The counter behind README's reliability figure: it tells a clean error from everything else."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bad_inputs.py"
spec = importlib.util.spec_from_file_location("bad_inputs", SCRIPT)
bad_inputs = sys.modules["bad_inputs"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bad_inputs)

DB, OUT = Path("s.db"), Path("x.md")


@pytest.mark.parametrize(
    ("code", "stderr", "after", "ran", "outcome"),
    [
        (2, "error: no\n", {DB: "a"}, False, "clean"),
        (1, "Traceback (most recent call last):\n  ...\n", {DB: "a"}, False, "traceback"),
        (0, "", {DB: "a"}, False, "silently accepted"),
        (2, "error: no\n", {DB: "b"}, False, "database changed"),
        (2, "error: no\n", {DB: "a", Path("new.db"): "c"}, False, "database changed"),
        (2, "error: no\n", {DB: "a"}, True, "code ran"),
        (2, "error: no\n", {DB: "a", OUT: "half"}, False, "other"),
        (2, "error: no\nmore\n", {DB: "a"}, False, "other"),
        (1, "error: no\n", {DB: "a"}, False, "other"),
    ],
)
def test_classify(code, stderr, after, ran, outcome):
    assert bad_inputs.classify(code, stderr, {DB: "a"}, after, ran) == outcome


def test_the_figure_names_every_outcome():
    counts = bad_inputs.Counter({"clean": 3, "traceback": 1, "other": 2})
    assert bad_inputs.figure(counts) == ("6 bad inputs, 3 clean errors, 1 tracebacks, 0 silently accepted, "
                                         "0 databases changed, 2 other")


def test_a_few_real_cases_run_clean(tmp_path):
    names = {"an unknown command", "import: not JSON", "database truncated: export"}
    chosen = [c for c in bad_inputs.cases() if c.name in names]
    assert len(chosen) == len(names)
    template = bad_inputs.template_folder(tmp_path)
    assert [bad_inputs.run_case(c, template)["outcome"] for c in chosen] == ["clean"] * len(names)
