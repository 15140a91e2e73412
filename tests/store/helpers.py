"""Shared by the store tests: record a scripted run, call the CLI in-process, fingerprint a file."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
from fakes import ScriptedPolicy, ScriptedReward

from stars_engine.engine import run
from stars_engine.events import Event
from stars_engine.params import Params
from stars_engine.store import Recorder
from stars_tui.cli import main


def record_fake(
    db: Path,
    prompt: str = "be kind and clear",
    session_id: str | None = None,
    history: list[dict[str, str]] | None = None,
    **params,
) -> tuple[Recorder, list[Event]]:
    """Record one scripted run; returns the recorder (run_id, session_id) and the events it passed on."""
    messages = [*(history or []), {"role": "user", "content": prompt}]
    settings = {"segment_tokens": 3, "max_new_tokens": 12, "max_attempts": 4, "seed": 7, **params}
    recorder = Recorder(db, session_id=session_id)
    events = list(recorder.record(run(ScriptedPolicy(eos_after=10), ScriptedReward(), messages, Params(**settings))))
    return recorder, events


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``stars ARGV`` in this process as the console script would: (exit code, stdout, stderr)."""
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record_events(db: Path, events: list[Event], title: str | None = None) -> Recorder:
    """Record a hand-written event stream (text no scripted model would write)."""
    recorder = Recorder(db, title=title)
    for _ in recorder.record(events):
        pass
    return recorder


def record_compared(
    db: Path,
    policy,
    reward,
    specs: str = "vanilla,bon-2",
    prompt: str = "be kind and clear",
    base_seed: int = 3,
    max_new_tokens: int = 12,
    judges: dict | None = None,
):
    """Run a comparison as ``stars compare`` does (a recorder per column, one session, then the linking
    record); returns (comparison id, session id, the engine's ``Comparison`` with each column's run id)."""
    from stars_engine.compare import Comparison, plan, summarize
    from stars_engine.compare.recording import ColumnRecorders

    comparison = Comparison(plan(specs, Params(max_new_tokens=max_new_tokens), base_seed),
                            [{"role": "user", "content": prompt}])
    recorders = ColumnRecorders(db)

    def ended(outcome) -> None:
        outcome.run_id = recorders.run_id(outcome.column)

    for _ in comparison.events(policy, reward, threading.Event(), recorders.wrap, ended):
        pass
    comparison_id = recorders.link(comparison, summarize(comparison, judges or {}, base_seed))
    assert comparison_id is not None and recorders.session_id is not None
    return comparison_id, recorders.session_id, comparison
