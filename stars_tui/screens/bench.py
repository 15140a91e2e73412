"""``stars bench --tui``: the same bench (options, out folder, resume) with a live view.

The bench runs in a child process: ``stars bench`` itself with the view's
options, its progress as JSON lines on stdout (``stars_engine.bench.progress``).
Decoding holds the GIL, so in the view's own process it would stall every key;
here two threads only read the child's pipes and post each fact to the event
loop as a message. The summary (``stars_engine.bench.metrics.summarize``, the
very numbers ``summary.json`` gets) is recomputed in a thread worker as cells
land, one at a time, and feeds the frontier plots and the per-budget leaders
table. Closing the view closes the child's stdin: it stops after the cells in
flight (``cells.jsonl`` holds every finished cell, so the same command resumes).
However the view ends, the child is killed if it still runs. A cell's run opens
in the replay screen when the bench records into a session database (``--db``);
the run is found there by what the cell recorded (its messages, seed, models,
reply and stats), so cells reused from an earlier run with the same ``--db`` open too.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, ProgressBar

from stars_engine.bench.cells import messages
from stars_engine.bench.metrics import summarize
from stars_engine.bench.progress import MAX_LINE, CellDone, Finished, Pairs, Stopped, Total, read_line
from stars_engine.display.controls import error_line, one_line
from stars_engine.errors import StarsError
from stars_engine.events import Event
from stars_engine.store import open_store

from ..literal import LiteralNotifications, literal
from ..widgets.bench_plot import FrontierPlot
from ..widgets.bench_tables import CellsTable, LeadersTable
from .replay import ReplayScreen

NO_DB = "replay needs --db: run the bench with --db FILE to record its cells"
STOPPED = "stopped; run again to resume"
STDERR_LINES = 20  # the child's last lines of stderr kept (its error is the last one)


@dataclass(frozen=True)
class BenchChild:
    """The bench the view runs: the child's command line, and what the view shows about it."""

    argv: list[str]
    out_dir: Path
    db: Path | None = None
    concurrency: int = 1


@dataclass(frozen=True)
class Failure:
    """How the child failed: one visible line, and the exit status ``stars bench --tui`` ends with."""

    line: str
    code: int


def failure(code: int, stderr: list[str], broken: str | None) -> Failure | None:
    """The child's failure from its exit status and last stderr line (None when it did not fail)."""
    if broken is not None:
        return Failure(broken, 1)
    if code in (0, 130):
        return None
    last = next((one_line(line) for line in reversed(stderr) if line.strip()), "")
    last = last.removeprefix("error: ")
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return Failure(last or f"the bench process was killed ({name})", 1)
    return Failure(last or f"the bench process exited with status {code}", code if code < 126 else 1)


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
    def __init__(self, record: dict[str, Any], reused: bool) -> None:
        super().__init__()
        self.record, self.reused = record, reused


class PairsCounted(Message):
    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done, self.total = done, total


class SummaryReady(Message):
    def __init__(self, summary: dict[str, Any], final: bool) -> None:
        super().__init__()
        self.summary, self.final = summary, final


class BenchEnded(Message):
    """The child ended: it said it stopped, or it failed (or sent what is not progress), or it finished."""

    def __init__(self, stopped: bool, failure: Failure | None) -> None:
        super().__init__()
        self.stopped, self.failure = stopped, failure


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

    def __init__(self, child: BenchChild) -> None:
        super().__init__()
        self.child = child
        self.process: subprocess.Popen[bytes] | None = None
        self.stderr: deque[str] = deque(maxlen=STDERR_LINES)
        self.stderr_done = threading.Event()
        self.records: list[dict[str, Any]] = []
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
        self.failure: Failure | None = None
        self.killed = False  # the view ended the child itself: how it ended is no failure

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
        try:
            self.process = subprocess.Popen(  # its own session: no terminal signal reaches it but ours
                self.child.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True)
        except OSError as exc:
            self.post_message(BenchEnded(False, Failure(f"cannot start the bench: {error_line(exc)}", 1)))
            return
        self.run_worker(self.read_stderr, thread=True, group="bench-stderr", exit_on_error=False)
        self.run_worker(self.follow, thread=True, group="bench", exit_on_error=False)

    def on_unmount(self) -> None:
        self.end_child()

    def end_child(self) -> None:
        """Kill the child (and anything it started) if it still runs; reap it."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        self.killed = True
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()

    # -- the child, read in two threads --------------------------------------------
    def read_stderr(self) -> None:
        process = self.process
        assert process is not None and process.stderr is not None
        try:
            for line in iter(lambda: process.stderr.readline(MAX_LINE), b""):  # type: ignore[union-attr]
                self.stderr.append(line.decode("utf-8", "replace"))
        finally:
            self.stderr_done.set()

    def follow(self) -> None:
        """Each progress line as a message; at the end, how the child ended."""
        process = self.process
        assert process is not None and process.stdout is not None
        stopped, finished, broken = False, False, None
        for line in iter(lambda: process.stdout.readline(MAX_LINE + 1), b""):  # type: ignore[union-attr]
            try:
                if len(line) > MAX_LINE:
                    raise ValueError(f"a line over {MAX_LINE} bytes")
                message = read_line(line)
            except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
                broken = f"the bench sent what is not progress: {error_line(exc)}"
                self.end_child()
                self.killed = False  # this end is the child's failure, to show
                break
            if isinstance(message, Total):
                self.post_message(CellsTotal(message.cells))
            elif isinstance(message, CellDone):
                self.post_message(CellLanded(message.record, message.reused))
            elif isinstance(message, Pairs):
                self.post_message(PairsCounted(message.done, message.total))
            elif isinstance(message, Finished):
                finished = True
                self.post_message(SummaryReady(message.summary, final=True))
            elif isinstance(message, Stopped):
                stopped = True
        code = process.wait()
        self.stderr_done.wait(5)
        if broken is None and code == 0 and not finished:
            broken = "the bench ended without its summary"
        self.post_message(BenchEnded(stopped or code == 130, failure(code, list(self.stderr), broken)))

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
        if self.phase == "stopping" and record.get("error") == "cancelled":
            return  # the cell the stop cancelled at its start: it runs on resume
        self.records.append(record)
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
        if self.killed:
            return  # the view is closing already
        self.failure = message.failure
        if message.stopped and message.failure is None:
            self.app.exit(STOPPED)
            return
        asked_to_stop = self.phase == "stopping"
        self.phase = "failed" if message.failure is not None else "done"
        if asked_to_stop:
            self.app.exit(self.phase)  # it ended before the stop was taken (a failure, or whole)
            return
        if message.failure is not None:
            self.note(f"failed: {message.failure.line} (q closes)")
        else:
            self.note(f"wrote {self.child.out_dir / 'summary.json'} and the plots; q closes")
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
        return left * (self.ran_seconds / self.ran) / self.child.concurrency

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
        if self.child.db is None:
            self.note(NO_DB)
        elif record.get("error"):
            self.note(f"{record['prompt_id']} · {record['strategy']} failed ({record['error']}): nothing to replay")
        else:
            self.note(f"opening {record['prompt_id']} · {record['strategy']} · seed {record['seed']}…")
            self.load_run(self.child.db, messages(record["prompt"], record.get("system", "")), record)

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
        elif self.total is None:  # still loading its models: no cell to wait for
            self.end_child()
            self.app.exit(STOPPED)
        elif self.phase != "stopping":
            self.phase = "stopping"
            self.ask_to_stop()
            self.note("stopping after the cells in flight; every finished cell is kept")
            self.redraw_head()

    def ask_to_stop(self) -> None:
        """Close the child's stdin: its sign to stop after the cells in flight."""
        if self.process is not None and self.process.stdin is not None:
            try:
                self.process.stdin.close()
            except OSError:
                pass  # it is gone already: its end is on its way to the view


class BenchApp(LiteralNotifications, App):
    """The bench view on its own (``stars bench --tui``); its return value is how it ended:
    ``done``, ``failed`` or the stopped line."""

    CSS_PATH = "../stars.tcss"
    TITLE = "stars bench"
    BINDINGS = [Binding("ctrl+q", "close", "Quit", priority=True, show=False)]

    def __init__(self, child: BenchChild) -> None:
        super().__init__()
        self.child = child
        self.bench = BenchScreen(child)

    def get_default_screen(self) -> Screen:
        return self.bench

    def action_close(self) -> None:
        self.bench.action_close()
