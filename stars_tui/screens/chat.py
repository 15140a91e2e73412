"""The main screen: transcript and prompt on the left, the live inspector on the right.

Generation runs in a thread worker that only moves engine events into an
``EventPump`` and posts ``EventsReady``; every widget is changed here, on the
UI thread, by the handlers. The engine reads the parameters through
``lambda: app.current_params`` at each segment boundary, so an edit in the
parameter bar lands at the next segment (and comes back as ``ParamsChanged``).
"""

from __future__ import annotations

import threading

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from stars_engine import engine
from stars_engine.run_state import RunState

from ..pump import EventPump, EventsReady, RunEnded, forward
from ..widgets.inspector import SegmentInspector
from ..widgets.params_bar import ParamsBar
from ..widgets.prompt_input import PromptInput
from ..widgets.status_line import StatusLine
from ..widgets.transcript import AssistantTurn, Transcript


class ChatScreen(Screen):
    """Chat with the model and watch each segment being decided."""

    BINDINGS = [
        Binding("escape", "stop", "Stop", tooltip="Stop the reply being written (the partial reply is kept)"),
        Binding("f2", "app.sessions", "Sessions", tooltip="Browse, search, open, rename and delete sessions"),
        Binding("f3", "app.replay_last", "Replay", tooltip="Replay the last run of this session"),
        Binding("f4", "app.export", "Export", tooltip="Export the last run (md, jsonl, html, csv)"),
        Binding("f8", "app.rubric", "Rubric", tooltip="Edit the default reward's prefer/avoid exemplars"),
        Binding("f9", "focus_params", "Params", tooltip="Move the focus to the parameter bar"),
        Binding("ctrl+n", "new_chat", "New chat", tooltip="Start a new session"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state = RunState()
        self.pump: EventPump | None = None
        self.cancel = threading.Event()
        self.running = False
        self.run_started = 0.0
        self.assistant: AssistantTurn | None = None
        self._runs = 0

    def compose(self) -> ComposeResult:
        yield ParamsBar(self.app.current_params, id="params")
        with Horizontal(id="main"):
            with Vertical(id="chat-pane"):
                yield Transcript(id="transcript")
                yield PromptInput(id="prompt", soft_wrap=True, show_line_numbers=False)
            yield SegmentInspector(id="inspector")
        yield StatusLine(id="status")
        yield Footer()

    def on_unmount(self) -> None:
        """However the app ends, the generation thread is told to stop."""
        self.cancel.set()

    def on_mount(self) -> None:
        self.query_one(PromptInput).focus()
        self.set_interval(1.0, self.refresh_status)
        self.refresh_status()

    # -- running a prompt -------------------------------------------------

    @on(PromptInput.Submitted)
    def send(self, message: PromptInput.Submitted) -> None:
        if self.running:
            self.notify("A reply is being written; press Esc to stop it first.", severity="warning")
            return
        if self.app.policy is None or self.app.reward is None:
            self.notify(self.app.model_status, title="Models not ready", severity="warning")
            return
        self.query_one(PromptInput).clear()
        self.start_run(message.text)

    def start_run(self, prompt: str) -> None:
        """Show the prompt, then decode a reply to the whole conversation in a worker."""
        transcript = self.query_one(Transcript)
        transcript.add_user(prompt)
        self.app.chat.add("user", prompt)
        self.assistant = transcript.add_assistant()
        self.state = RunState()
        self.query_one(SegmentInspector).reset(self.state)
        self._runs += 1
        self.pump = EventPump(self._runs)
        self.cancel = threading.Event()
        self.running = True
        self.run_started = self.app.clock()
        # Start once the reply's widget is mounted: an update that lands while it is
        # still mounting can leave it laid out at its empty size.
        self.call_after_refresh(self.generate, self.app.chat.messages(), self.pump, self.cancel)
        self.redraw()

    @work(thread=True, group="generate", exit_on_error=False)
    def generate(self, messages: list[dict[str, str]], pump: EventPump, cancel: threading.Event) -> None:
        app = self.app
        error = None
        try:
            app.policy.check_prompt(messages, app.current_params.max_new_tokens)
            events = engine.run(app.policy, app.reward, messages, lambda: app.current_params, cancel)
            forward(app.chat.record(events, messages), pump, self.post_message)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never raised into the UI
            error = engine.one_line(exc)
        self.post_message(RunEnded(pump, error))

    @on(EventsReady)
    def take_events(self, message: EventsReady) -> None:
        if message.pump is not self.pump:
            return
        for event in message.pump.drain():
            self.state.apply(event)
        self.redraw()

    @on(RunEnded)
    def run_ended(self, message: RunEnded) -> None:
        if message.pump is not self.pump:
            return
        self.take_events(EventsReady(message.pump))
        self.running = False
        if message.error and self.state.failed is None:
            self.notify(message.error, title="Run failed", severity="error")
        if self.state.started is None:
            self._give_back_prompt()
        elif self.state.failed is None and self.state.text:
            self.app.chat.add("assistant", self.state.text)
        self.redraw()
        self.query_one(PromptInput).focus()

    def _give_back_prompt(self) -> None:
        """A run that never started leaves no trace: its prompt goes back in the box."""
        turn = self.app.chat.turns.pop()
        self.query_one(PromptInput).text = turn["content"]
        transcript = self.query_one(Transcript)
        for widget in list(transcript.children)[-2:]:
            widget.remove()
        self.assistant = None

    # -- drawing ----------------------------------------------------------

    @property
    def elapsed(self) -> float:
        if self.state.finished is not None:
            return self.state.finished.stats.wall_seconds
        return self.app.clock() - self.run_started if self.running else 0.0

    def redraw(self) -> None:
        if self.assistant is not None:
            self.assistant.show(self.state, self.running)
        self.query_one(SegmentInspector).refresh_view()
        self.refresh_status()

    def refresh_status(self) -> None:
        self.query_one(StatusLine).show(self.state, self.elapsed, self.app.model_status)

    # -- actions ----------------------------------------------------------

    def action_stop(self) -> None:
        """Esc: ask the engine to stop after the current token."""
        if self.running:
            self.cancel.set()
            self.notify("Stopping…", timeout=2)

    def action_focus_params(self) -> None:
        self.query_one("#param-segment_tokens").focus()

    def action_new_chat(self) -> None:
        if self.running:
            self.notify("Stop the reply first (Esc).", severity="warning")
            return
        self.app.new_chat()
        self.show_history([])

    def show_history(self, turns: list[dict[str, str]]) -> None:
        """Fill the transcript with a saved conversation (from the sessions screen)."""
        transcript = self.query_one(Transcript)
        transcript.clear_turns()
        for turn in turns:
            if turn["role"] == "user":
                transcript.add_user(turn["content"])
            else:
                transcript.add_assistant().update(turn["content"])
        self.assistant = None
        self.state = RunState()
        self.query_one(SegmentInspector).reset(self.state)
        self.refresh_status()

    @on(ParamsBar.Changed)
    def params_changed(self, message: ParamsBar.Changed) -> None:
        self.app.current_params = message.params
