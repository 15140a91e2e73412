"""Key-to-screen latency of the compare view while four columns run (issue 18's goal: p95 < 100 ms).

    .venv/bin/python benchmarks/compare_view_latency.py [--size 80x24] [--blocks 3] [--keys 20] [--json FILE]

The real ``stars chat`` (the default models in its worker process, a SQLite
file in a temp folder) runs in a tmux pane (``tmux_screen.py``, as
``tui_latency.py`` does). Alt+C opens the compare view; the four columns
``vanilla,bon-4,stars,specrej:n=8`` are started on a long prompt and, while they
run, letters are typed into the view's prompt box and erased again at a
typist's pace: each key's time is from being sent to tmux until tmux received
the app's output that shows it. A block whose columns finished is started
again. The load average is printed beside every block: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tmux_screen import REPO, TmuxScreen, models_ready
from tui_latency import Bench, percentile

SPECS = "vanilla,bon-4,stars,specrej:n=8"
PROMPT = "Write a long, detailed story about a lighthouse keeper, a storm and a ship in trouble."
RUNNING = "columns"  # the view's say-line while the columns run: "base seed N: 4 columns, …"
DONE = "done:"


class CompareBench(Bench):
    def start_columns(self) -> bool:
        """Fill the form and press Enter in the prompt box; True once the columns are running."""
        self.app.keys("C-u")  # the prompt box has the focus: empty it, then type the prompt
        self.app.keys(PROMPT, literal=True)
        self.app.wait_for(lambda s: PROMPT[-12:] in s, self.timeout)  # the box shows the prompt's end
        self.app.keys("Enter")
        return self.app.wait_for(lambda s: RUNNING in s and DONE not in s, 60) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="80x24")
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--keys", type=int, default=20)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    width, height = (int(x) for x in args.size.split("x"))

    folder = Path(tempfile.mkdtemp(prefix="stars-compare-latency-"))
    env = {"PYTHONPATH": str(REPO), "STARS_CONFIG": str(folder / "config.json")}
    app = TmuxScreen([str(REPO / ".venv/bin/stars"), "chat", "--db", str(folder / "sessions.db"),
                      "--max-new-tokens", str(args.max_new_tokens)], env, size=(width, height))
    bench = CompareBench(app, args.timeout)
    blocks = []
    try:
        if app.wait_for(models_ready, 900) is None:
            sys.exit("the models did not load in 15 minutes")
        app.keys("M-c")
        if app.wait_for(lambda s: "strategies" in s, 30) is None:
            sys.exit("the compare view did not open")
        time.sleep(1.0)  # keys sent while the view takes the focus are lost
        app.keys("C-u")
        app.keys(SPECS, literal=True)
        if app.wait_for(lambda s: SPECS[-10:] in s, 30) is None:
            sys.exit("the strategies field did not take the specs")
        app.keys("Tab")  # to the prompt box
        time.sleep(0.5)
        for block in range(args.blocks):
            if not bench.start_columns():
                sys.exit("the columns did not start")
            bench.samples = {}
            before = os.getloadavg()[0]
            bench.typing(args.keys)
            running = DONE not in app.screen()
            samples = {k: [round(v * 1000, 1) for v in vs] for k, vs in bench.samples.items()}
            blocks.append({"block": block, "loadavg_1min": [before, os.getloadavg()[0]],
                           "columns_running_at_end": running, "samples_ms": samples})
            print(f"block {block}: load {before:.1f}–{os.getloadavg()[0]:.1f}, columns running at end: {running}",
                  file=sys.stderr)
            app.keys("Escape")  # stop the columns; the next block starts them again
            app.wait_for(lambda s: RUNNING not in s or DONE in s or "stopp" in s, 60)
            time.sleep(2.0)
        app.keys("Escape")
        app.quit()
    finally:
        app.close()
    every = [v for b in blocks for vs in b["samples_ms"].values() for v in vs]
    loads = [x for b in blocks for x in b["loadavg_1min"]]
    print(f"\ncompare view, {args.size}, four columns running ({SPECS}): key-to-screen ms over {len(every)} keys, "
          f"load {min(loads):.1f}–{max(loads):.1f}; keys not shown within {args.timeout:.0f} s: {bench.missed}")
    print(f"median {statistics.median(every):.1f}  p95 {percentile(every, 0.95):.1f}  max {max(every):.1f}")
    if args.json is not None:
        args.json.write_text(json.dumps({"size": args.size, "specs": SPECS, "median_ms": statistics.median(every),
                                         "p95_ms": percentile(every, 0.95), "missed": bench.missed,
                                         "blocks": blocks}, indent=1))


if __name__ == "__main__":
    main()
