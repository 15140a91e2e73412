"""Tokens per second of one prompt and seed in the workbench vs headless ``stars run``.

    .venv/bin/python benchmarks/tui_throughput.py [--repeats 3] [--tokens 32] [--device cuda]

Both sides run the real default models, loaded once, with the same params and
seed, and record to a SQLite file, so they differ only in what consumes the
event stream: ``stars run``'s loop (the engine wrapped in the store's
recorder, as ``stars_tui/commands/run.py`` does it) or the Textual app (a
thread worker posting to the UI, which redraws the transcript, inspector and
status line), driven headless by ``App.run_test``. tok/s is RunFinished's
``tokens_generated / wall_seconds`` on both sides. Runs alternate and the
median ratio is kept, so drift in machine load hits both sides alike.
Target: workbench / headless >= 0.95.

The workbench side runs as ``stars chat`` does, with the models in a worker
process (``stars_engine.backends.worker.process``, one per workbench: the app
ends its worker as it closes). A third side runs the
workbench with the models in its own process, as it did before: the
engine's torch calls then share the GIL with Textual's event loop.
The workbench shows replies as Markdown (its default, re-rendered as segments
arrive); ``--view raw`` measures the raw segment view instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from pathlib import Path

from stars_engine.backends.local.load import load_policy, load_reward
from stars_engine.backends.spec import ModelSpec
from stars_engine.backends.worker.process import start
from stars_engine.engine import run
from stars_engine.events import RunFinished
from stars_engine.params import Params
from stars_engine.store import Recorder

PROMPT = "Write a short story about a lighthouse keeper and a storm."


def headless_tok_s(policy, reward, params: Params, db: Path) -> float:
    events = Recorder(db).record(run(policy, reward, [{"role": "user", "content": PROMPT}], params))
    finished = [e for e in events if isinstance(e, RunFinished)][0]
    return finished.stats.tokens_generated / finished.stats.wall_seconds


async def _tui_run(policy, reward, params: Params, db: Path, view: str) -> RunFinished:
    from stars_tui.app import StarsApp
    from stars_tui.widgets.transcript import Transcript

    app = StarsApp(lambda: policy, lambda: reward, db_path=db, params=params)
    async with app.run_test(size=(140, 40)) as pilot:
        while app.policy is None:
            await pilot.pause(0.05)
        if view == "raw":
            app.chat_screen.query_one(Transcript).toggle_raw()
        app.chat_screen.query_one("#prompt").text = PROMPT
        await pilot.press("enter")
        # A plain sleep, not pilot.pause(): each pause makes every widget on the screen
        # process a message, which is the harness's cost, not the workbench's.
        while app.chat_screen.state.finished is None:
            if not app.chat_screen.running:  # ended without finishing: a failed run (the model process gone?)
                raise SystemExit(f"the workbench's run failed: {app.chat_screen.state.failed or app.model_state}")
            await asyncio.sleep(0.05)
        return app.chat_screen.state.finished


def tui_tok_s(policy, reward, params: Params, db: Path, view: str = "markdown") -> float:
    finished = asyncio.run(_tui_run(policy, reward, params, db, view))
    return finished.stats.tokens_generated / finished.stats.wall_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--device", default=None)
    parser.add_argument("--view", choices=("markdown", "raw"), default="markdown")
    args = parser.parse_args()
    policy, reward = load_policy(device=args.device), load_reward(device=args.device)
    params = Params(
        seed=args.seed, max_new_tokens=args.tokens, segment_tokens=8, candidates_per_round=2, max_attempts=4
    )
    headless_tok_s(policy, reward, params.with_changes(max_new_tokens=16), Path(tempfile.mkdtemp()) / "w.db")
    tui, headless, in_process = [], [], []
    for _ in range(args.repeats):
        folder = Path(tempfile.mkdtemp())
        headless.append(headless_tok_s(policy, reward, params, folder / "headless.db"))
        # a worker per workbench, as each ``stars chat`` has: the app ends its worker as it closes
        tui.append(tui_tok_s(*start(ModelSpec(device=args.device)), params, folder / "tui.db", args.view))
        in_process.append(tui_tok_s(policy, reward, params, folder / "in_process.db", args.view))
        print(f"headless {headless[-1]:.1f} · workbench {tui[-1]:.1f} · workbench, models in its own process "
              f"{in_process[-1]:.1f} tok/s", file=sys.stderr)
    print(json.dumps({
        "device": str(policy.device),
        "runtime": policy.runtime,
        "prompt": PROMPT,
        "view": args.view,
        "params": params.to_dict(),
        "headless_tok_s": [round(x, 2) for x in headless],
        "workbench_tok_s": [round(x, 2) for x in tui],
        "workbench_models_in_process_tok_s": [round(x, 2) for x in in_process],
        "median_ratio": round(statistics.median(t / h for t, h in zip(tui, headless, strict=True)), 3),
        "median_ratio_models_in_process": round(
            statistics.median(t / h for t, h in zip(in_process, headless, strict=True)), 3),
        "target": 0.95,
    }, indent=2))


if __name__ == "__main__":
    main()
