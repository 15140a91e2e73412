"""Helpers for the workbench tests: a fast scripted engine, a gate to freeze a run mid-way, a pilot's steps."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path

from fakes import ScriptedPolicy, ScriptedReward

from stars_engine import engine
from stars_engine.events import AttemptScored, Event, RunFinished, RunStarted
from stars_engine.params import Params
from stars_engine.policy.base import Candidate
from stars_tui.app import StarsApp

SIZE = (140, 40)
FAST = Params(
    seed=7, segment_tokens=4, max_new_tokens=24, threshold=0.3, threshold_mode="fixed",
    candidates_per_round=2, max_attempts=6,
)


class GatedPolicy(ScriptedPolicy):
    """A scripted policy that stops once: when the reply reaches ``pause_at`` tokens,
    or at its ``pause_on_call``-th round of sampling.

    The test sees ``reached`` set, does what it wants with the run frozen
    mid-way, and opens ``gate`` to let it go on (or the run is cancelled).
    """

    def __init__(self, pause_at: int | None = None, pause_on_call: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pause_at = pause_at
        self.pause_on_call = pause_on_call
        self.calls = 0
        self.reached = threading.Event()
        self.gate = threading.Event()

    def _due(self) -> bool:
        if self.pause_on_call is not None:
            return self.calls == self.pause_on_call
        return len(self.reply) >= self.pause_at

    def sample(self, n, max_tokens, sampling, cancel=None):
        self.calls += 1
        if self._due() and not self.reached.is_set():
            self.reached.set()
            while not self.gate.wait(0.02) and not (cancel is not None and cancel.is_set()):
                pass
        return super().sample(n, max_tokens, sampling, cancel)


class FrozenClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fixed_events(prompt: str) -> list[Event]:
    """A scripted run with its timings and date replaced by fixed values."""
    events = list(engine.run(ScriptedPolicy(), ScriptedReward(), [{"role": "user", "content": prompt}], FAST))
    fixed = []
    for event in events:
        if isinstance(event, AttemptScored):
            event = dataclasses.replace(event, elapsed_ms=25.0)
        elif isinstance(event, RunStarted):
            event = dataclasses.replace(event, started_at="2026-01-02T03:04:05+00:00")
        elif isinstance(event, RunFinished):
            event = dataclasses.replace(event, stats=dataclasses.replace(event.stats, wall_seconds=1.5))
        fixed.append(event)
    return fixed


def make_app(
    policy=None, db_path: Path | None = None, params: Params = FAST, reward=None, clock=None
) -> StarsApp:
    policy = policy or ScriptedPolicy()
    reward = reward or ScriptedReward()
    extra = {"clock": clock} if clock is not None else {}
    return StarsApp(lambda: policy, lambda: reward, db_path=db_path, params=params, **extra)


async def wait_until(pilot, predicate: Callable[[], bool], what: str, limit: float = 20.0) -> None:
    """Let the app run until ``predicate`` holds; fail naming ``what`` if it never does."""
    steps = int(limit / 0.02)
    for _ in range(steps):
        if predicate():
            await pilot.pause()
            return
        await pilot.pause(0.02)
    raise AssertionError(f"gave up waiting for: {what}")


def screen_text(app) -> str:
    """What the terminal shows right now, as plain text (the cells a person reads)."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, record=True,
                      legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def keys(text: str) -> list[str]:
    """Key names Pilot.press takes for ``text``."""
    names = {" ": "space", "-": "minus", ".": "full_stop", "/": "slash"}
    return [names.get(c, c) for c in text]


async def ready(pilot) -> None:
    await wait_until(pilot, lambda: pilot.app.policy is not None, "models loaded")


async def send(pilot, text: str) -> None:
    """Type a prompt in the prompt box and press Enter."""
    await ready(pilot)
    pilot.app.chat_screen.query_one("#prompt").focus()
    await pilot.press(*keys(text), "enter")


async def finish(pilot) -> None:
    screen = pilot.app.chat_screen
    await wait_until(pilot, lambda: not screen.running and screen.state.done, "the run to finish")


async def chat(pilot, text: str) -> None:
    await send(pilot, text)
    await finish(pilot)


class EchoPolicy(ScriptedPolicy):
    """Replies with exactly ``reply``, ``chunk`` characters (one "token") a segment, then EOS."""

    model_id = "echo-policy"

    def __init__(self, reply: str, chunk: int = 2048) -> None:
        super().__init__()
        self.text, self.chunk, self.done = reply, chunk, 0

    def start(self, messages, seed):
        self.done = 0
        return super().start(messages, seed)

    def sample(self, n, max_tokens, sampling, cancel=None):
        self.forward_passes += 1
        piece = self.text[self.done : self.done + self.chunk]
        eos = self.done + len(piece) >= len(self.text)
        self.round = [Candidate(token_ids=(0,), text=piece, eos=eos)] * n
        return list(self.round)

    def commit(self, candidate) -> None:
        self.done += len(candidate.text)
        self.round = []
