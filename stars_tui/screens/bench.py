"""``stars bench --tui``: the same bench (options, out folder, resume) with a live view.

The bench runs in a thread worker and reports each finished cell through its
``Hooks``; each report crosses to the event loop as a message. The summary
(``stars_engine.bench.metrics.summarize``, the very numbers ``summary.json``
gets) is recomputed in another thread worker as cells land, one at a time, and
feeds the frontier plots and the per-budget leaders table. Closing the view
stops the bench after the cells in flight: ``cells.jsonl`` already holds every
finished cell, so the same command resumes. A cell's run opens in the replay
screen when the bench records into a session database (``--db``); the run is
found there by what the cell recorded (its messages, seed, models, reply and
stats), so cells reused from an earlier run with the same ``--db`` open too.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, ProgressBar

from stars_engine.bench import BenchPlan, Hooks, run_bench
from stars_engine.bench.cells import Cell, EventWrapper
from stars_engine.bench.metrics import summarize
from stars_engine.display.controls import error_line
from stars_engine.errors import StarsError
from stars_engine.events import Event
from stars_engine.store import open_store

from ..literal import LiteralNotifications, literal
from ..widgets.bench_plot import FrontierPlot
from ..widgets.bench_tables import CellsTable, LeadersTable
from .replay import ReplayScreen

NO_DB = "replay needs --db: run the bench with --db FILE to record its cells"
STOPPED = "stopped; run again to resume"


@dataclass
class BenchJob:
    """What ``stars bench`` loaded and planned: the bench the view runs (``record`` is the ``--db`` recorder)."""

    policy: Any
    reward: Any
    judges: dict[str, Any] | None
    plan: BenchPlan
    workers: Sequence[Any] = ()
    record: EventWrapper | None = None
    db: Path | None = None

    @property
    def concurrency(self) -> int:
        return 1 + len(self.workers)

    def run(self, hooks: Hooks, wrap: EventWrapper, cancel: threading.Event) -> dict[str, Any]:
        return run_bench(self.policy, self.reward, self.judges, self.plan, hooks, wrap, cancel, self.workers)


class Stopped(Exception):
    """The view was closed: the bench ends before judging (or between two judged pairs)."""


class Drain:
    """Stops the bench after the cells in flight, without cancelling them.

    ``run_cells`` has one cancel event for both "start nothing new" and "stop the
    runs in flight", so the stop is taken at the next cell's start: once asked, a
    cell about to start waits for those in flight to finish (and be logged),
    then sets the cancel event, so it ends at once as cancelled (tried again on
    resume) and the bench starts nothing more.
    """

    def __init__(self, cancel: threading.Event, inner: EventWrapper | None = None) -> None:
        self.cancel = cancel
        self.inner = inner
        self.stopping = threading.Event()
        self._changed = threading.Condition()
        self._in_flight = 0

    def stop(self) -> None:
        self.stopping.set()

    def wrap(self, stream: Iterator[Event]) -> Iterator[Event]:
        with self._changed:
            if self.stopping.is_set():
                self._changed.wait_for(lambda: self._in_flight == 0)
                self.cancel.set()
            self._in_flight += 1
        try:
            yield from (self.inner(stream) if self.inner else stream)
        finally:
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()


def find_run(db: Path, messages: list[dict[str, str]], record: dict[str, Any]) -> str | None:
    """The id of the recorded run a finished cell record came from, or None when the database has none."""
    stats = json.loads(json.dumps(record["stats"]))  # as the store keeps it (tuples as lists)
    with open_store(db) as store:
        rows = store.db.execute(
            "SELECT id, messages, stats FROM runs WHERE status = 'finished' AND seed = ? AND policy_id = ? "
            "AND reward_id = ? AND final_text = ? ORDER BY started_at DESC",
            [record["seed"], record["policy_id"], record["reward_id"], record["text"]],
        ).fetchall()
    for run_id, sent, kept in rows:
        if json.loads(sent) == messages and json.loads(kept) == stats:
            return run_id
    return None


def run_events(db: Path, run_id: str) -> list[Event]:
    with open_store(db) as store:
        return store.run_events(run_id)


def duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class CellsTotal(Message):
    def __init__(self, total: int) -> None:
        super().__init__()
        self.total = total


class CellLanded(Message):
    def __init__(self, cell: Cell, record: dict[str, Any], reused: bool) -> None:
        super().__init__()
        self.cell, self.record, self.reused = cell, record, reused


class PairsCounted(Message):
    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done, self.total = done, total


class SummaryReady(Message):
    def __init__(self, summary: dict[str, Any], final: bool) -> None:
        super().__init__()
        self.summary, self.final = summary, final


class BenchEnded(Message):
    """The bench worker returned: with the summary, stopped, or with the exception that ended it."""

    def __init__(self, summary: dict[str, Any] | None, stopped: bool, error: BaseException | None) -> None:
        super().__init__()
        self.summary, self.stopped, self.error = summary, stopped, error


class RunLoaded(Message):
    def __init__(self, events: list[Event] | None, title: str, note: str) -> None:
        super().__init__()
        self.events, self.title, self.note = events, title, note


class BenchScreen(Screen):
    """Cells as they land, progress and ETA, the frontier, the per-budget leaders; q stops and closes."""

    DEFAULT_CSS = """
    BenchScreen #bench-head { width: 100%; height: auto; padding: 0 1; }
    BenchScreen #bench-progress { height: 1; padding: 0 1; }
    BenchScreen #bench-top { height: 1fr; }
    BenchScreen #bench-cells { width: 3fr; }
    BenchScreen #bench-leaders { width: 2fr; }
    BenchScreen #bench-plots { height: 1fr; min-height: 7; }
    BenchScreen #bench-note { width: 100%; height: 1; padding: 0 1; color: $text-muted;
                              text-wrap: nowrap; text-overflow: ellipsis; }
    """
    BINDINGS = [
        Binding("q,escape", "close", "Stop & close",
                tooltip="Stop the bench after the cells in flight (finished cells are kept) and close"),
    ]

    def __init__(self, job: BenchJob) -> None:
        super().__init__()
        self.job = job
        self.cancel = threading.Event()
        self.drain = Drain(self.cancel, job.record)
        self.records: list[dict[str, Any]] = []
        self.cells: list[Cell] = []
        self.total: int | None = None
        self.reused = 0
        self.ran = 0
        self.ran_seconds = 0.0
        self.pairs: tuple[int, int] | None = None
        self.phase = "cells"  # cells, judging, stopping, done, failed
        self.summary: dict[str, Any] | None = None
        self.final = False
        self.summarizing = False
        self.stale = False
        self.error: BaseException | None = None

    def compose(self) -> ComposeResult:
        yield Label("", id="bench-head")
        yield ProgressBar(id="bench-progress", show_eta=False)
        with Horizontal(id="bench-top"):
            yield CellsTable(id="bench-cells")
            yield LeadersTable(id="bench-leaders")
        with Horizontal(id="bench-plots"):
            yield FrontierPlot("tokens_generated", "tokens", id="bench-plot-tokens")
            yield FrontierPlot("wall_seconds", "seconds", id="bench-plot-seconds")
        yield Label("", id="bench-note")
        yield Footer()

    def on_mount(self) -> None:
        self.redraw_head()
        self.run_worker(self.run_bench, thread=True, group="bench", exit_on_error=False)

    def on_unmount(self) -> None:
        self.drain.stop()  # however the app ends, the bench starts no new cell

    # -- the bench, in its thread --------------------------------------------------
    def run_bench(self) -> None:
        pairs = [0, 0]

        def pairs_total(n: int) -> None:
            if self.drain.stopping.is_set():
                raise Stopped
            pairs[1] = n
            self.post_message(PairsCounted(0, n))

        def pair_done(pair: Any, reused: bool) -> None:
            pairs[0] += 1
            self.post_message(PairsCounted(pairs[0], pairs[1]))
            if self.drain.stopping.is_set():
                raise Stopped

        hooks = Hooks(
            cells_total=lambda n: self.post_message(CellsTotal(n)),
            cell_done=lambda cell, record, reused: self.post_message(CellLanded(cell, record, reused)),
            pairs_total=pairs_total,
            pair_done=pair_done,
        )
        try:
            summary = self.job.run(hooks, self.drain.wrap, self.cancel)
        except Stopped:
            self.post_message(BenchEnded(None, True, None))
        except Exception as exc:  # noqa: BLE001 - shown in the view, raised again when it closes
            self.post_message(BenchEnded(None, self.drain.stopping.is_set(), exc))
        else:
            self.post_message(SummaryReady(summary, final=True))
            self.post_message(BenchEnded(summary, False, None))

    def summarize_now(self) -> None:
        """Recompute the summary from the cells so far, in a thread; once more if cells landed meanwhile."""
        self.summarizing, self.stale = True, False
        self.run_worker(lambda: self._summarize(list(self.records)), thread=True, group="summary",
                        exit_on_error=False)

    def _summarize(self, records: list[dict[str, Any]]) -> None:
        self.post_message(SummaryReady(summarize(records, [], {}, {}), final=False))

    # -- messages from the threads -------------------------------------------------
    def on_cells_total(self, message: CellsTotal) -> None:
        self.total = message.total
        self.redraw_head()

    def on_cell_landed(self, message: CellLanded) -> None:
        record = message.record
        if self.drain.stopping.is_set() and record.get("error") == "cancelled":
            return  # the cell the stop cancelled at its start: it runs on resume
        self.records.append(record)
        self.cells.append(message.cell)
        if message.reused:
            self.reused += 1
        elif record.get("stats"):
            self.ran += 1
            self.ran_seconds += record["stats"]["wall_seconds"]
        self.query_one(CellsTable).add_cell(len(self.records) - 1, record, message.reused)
        if self.summarizing:
            self.stale = True
        elif not self.final:
            self.summarize_now()
        self.redraw_head()

    def on_summary_ready(self, message: SummaryReady) -> None:
        if not message.final:
            self.summarizing = False
            if self.stale and not self.final:
                self.summarize_now()
        if self.final and not message.final:
            return
        self.final = self.final or message.final
        self.summary = message.summary
        self.query_one(LeadersTable).show(message.summary)
        for plot in self.query(FrontierPlot):
            plot.show(message.summary["strategies"])

    def on_pairs_counted(self, message: PairsCounted) -> None:
        self.pairs = (message.done, message.total)
        if self.phase == "cells" and message.total:
            self.phase = "judging"
        self.redraw_head()

    def on_bench_ended(self, message: BenchEnded) -> None:
        self.error = message.error
        if message.stopped:
            self.app.exit(STOPPED)
            return
        asked_to_stop = self.phase == "stopping"
        self.phase = "failed" if message.error is not None else "done"
        if asked_to_stop:
            self.app.exit(self.phase)  # it ended before the stop was taken (a failure, or whole)
            return
        if message.error is not None:
            self.note(f"failed: {error_line(message.error)} (q closes)")
        else:
            out = self.job.plan.out_dir
            self.note(f"wrote {out / 'summary.json'} and the plots; q closes")
        self.redraw_head()

    # -- the head line -------------------------------------------------------------
    def redraw_head(self) -> None:
        landed = len(self.records)
        bar = self.query_one(ProgressBar)
        if self.total is not None:
            bar.update(total=self.total, progress=landed)
        parts = [f"cells {landed}/{'?' if self.total is None else self.total}"]
        if self.reused:
            parts.append(f"resumed: {self.reused} cells reused")
        failed = sum(bool(r.get("error")) for r in self.records)
        if failed:
            parts.append(f"{failed} failed")
        if self.phase == "cells" and self.total is not None and landed < self.total:
            parts.append("ETA " + (duration(self.eta()) if self.ran else "after the first cell"))
        if self.pairs and self.pairs[1]:
            parts.append(f"judged {self.pairs[0]}/{self.pairs[1]} pairs")
        parts.append({"stopping": "stopping after the cells in flight", "done": "done",
                      "failed": "failed"}.get(self.phase, ""))
        self.query_one("#bench-head", Label).update(Text(" · ".join(p for p in parts if p)))

    def eta(self) -> float:
        """Seconds left: the cells still to land at the mean wall time of those run this time, spread
        over the cells that run at once."""
        left = (self.total or 0) - len(self.records)
        return left * (self.ran_seconds / self.ran) / self.job.concurrency

    def note(self, text: str) -> None:
        self.query_one("#bench-note", Label).update(literal(text))

    # -- picking a cell ------------------------------------------------------------
    @on(DataTable.RowSelected, "#bench-cells")
    def cell_picked(self, event: DataTable.RowSelected) -> None:
        self.open_run(int(str(event.row_key.value)))

    @on(FrontierPlot.Moved)
    def point_moved(self, event: FrontierPlot.Moved) -> None:
        """Both frontiers highlight the same strategy."""
        for plot in self.query(FrontierPlot):
            plot.highlight(event.strategy)

    @on(FrontierPlot.Picked)
    def point_picked(self, event: FrontierPlot.Picked) -> None:
        """A point is a strategy: open its best cell (the highest guide reward)."""
        mine = [i for i, r in enumerate(self.records) if r["strategy"] == event.strategy and not r.get("error")]
        if mine:
            self.open_run(max(mine, key=lambda i: self.records[i]["guide_reward"] or float("-inf")))

    def open_run(self, index: int) -> None:
        record = self.records[index]
        if self.job.db is None:
            self.note(NO_DB)
        elif record.get("error"):
            self.note(f"{record['prompt_id']} · {record['strategy']} failed ({record['error']}): nothing to replay")
        else:
            self.note(f"opening {record['prompt_id']} · {record['strategy']} · seed {record['seed']}…")
            self.load_run(self.job.db, self.cells[index].messages(), record)

    @work(thread=True, exclusive=True, group="replay", exit_on_error=False)
    def load_run(self, db: Path, messages: list[dict[str, str]], record: dict[str, Any]) -> None:
        title = f"{record['prompt_id']} · {record['strategy']} · seed {record['seed']}"
        try:
            run_id = find_run(db, messages, record)
            if run_id is None:
                self.post_message(RunLoaded(None, title, f"{title}: not in {db} (it ran without this --db)"))
            else:
                self.post_message(RunLoaded(run_events(db, run_id), f"{title} · run {run_id[:8]}", ""))
        except (StarsError, sqlite3.Error, OSError, ValueError) as exc:
            self.post_message(RunLoaded(None, title, f"cannot open {title}: {error_line(exc)}"))

    def on_run_loaded(self, message: RunLoaded) -> None:
        self.note(message.note)
        if message.events is not None:
            self.app.push_screen(ReplayScreen(message.events, title=message.title))

    # -- closing -------------------------------------------------------------------
    def action_close(self) -> None:
        if self.phase in ("done", "failed"):
            self.app.exit(self.phase)
        elif self.phase != "stopping":
            self.phase = "stopping"
            self.drain.stop()
            self.note("stopping after the cells in flight; every finished cell is kept")
            self.redraw_head()


class BenchApp(LiteralNotifications, App):
    """The bench view on its own (``stars bench --tui``); its return value is how it ended:
    ``done``, ``failed`` or the stopped line."""

    CSS_PATH = "../stars.tcss"
    TITLE = "stars bench"
    BINDINGS = [Binding("ctrl+q", "close", "Quit", priority=True, show=False)]

    def __init__(self, job: BenchJob) -> None:
        super().__init__()
        self.job = job
        self.bench = BenchScreen(job)

    def get_default_screen(self) -> Screen:
        return self.bench

    def action_close(self) -> None:
        self.bench.action_close()
