"""Save a real picture of the workbench mid-run (the README's screenshot).

    .venv/bin/python benchmarks/tui_screenshot.py [--out docs/screenshot.svg] [--device cuda]

Runs the real default models in the app, driven headless: sends a prompt,
raises the threshold after the first segment (so the transcript shows where
the change landed), and saves the screen as SVG once a few segments are in
and the next one is being decided. Then it stops the run with Esc.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from stars_engine.backends.local.load import load_policy, load_reward
from stars_engine.params import Params

PROMPT = "How do I keep a sourdough starter alive while I am on holiday?"


async def shoot(out: Path, device: str | None) -> None:
    from stars_tui.app import StarsApp
    from stars_tui.widgets.params_bar import ParamsBar

    policy, reward = load_policy(device=device), load_reward(device=device)
    params = Params(seed=4, segment_tokens=8, max_new_tokens=96, candidates_per_round=2, max_attempts=6)
    app = StarsApp(lambda: policy, lambda: reward, db_path=Path(tempfile.mkdtemp()) / "shot.db", params=params)
    async with app.run_test(size=(150, 44)) as pilot:
        while app.policy is None:
            await pilot.pause(0.1)
        app.chat_screen.query_one("#prompt").text = PROMPT
        await pilot.press("enter")
        state = app.chat_screen.state
        while not state.parts:
            await pilot.pause(0.05)
        app.chat_screen.query_one(ParamsBar).apply("threshold", str(params.threshold + 0.1))
        while not (len(state.chart_points()) >= 5 and state.segments[-1].accepted is None
                   and len(state.segments[-1].attempts) >= 2) and not state.done:
            await pilot.pause(0.02)
        out.parent.mkdir(parents=True, exist_ok=True)
        app.save_screenshot(filename=out.name, path=str(out.parent))
        await pilot.press("escape")
        while not state.done:
            await pilot.pause(0.05)
    print(f"saved {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshot.svg"))
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    asyncio.run(shoot(args.out, args.device))


if __name__ == "__main__":
    main()
