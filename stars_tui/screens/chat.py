"""The main screen: transcript and prompt on the left, the live inspector on the right.

Generation runs in a thread worker that only moves engine events into an
``EventPump`` and posts ``EventsReady``; every widget is changed here, on the
UI thread, by the handlers. The engine reads the parameters through
``lambda: app.current_params`` at each segment boundary, so an edit in the
parameter bar lands at the next segment (and comes back as ``ParamsChanged``).

Beyond sending: Up/Down in an empty prompt recall earlier prompts; F6 takes
the last turn back into the prompt box to edit and resend; F5 asks again with
a new seed; both are recorded as a new run of the same turn. A prompt sent
while the models load waits in the box and goes once they are ready.
"""

from __future__ import annotations

import random
import threading

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from stars_engine import engine
from stars_engine.events import ParamsChanged
from stars_engine.params import Params
from stars_engine.run_state import RunState

from ..pump import EventPump, EventsReady, RunEnded, forward
from ..widgets.chat_list import ChatList
from ..widgets.find_bar import FindBar
from ..widgets.inspector import SegmentInspector
from ..widgets.params_bar import ParamsBar
from ..widgets.prompt_input import PromptInput
from ..widgets.status_line import StatusLine
from ..widgets.transcript import AssistantTurn, Transcript
from .chat_tools import ChatTools


class ChatScreen(ChatTools, Screen):
    """Chat with the model and watch each segment being decided."""

    AUTO_FOCUS = "#prompt"

    # The footer (compact) shows Esc and the F-keys a first-time user looks for; F5, F8 and F9 fit at
    # 80 columns, F3 and F4 may be cut there. Every binding, shown or not, is in the command palette (Ctrl+P).
    BINDINGS = [
        Binding("escape", "stop", "Stop", tooltip="Stop the reply being written (the partial reply is kept)"),
        Binding("f2", "app.sessions", "Sessions", tooltip="Browse, search, open, rename and delete sessions"),
        Binding("f5", "regenerate", "Redo", tooltip="Write the last reply again with a new seed"),
        Binding("f8", "app.rubric", "Rubric", tooltip="Edit the default reward's prefer/avoid exemplars"),
        Binding("f9", "focus_params", "Params", tooltip="Unfold the parameter bar and move the focus to it"),
        # priority: the prompt box (a TextArea) binds F6 and F7 to its own selection actions
        Binding("f7", "toggle_raw", "Raw", tooltip="Show replies as Markdown, or as raw segments with their marks",
                priority=True),
        Binding("f6", "edit_last", "Edit", tooltip="Take the last prompt back into the box to edit and resend",
                priority=True),
        Binding("f3", "app.replay_last", "Replay", tooltip="Replay the last run of this session"),
        Binding("f4", "app.export", "Export", tooltip="Export the last run (md, jsonl, html, csv)"),
        Binding("ctrl+o", "copy_reply", "Copy reply", tooltip="Copy the last reply to the clipboard", show=False),
        Binding("ctrl+l", "focus_prompt", "Prompt", tooltip="Move the focus to the prompt box", priority=True,
                show=False),
        Binding("ctrl+n", "new_chat", "New chat", tooltip="Start a new session", show=False),
        Binding("ctrl+t", "app.system_prompt", "System prompt", show=False,
                tooltip="Set or clear this session's system prompt (sent first in every run)"),
        # the chat list, find, the session and any turn (chat_tools.py)
        Binding("ctrl+b", "toggle_chat_list", "Chats", tooltip="Show or hide the chat list (with search)",
                show=False),
        Binding("ctrl+f", "find", "Find", tooltip="Find in the conversation", priority=True, show=False),
        Binding("ctrl+r", "rename_session", "Rename session", tooltip="Rename this session", show=False),
        Binding("ctrl+s", "export_session", "Export session", tooltip="Export this whole session", show=False),
        Binding("alt+d", "delete_turn", "Delete turn",
                tooltip="Delete the focused turn (else the last); its runs stay, marked", show=False),
        Binding("alt+e", "edit_turn", "Edit turn",
                tooltip="Edit the focused turn's prompt (else the last) and send it again; later turns go",
                show=False),
        Binding("alt+c", "compare", "Compare strategies", show=False, priority=True,
                tooltip="Run 2-4 strategies on one prompt side by side, ranked by the held-out judges"),
        Binding("f10", "app.pick_model", "Models", tooltip="Switch the chat model or the reward (bundled, "
                "the Hugging Face cache, a server)", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state = RunState()
        self.pump: EventPump | None = None
        self.cancel = threading.Event()
        self.running = False
        self.run_started = 0.0
        self.assistant: AssistantTurn | None = None

    def compose(self) -> ComposeResult:
        yield ParamsBar(self.app.current_params, check_strategy=self.app.strategy_check, id="params")
        with Horizontal(id="main"):
            yield ChatList(self.app.db_path, id="chat-list")
            with Vertical(id="chat-pane"):
                yield (transcript := Transcript(id="transcript"))
                yield FindBar(transcript, id="find")
                yield PromptInput(id="prompt", soft_wrap=True, show_line_numbers=False)
            yield SegmentInspector(id="inspector")
        yield StatusLine(id="status")
        yield Footer(compact=True)

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
        prompt = self.query_one(PromptInput)
        if self.app.policy is None or self.app.reward is None:
            if self.app.model_state == "model failed":
                self.notify(self.app.model_status, title="Models not ready", severity="error")
                return
            prompt.queued = True
            self.notify("The models are loading; the prompt is sent once they are ready.", timeout=4)
            return
        prompt.remember(message.text)
        prompt.clear()
        self.start_run(message.text)

    def models_ready(self) -> None:
        """Send the prompt that waited for the models, if one did."""
        boxes = self.query(PromptInput)
        prompt = boxes.first() if boxes else None
        if prompt is not None and prompt.queued:  # no box yet: nothing could have been queued
            prompt.queued = False
            if self.app.policy is not None and prompt.text.strip():
                self.send(PromptInput.Submitted(prompt.text.strip()))

    def start_run(self, prompt: str | None, seed: int | None = None) -> None:
        """Show the prompt, then decode a reply to the whole conversation in a worker.

        ``prompt`` None asks again for the last prompt, already in the conversation.
        """
        transcript = self.query_one(Transcript)
        if prompt is not None:
            transcript.add_user(prompt)
            self.app.chat.add("user", prompt)
        transcript.anchor()
        self.assistant = transcript.add_assistant()
        self.state = RunState()
        self.query_one(SegmentInspector).reset(self.state)
        self.pump = EventPump()
        self.cancel = threading.Event()
        self.running = True
        self.query_one(ParamsBar).clear_note()  # what it announced applies from this run
        self.run_started = self.app.clock()
        # Start once the reply's widget is mounted: an update that lands while it is
        # still mounting can leave it laid out at its empty size.
        self.call_after_refresh(self.generate, self.app.chat.messages(), self._params_source(seed), self.pump,
                                self.cancel)
        self.redraw()

    def _params_source(self, seed: int | None):
        """What the engine reads at each segment: the bar's params, with this run's own seed if it has one."""
        app = self.app
        if seed is None:
            return lambda: app.current_params
        return lambda: app.current_params.with_changes(seed=seed)

    @work(thread=True, group="generate", exit_on_error=False)
    def generate(self, messages: list[dict[str, str]], params, pump: EventPump, cancel: threading.Event) -> None:
        """The one place a run starts: the engine's events, through the recorder, into the pump."""
        app = self.app
        error = None
        try:
            app.policy.check_prompt(messages, app.current_params.max_new_tokens)
            events = engine.run(app.policy, app.reward, messages, params, cancel)
            forward(app.chat.record(events), pump, self.post_message)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never raised into the UI
            error = engine.one_line(exc)
        self.post_message(RunEnded(pump, error))

    @on(EventsReady)
    def take_events(self, message: EventsReady) -> None:
        if message.pump is not self.pump:
            return
        events = message.pump.drain()
        for event in events:
            self.state.apply(event)
        if any(isinstance(event, ParamsChanged) for event in events):
            self.query_one(ParamsBar).clear_note()  # the change has landed, and is marked in the reply
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
        self.app.remember_session(self.app.chat.session_id)
        self.refresh_chat_list()
        self.redraw()
        self.query_one(PromptInput).focus()

    def _give_back_prompt(self) -> None:
        """A run that never started leaves no trace: its prompt goes back in the box."""
        self._take_back_turn()

    def _take_back_turn(self) -> None:
        """Remove the last prompt (and its reply) from the conversation and the transcript; the prompt
        goes back in the box."""
        prompt = self.app.chat.take_back()
        transcript = self.query_one(Transcript)
        turns = list(transcript.children)
        for widget in turns[-2:] if len(turns) >= 2 else turns:
            widget.remove()
        box = self.query_one(PromptInput)
        box.text = prompt
        box.move_cursor(box.document.end)
        box.focus()
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
        lines = self.query(StatusLine)
        if not lines:
            return  # the models loaded before the screen was composed
        lines.first().show(self.state, self.elapsed, self.app.model_state, self.app.model_status)

    # -- actions ----------------------------------------------------------

    def action_stop(self) -> None:
        """Esc: ask the engine to stop after the current token."""
        if self.running:
            self.cancel.set()
            self.notify("Stopping…", timeout=2)

    def action_focus_params(self) -> None:
        self.query_one(ParamsBar).expand()

    @on(PromptInput.Scroll)
    def scroll_conversation(self, message: PromptInput.Scroll) -> None:
        """PageUp/PageDown and Ctrl+Home/End in the prompt box move the conversation."""
        transcript = self.query_one(Transcript)
        {
            "pageup": transcript.scroll_page_up,
            "pagedown": transcript.scroll_page_down,
            "ctrl+home": transcript.scroll_home,
            "ctrl+end": transcript.scroll_end,
        }[message.key]()

    def action_focus_prompt(self) -> None:
        self.query_one(PromptInput).focus()

    def _idle(self) -> bool:
        if self.running:
            self.notify("Stop the reply first (Esc).", severity="warning")
        return not self.running

    def _last_turn_answered(self) -> bool:
        turns = self.app.chat.turns
        if len(turns) < 2 or turns[-1]["role"] != "assistant":
            self.notify("There is no reply to redo yet.")
            return False
        return True

    def action_regenerate(self) -> None:
        """The same prompt again, with a new seed (when the seed is fixed), as a new run of the same turn."""
        if not self._idle() or not self._last_turn_answered() or self.app.policy is None:
            return
        self.app.chat.turns.pop()
        list(self.query_one(Transcript).children)[-1].remove()
        seed = None if self.app.current_params.seed is None else random.randrange(2**31)
        self.start_run(None, seed)

    def action_edit_last(self) -> None:
        if self._idle() and self._last_turn_answered():
            self._take_back_turn()

    def action_compare(self) -> None:
        """Open the compare screen, its prompt taken from the prompt box."""
        from .compare import CompareScreen

        if self._idle():
            self.app.push_screen(CompareScreen(self.query_one(PromptInput).text.strip()))

    def take_compared(self, prompt: str, state: RunState, run_id: str | None) -> None:
        """A compared reply taken as the turn's answer: the prompt and it join the conversation and the
        transcript (drawn from its run), and the chat goes on from it."""
        self.app.chat.add("user", prompt)
        self.app.chat.add("assistant", state.text)
        if run_id is not None:
            self.app.chat.last_run_id = run_id
        transcript = self.query_one(Transcript)
        transcript.add_user(prompt)
        transcript.add_assistant().show(state, running=False)
        self.query_one(PromptInput).clear()
        self.state = state
        self.assistant = None
        self.query_one(SegmentInspector).reset(state)
        self.refresh_status()

    def action_toggle_raw(self) -> None:
        raw = self.query_one(Transcript).toggle_raw()
        self.notify("Raw segments, with their marks." if raw else "Replies as Markdown.", timeout=2)

    def action_copy_reply(self) -> None:
        reply = next((t["content"] for t in reversed(self.app.chat.turns) if t["role"] == "assistant"), None)
        if reply is None:
            self.notify("No reply to copy yet.")
            return
        self.app.copy_to_clipboard(reply)
        self.notify(f"Copied the last reply ({len(reply)} characters).", timeout=2)

    def action_new_chat(self) -> None:
        if self._idle():
            self.app.new_chat()
            self.show_history([])
            self.action_focus_prompt()

    def show_history(self, turns: list[dict[str, str]], runs: dict[int, RunState] | None = None,
                     params: Params | None = None) -> None:
        """Fill the transcript with a saved conversation (from the sessions screen).

        ``runs`` maps a turn's position to its recorded run, drawn as it was (marks,
        ``[stopped]``); ``params`` are the last run's, put back in the bar.
        """
        transcript = self.query_one(Transcript)
        transcript.clear_turns()
        prompt = self.query_one(PromptInput)
        prompt.sent = [t["content"] for t in turns if t["role"] == "user"]
        for position, turn in enumerate(turns):
            if turn["role"] == "user":
                transcript.add_user(turn["content"])
            elif runs and position in runs:
                transcript.add_assistant().show(runs[position], running=False)
            else:
                transcript.add_assistant().show_text(turn["content"])
        bar = self.query_one(ParamsBar)
        bar.clear_note()
        if params is not None:
            self.app.current_params = params
            bar.show_params(params)
        self.assistant = None
        self.state = runs[max(runs)] if runs else RunState()  # the inspector shows the last reply's run
        self.query_one(SegmentInspector).reset(self.state)
        self.refresh_status()

    @on(ParamsBar.Changed)
    def params_changed(self, message: ParamsBar.Changed) -> None:
        self.app.current_params = message.params
