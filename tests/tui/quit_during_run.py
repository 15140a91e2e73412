"""Run by test_tui_quit.py in a child process: start a long run, press Ctrl+Q mid-way.

Prints the stop reason the store recorded for the run, so the parent can check
the generation thread ended cleanly rather than being cut off with the process.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.append(str(Path(__file__).parents[1]))  # for fakes; this folder comes first

from fakes import ScriptedPolicy  # noqa: E402
from helpers import make_app, send, wait_until  # noqa: E402

from stars_engine.params import Params  # noqa: E402
from stars_engine.store import open_store  # noqa: E402


async def main(db: Path) -> None:
    slow = ScriptedPolicy(delay=0.05)
    app = make_app(policy=slow, db_path=db, params=Params(seed=1, max_new_tokens=4000, segment_tokens=64))
    async with app.run_test() as pilot:
        await send(pilot, "never ending")
        await wait_until(pilot, lambda: app.chat_screen.state.attempts >= 1, "the run to be going")
        await pilot.press("ctrl+q")
    started = time.monotonic()
    for worker in app.workers:
        if worker._thread is not None:  # noqa: SLF001 - join the generation thread to see it end
            worker._thread.join(20)
    print(f"joined after {time.monotonic() - started:.2f} s", file=sys.stderr)
    with open_store(db) as store:
        run = store.get_run(app.chat.last_run_id or store.runs_of(store.list_sessions()[0].id)[0].id)
    print(run.stop_reason)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
