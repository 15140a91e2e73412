"""Watch a recorded run again through the chat screen's own widgets.

The events come back from the store as the stream the engine produced; they
are folded into a ``RunState`` one attempt at a time, so the transcript, the
inspector and the status line draw exactly what they drew live. Playing waits
each attempt's recorded time divided by the speed, as ``store.replay.pace``
does for ``stars replay --plain`` (the same ``pause_before``, capped so a slow
first load never stalls it); stepping shows one attempt at a time.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Label

from stars_engine.events import AttemptScored, Event, RunStarted, rubric_label
from stars_engine.run_state import RunState
from stars_engine.store.replay import pause_before

from ..literal import literal
from ..widgets.inspector import SegmentInspector
from ..widgets.status_line import StatusLine
from ..widgets.transcript import AssistantTurn, Transcript

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 16.0, 64.0)


class Playback:
    """The start and the play / pause / speed / back keys both replay screens share. A screen sets
    ``playing``, ``speed``, ``autoplay`` and ``_timer``, and gives ``finished``, ``restart``, ``redraw``
    and ``_play`` (start its timer)."""

    playing: bool
    speed: float
    autoplay: bool
    _timer: Timer | None

    def on_mount(self) -> None:
        self.restart()  # type: ignore[attr-defined]
        if self.autoplay:
            self.action_toggle_play()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def stop_playing(self) -> None:
        self.playing = False
        self._stop_timer()

    def action_toggle_play(self) -> None:
        if self.finished and not self.playing:  # type: ignore[attr-defined]
            self.restart()  # type: ignore[attr-defined]
        self.playing = not self.playing
        self._stop_timer()
        if self.playing:
            self._play()  # type: ignore[attr-defined]
        self.redraw()  # type: ignore[attr-defined]

    def action_faster(self) -> None:
        self.speed = next((s for s in SPEEDS if s > self.speed), self.speed)
        self.redraw()  # type: ignore[attr-defined]

    def action_slower(self) -> None:
        self.speed = next((s for s in reversed(SPEEDS) if s < self.speed), self.speed)
        self.redraw()  # type: ignore[attr-defined]

    def action_back(self) -> None:
        """Back to the screen below, or out of a replay-only app."""
        self.stop_playing()
        app = self.app  # type: ignore[attr-defined]
        if len(app.screen_stack) > 1:
            app.pop_screen()
        else:
            app.exit()


class ReplayScreen(Playback, Screen):
    """Play, pause, step and change the speed of one recorded run."""

    BINDINGS = [
        Binding("space", "toggle_play", "Play/pause", tooltip="Play or pause the replay"),
        Binding("n,right", "step", "Step", tooltip="Show the next attempt"),
        Binding("plus,equals_sign", "faster", "Faster", tooltip="Replay faster"),
        Binding("minus", "slower", "Slower", tooltip="Replay slower"),
        Binding("r,home", "restart", "Restart", tooltip="Back to the start of the run"),
        Binding("escape", "back", "Back", tooltip="Back to the previous screen"),
    ]

    def __init__(self, events: list[Event], title: str = "replay", autoplay: bool = False) -> None:
        super().__init__()
        self.autoplay = autoplay
        self.events = list(events)
        self.run_title = title
        self.position = 0
        self.state = RunState()
        self.playing = False
        self.speed = 4.0
        self._timer: Timer | None = None
        self.assistant: AssistantTurn | None = None
        started = next((e for e in self.events if isinstance(e, RunStarted)), None)
        rubric = rubric_label(started.rubric) if started else ""
        # what scored the run, as the live status line names it (and which rubric, so two never look alike)
        self.scored_by = "" if started is None else " · ".join(filter(None, (started.policy_id, started.reward_id,
                                                                              rubric)))

    def compose(self) -> ComposeResult:
        yield Label("", id="replay-title")
        with Horizontal(id="main"):
            with Vertical(id="chat-pane"):
                yield Transcript(id="transcript")
            yield SegmentInspector(id="inspector")
        yield StatusLine(id="status")
        yield Footer()

    @property
    def finished(self) -> bool:
        return self.position >= len(self.events)

    def restart(self) -> None:
        self.position = 0
        self.state = RunState()
        transcript = self.query_one(Transcript)
        transcript.clear_turns()
        started = next((e for e in self.events if isinstance(e, RunStarted)), None)
        for turn in started.messages if started else []:
            if turn["role"] == "system":  # the session's system prompt, as the run was given it
                transcript.add_assistant("system prompt").show_text(turn["content"])
            elif turn["role"] == "user":
                transcript.add_user(turn["content"])
            elif turn["role"] == "assistant":
                transcript.add_assistant().show_text(turn["content"])
        self.assistant = transcript.add_assistant("assistant (replay)")
        self.query_one(SegmentInspector).reset(self.state)
        self.redraw()

    def step(self) -> AttemptScored | None:
        """Apply events up to and including the next attempt (or to the end)."""
        while not self.finished:
            event = self.events[self.position]
            self.position += 1
            self.state.apply(event)
            if isinstance(event, AttemptScored):
                self.redraw()
                return event
        self.redraw()
        return None

    def redraw(self) -> None:
        if self.assistant is not None:
            self.assistant.show(self.state, running=not self.finished)
        self.query_one(SegmentInspector).refresh_view()
        elapsed = (
            self.state.finished.stats.wall_seconds if self.state.finished else self.state.compute_ms / 1000
        )
        self.query_one(StatusLine).show(self.state, elapsed, "replay", self.scored_by)
        mode = "playing" if self.playing else "paused"
        where = f"attempt {self.state.attempts} of {sum(isinstance(e, AttemptScored) for e in self.events)}"
        self.query_one("#replay-title", Label).update(
            literal(f" {self.run_title} · {mode} · {self.speed:g}× · {where}")
        )

    # -- playing ------------------------------------------------------------

    def _play(self) -> None:
        self._schedule()

    def _schedule(self) -> None:
        upcoming = next(
            (e for e in self.events[self.position :] if isinstance(e, AttemptScored)), None
        )
        wait = 0.0 if upcoming is None else pause_before(upcoming, self.speed)
        self._timer = self.set_timer(max(wait, 0.01), self._tick)

    def _tick(self) -> None:
        if not self.playing:
            return
        self.step()
        if self.finished:
            self.playing = False
            self.redraw()
        else:
            self._schedule()


    def action_step(self) -> None:
        self.stop_playing()
        self.step()



    def action_restart(self) -> None:
        self.stop_playing()
        self.restart()
