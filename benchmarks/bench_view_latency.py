"""Key-to-screen latency of ``stars bench --tui`` while its cells run on the real default models.

    .venv/bin/python benchmarks/bench_view_latency.py [--points 24] [--replays 8] [--size 120x40] [--json FILE]

The real command runs in a tmux pane (``tmux_screen.py``, as ``tui_latency.py``
does: the key crosses a pty and the time ends when tmux has the app's new
frame), on a small bench of the shipped prompts recorded into a temp ``--db``.
Once the frontier plot has two points, while cells keep landing, at a
typist's pace, each key's time from being sent until the screen shows it:

- ``point``: → in the tokens plot, until its caption names the next strategy;
- ``replay``: Enter on the cells table, until the replay screen's title shows
  (the run is looked up in the database and loaded in a thread first);
- ``back``: Esc in the replay, until the bench's head line is back.

A cell landing redraws the table, the plots and the leaders, so these keys
race the view's own redraws, and the model's compute (in the bench's child
process, at a lower priority) for the two cores. The
load average (1 min) is printed beside the figures. Goal: p95 < 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tmux_screen import REPO, TmuxScreen
from tui_latency import percentile

HEAD = re.compile(r"cells (\d+)/(\d+)")
CAPTION = re.compile(r"╰─+ (\S+) [-+]?\d+\.\d{3} @ ")  # the tokens plot's caption: its picked strategy
STRATEGIES = "vanilla,bon-2,bon-4,stars:seg=8:k=2"


def caption(screen: str) -> str | None:
    """The strategy the tokens plot (the left one) has picked, from its bottom border."""
    for line in screen.splitlines():
        found = CAPTION.search(line)
        if found:
            return found.group(1)
    return None


def two_points(screen: str) -> bool:
    return any(re.search(r"\b([2-9]|\d\d+) strategies", line) for line in screen.splitlines())


def landed(screen: str) -> tuple[int, int] | None:
    found = HEAD.search(screen)
    return (int(found.group(1)), int(found.group(2))) if found else None


class Keys:
    def __init__(self, app: TmuxScreen, timeout: float) -> None:
        self.app, self.timeout = app, timeout
        self.samples: dict[str, list[float]] = {}
        self.missed = 0

    def measure(self, kind: str, key: str, shown) -> bool:
        sent = self.app.keys(key)
        at = self.app.wait_for(shown, self.timeout)
        self.samples.setdefault(kind, []).append(self.timeout if at is None else max(at - sent, 0.0))
        self.missed += at is None
        time.sleep(random.uniform(0.08, 0.2))  # a typist's pace, not in step with the app's redraws
        return at is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=24, help="→ presses in the plot")
    parser.add_argument("--replays", type=int, default=8, help="Enter/Esc pairs on the cells table")
    parser.add_argument("--limit", type=int, default=10, help="prompts in the bench (enough to outlast the keys)")
    parser.add_argument("--size", default="120x40")
    parser.add_argument("--timeout", type=float, default=10.0, help="a key not shown by then counts as this")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    size = tuple(int(n) for n in args.size.split("x"))

    folder = Path(tempfile.mkdtemp(prefix="stars-bench-view-"))
    command = [str(REPO / ".venv/bin/stars"), "bench", "--tui", "--limit", str(args.limit), "--strategies",
               STRATEGIES, "--seeds", "0", "--max-new-tokens", "48", "--judge", "none",
               "--out", str(folder / "out"), "--db", str(folder / "runs.db")]
    app = TmuxScreen(command, {"PYTHONPATH": str(REPO)}, size)  # type: ignore[arg-type]
    keys = Keys(app, args.timeout)
    try:
        if app.wait_for(two_points, 900) is None:
            sys.exit("the plot had no two points within 15 minutes")
        before, start = os.getloadavg()[0], landed(app.screen())
        app.keys("Tab", "Tab")  # cells table -> leaders -> tokens plot
        picked = None
        for _ in range(args.points):
            keys.measure("point", "Right", lambda s, was=picked: caption(s) not in (None, was))
            picked = caption(app.screen())
        app.keys("Tab", "Tab")  # -> seconds plot -> cells table
        time.sleep(0.5)
        for _ in range(args.replays):
            if keys.measure("replay", "Enter", lambda s: " · run " in s and "attempt" in s):
                keys.measure("back", "Escape", lambda s: landed(s) is not None)
        end = landed(app.screen())
        after = os.getloadavg()[0]
        app.quit(timeout=120)
    finally:
        app.close()
    print(f"key-to-screen latency in the bench view while cells run, ms (tmux {args.size}; "
          f"load average {before:.1f}–{after:.1f} on {os.cpu_count()} cores; cells {start} -> {end}; "
          f"keys not shown within {args.timeout:.0f} s, counted as that: {keys.missed})")
    rows = {}
    every = [v * 1000 for vs in keys.samples.values() for v in vs]
    for kind, values in [("all", every), *((k, [v * 1000 for v in vs]) for k, vs in keys.samples.items())]:
        rows[kind] = {"n": len(values), "median_ms": statistics.median(values), "p95_ms": percentile(values, 0.95),
                      "max_ms": max(values)}
        print(f"{kind:7} n={len(values):3}  median {rows[kind]['median_ms']:6.1f}  p95 {rows[kind]['p95_ms']:6.1f}  "
              f"max {rows[kind]['max_ms']:6.1f}")
    if args.json is not None:
        args.json.write_text(json.dumps({"loadavg_1min": [before, after], "cells": [start, end], "size": args.size,
                                         "kinds": rows,
                                         "samples_ms": {k: [round(v * 1000, 1) for v in vs]
                                                        for k, vs in keys.samples.items()}}, indent=1))


if __name__ == "__main__":
    main()
