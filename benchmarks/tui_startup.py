"""Startup of the real ``stars chat``: time to the window and to "ready", cold and warm.

    .venv/bin/python benchmarks/tui_startup.py [--cold 1] [--warm 3] [--json FILE]

``stars chat`` runs in a tmux pane at 120×40 (``tmux_screen.py``: the app as a
person starts it, its output read back as a terminal drew it), with a fresh
SQLite file and settings file each time. Times are from starting the pane:

- ``window``: the first frame (the status line's "loading models…" on screen);
- ``ready``: the status line says "ready" (both models loaded in the worker).

Cold: ``STARS_CACHE_DIR`` points at an empty temp folder, so the first load
converts the bundled GGUF and measures the weight formats, as a first start
does. Warm: the same folder again, as every later start. The load average is
printed with each start (a shared machine is never idle).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tmux_screen import REPO, TmuxScreen, models_ready


def one_start(cache: Path, timeout: float) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="stars-startup-"))
    env = {"PYTHONPATH": str(REPO), "STARS_CONFIG": str(folder / "config.json"), "STARS_CACHE_DIR": str(cache)}
    load = os.getloadavg()[0]
    app = TmuxScreen([str(REPO / ".venv/bin/stars"), "chat", "--db", str(folder / "sessions.db")], env)
    try:
        window = app.wait_for(lambda s: "loading models" in s or models_ready(s), timeout)
        ready = app.wait_for(models_ready, timeout)
        app.quit()
    finally:
        app.close()
    return {
        "window_s": None if window is None else round(window - app.started_at, 2),
        "ready_s": None if ready is None else round(ready - app.started_at, 2),
        "loadavg_1min": [round(load, 2), round(os.getloadavg()[0], 2)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=1, help="cold starts (each with an empty cache)")
    parser.add_argument("--warm", type=int, default=3, help="warm starts after the first cold one")
    parser.add_argument("--cache", type=Path, default=None,
                        help="warm starts against this cache folder (one a cold start filled) instead")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    made: list[Path] = []  # the caches made here (half a GB each), removed at the end
    try:
        warm_cache = args.cache
        for _ in range(args.cold):
            made.append(Path(tempfile.mkdtemp(prefix="stars-cache-")))
            rows.append({"start": "cold", **one_start(made[-1], args.timeout)})
            warm_cache = warm_cache or made[-1]
            print(rows[-1], file=sys.stderr)
        if warm_cache is None:  # no cold start asked: warm against a cache filled once, not measured
            made.append(Path(tempfile.mkdtemp(prefix="stars-cache-")))
            warm_cache = made[-1]
            one_start(warm_cache, args.timeout)
        for _ in range(args.warm):
            rows.append({"start": "warm", **one_start(warm_cache, args.timeout)})
            print(rows[-1], file=sys.stderr)
            time.sleep(1.0)
    finally:
        for cache in made:
            shutil.rmtree(cache, ignore_errors=True)
    print(f"\n{'start':5} {'window s':>9} {'ready s':>8}  load avg")
    for row in rows:
        print(f"{row['start']:5} {row['window_s']!s:>9} {row['ready_s']!s:>8}  "
              f"{row['loadavg_1min'][0]:.1f}–{row['loadavg_1min'][1]:.1f}")
    for kind in ("cold", "warm"):
        picked = [r for r in rows if r["start"] == kind and r["ready_s"] is not None]
        if picked:
            print(f"{kind} median: window {statistics.median(r['window_s'] for r in picked):.2f} s, "
                  f"ready {statistics.median(r['ready_s'] for r in picked):.2f} s")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
