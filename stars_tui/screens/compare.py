"""Compare 2-4 strategies on one prompt in the workbench (alt+c), side by side.

The engine side is ``stars_engine.compare`` (the same columns and ranking as
``stars compare``). The columns run side by side from one thread worker, on
the app's models, as the policy allows: interleaved on the worker process the
chat uses (one event of each column in turn), at once on a served model (a
thread each), else in turn; the say-line names which. Each column's events
cross to the UI thread through its own ``EventPump``. When every column has finished, the held-out judges
rank the replies in the same worker. Which judges: the chat judge needs the
chat model in this process (a transformers policy with its model and
tokenizer); the workbench's models live in a worker process, so there only the
held-out rubric judges, on the guide's MiniLM (or one loaded here, once, when
the reward has no encoder in this process). Each column is recorded as a run
of the chat's session (a recorder each), as the turn after its last; "Use this reply" (alt+u)
puts the prompt and the focused column's reply into the chat, which goes on
from it.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.widgets import Footer, Input, Static

from stars_engine.compare import Comparison, Outcome, plan, random_seed, schedule_of, summarize, verdict_lines
from stars_engine.display.controls import error_line, one_line
from stars_engine.errors import StarsError
from stars_engine.events import RunStarted

from ..pump import EventPump, EventsReady
from ..widgets.compare_columns import CompareColumn
from ..widgets.inspector import SegmentInspector

PRESETS = ("vanilla,bon-4,stars", "vanilla,stars", "bon-4,stars,specrej:n=8", "vanilla,bon-4,stars,specrej:n=8")
NOTE = "columns run side by side; Enter runs, Esc stops them all, Tab picks a column, alt+u uses its reply"

JudgeMaker = Callable[[Any, Any], dict[str, Any]]


_JUDGES: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def workbench_judges(policy: Any, reward: Any) -> dict[str, Any]:
    """The held-out judges possible here: the chat judge only with the chat model in this process,
    the rubric judge always (it needs only an encoder). Kept per loaded reward, so an encoder loaded
    here for a worker-process reward is loaded once, not once per comparison."""
    from stars_engine.bench.heldout import build_judges

    judges = _JUDGES.get(reward)
    if judges is None:
        in_process = getattr(policy, "model", None) is not None and getattr(policy, "tokenizer", None) is not None
        judges = _JUDGES[reward] = build_judges((["chat"] if in_process else []) + ["rubric"], policy, reward)
    return judges


class CompareDone(Message):
    """The worker returned: every column ended, and the replies were ranked (unless stopped)."""

    def __init__(self, lines: list[str], winner: int | None, error: str | None,
                 run_ids: list[str | None], session_id: str | None) -> None:
        super().__init__()
        self.lines, self.winner, self.error = lines, winner, error
        self.run_ids, self.session_id = run_ids, session_id


class CompareScreen(Screen):
    """Pick strategies, a prompt and a seed; watch the columns fill; see who won and at what cost."""

    DEFAULT_CSS = """
    CompareScreen #compare-form { height: auto; }
    CompareScreen #compare-form Input { width: 1fr; }
    CompareScreen #compare-form #compare-seed { width: 15; }
    CompareScreen #compare-note { height: auto; color: $text-muted; padding: 0 1; }
    CompareScreen #compare-verdict { height: auto; padding: 0 1; }
    CompareScreen #compare-main { height: 1fr; }
    CompareScreen #compare-columns { width: 3fr; }
    CompareScreen SegmentInspector { width: 2fr; min-width: 36; border-left: solid $primary-darken-2; padding: 0 1; }
    CompareScreen.-narrow SegmentInspector { display: none; }
    """
    BINDINGS = [
        Binding("escape", "stop", "Stop / back", tooltip="Stop every column (what was written is kept), else go back"),
        Binding("alt+u", "use_reply", "Use this reply", priority=True,
                tooltip="Take the focused column's reply as the turn's answer; the chat goes on from it"),
    ]

    def __init__(self, prompt: str = "", judges: JudgeMaker = workbench_judges) -> None:
        super().__init__()
        self.prompt_text = prompt
        self.make_judges = judges
        self.columns: list[CompareColumn] = []
        self.pumps: dict[EventPump, CompareColumn] = {}
        self.cancel = threading.Event()
        self.running = False
        self.comparison: Comparison | None = None
        self.run_ids: list[str | None] = []
        self.lines: list[str] = []

    def compose(self) -> ComposeResult:
        with Horizontal(id="compare-form"):
            specs = Input(PRESETS[0], placeholder="2-4 specs, e.g. " + PRESETS[-1], id="compare-specs",
                          suggester=SuggestFromList(PRESETS))
            specs.border_title = "strategies"
            yield specs
            prompt = Input(self.prompt_text, placeholder="prompt", id="compare-prompt")
            prompt.border_title = "prompt"
            yield prompt
            seed = Input(placeholder="random", id="compare-seed", type="integer")
            seed.border_title = "base seed"
            yield seed
        yield Static(Text(NOTE), id="compare-note")
        with Horizontal(id="compare-main"):
            yield Horizontal(id="compare-columns")
            yield SegmentInspector()
        yield Static(id="compare-verdict")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#compare-specs", Input).focus()
        self.set_interval(0.5, self.tick)

    def on_resize(self) -> None:
        self.set_class(self.size.width < 100, "-narrow")

    def on_unmount(self) -> None:
        self.cancel.set()

    def say(self, line: str) -> None:
        """One visible line under the form: a refusal, or what is happening."""
        self.query_one("#compare-note", Static).update(Text(one_line(line)))

    # -- starting ---------------------------------------------------------

    @on(Input.Submitted)
    def start(self) -> None:
        """Plan the columns from the form (a bad spec, prompt or seed is refused in one line), then run them."""
        app = self.app
        if self.running:
            self.say("The columns are running; Esc stops them first.")
            return
        if app.policy is None or app.reward is None:
            self.say(f"The models are not ready ({app.model_state}).")
            return
        prompt = self.query_one("#compare-prompt", Input).value.strip()
        seed_text = self.query_one("#compare-seed", Input).value.strip()
        try:
            if not prompt:
                raise StarsError("type a prompt to compare on")
            seed = int(seed_text) if seed_text else random_seed()
            if seed < 0:
                raise StarsError(f"the seed must be an integer >= 0, got {seed}")
            columns = plan(self.query_one("#compare-specs", Input).value, app.current_params, seed)
        except (StarsError, ValueError) as exc:
            self.say(f"error: {error_line(exc)}")
            return
        self.query_one("#compare-seed", Input).value = str(seed)
        self.comparison = Comparison(columns, app.chat.messages() + [{"role": "user", "content": prompt}])
        self.lines, self.run_ids = [], []
        self.query_one("#compare-verdict", Static).update("")
        holder = self.query_one("#compare-columns", Horizontal)
        holder.remove_children()
        self.columns = [CompareColumn(c) for c in columns]
        holder.mount_all(self.columns)
        self.pumps = {EventPump(): col for col in self.columns}
        self.cancel = threading.Event()
        self.running = True
        self.say(f"base seed {seed}: {len(columns)} columns, {schedule_of(app.policy)}; Esc stops them all")
        self.query_one(SegmentInspector).reset(self.columns[0].state)
        self.call_after_refresh(self.compare, self.comparison, list(self.pumps), self.cancel)

    @work(thread=True, group="compare", exit_on_error=False)
    def compare(self, comparison: Comparison, pumps: list[EventPump], cancel: threading.Event) -> None:
        """The columns through the engine (each with its own recorder), then the judges: off the UI thread."""
        from stars_engine.compare.recording import ColumnRecorders

        app = self.app
        policy, reward, chat = app.policy, app.reward, app.chat
        recorders = None
        lines: list[str] = []
        winner = error = None
        try:
            policy.check_prompt(comparison.messages, max(c.params.max_new_tokens for c in comparison.columns))
            if chat.db_path is not None:
                turn = chat.next_number if chat.reuse is None else chat.reuse  # the number "Use this reply" adds
                recorders = ColumnRecorders(chat.db_path, session_id=chat.session_id, turn=turn)

            def ended(outcome: Outcome) -> None:
                outcome.run_id = recorders.run_id(outcome.column) if recorders is not None else None

            wrap = recorders.wrap if recorders is not None else None
            for column, event in comparison.events(policy, reward, cancel, wrap, ended):
                pump = pumps[column.index]
                self.pumps[pump].passes = comparison.passes(column)
                pump.put(event)
                self.post_message(EventsReady(pump))
            base_seed = comparison.columns[0].seed  # column i runs with base + i
            judges = {} if cancel.is_set() else self.make_judges(policy, reward)
            summary = summarize(comparison, judges, base_seed)
            if not cancel.is_set():
                lines = verdict_lines(summary)
                winner = summary["guide"] and summary["guide"]["winner"]
            if recorders is not None:
                recorders.link(comparison, summary)  # one record linking the columns' runs
        except Exception as exc:  # noqa: BLE001 - shown in one line, never raised into the UI
            error = error_line(exc)
        run_ids = [o.run_id for o in comparison.outcomes]
        self.post_message(CompareDone(lines, winner, error, run_ids, recorders.session_id if recorders else None))

    # -- drawing ----------------------------------------------------------

    @on(EventsReady)
    def take_events(self, message: EventsReady) -> None:
        column = self.pumps.get(message.pump)
        if column is None:
            return
        for event in message.pump.drain():
            if isinstance(event, RunStarted):
                column.started_at = self.app.clock()
                column.status = "running"
                if not isinstance(self.focused, CompareColumn):  # the inspector follows the running column
                    self.query_one(SegmentInspector).reset(column.state)
            column.state.apply(event)
        column.show(self.seconds(column))
        if self.query_one(SegmentInspector).state is column.state:
            self.query_one(SegmentInspector).refresh_view()

    def seconds(self, column: CompareColumn) -> float:
        return 0.0 if column.started_at is None else self.app.clock() - column.started_at

    def tick(self) -> None:
        """The running column's wall seconds go on between its events."""
        for column in self.columns:
            if column.started_at is not None and not column.state.done:
                column.show(self.seconds(column))

    @on(CompareDone)
    def done(self, message: CompareDone) -> None:
        self.running = False
        self.run_ids = message.run_ids
        if message.session_id is not None:
            self.app.chat.session_id = message.session_id
            self.app.remember_session(message.session_id)
        assert self.comparison is not None
        for column, outcome in zip(self.columns, self.comparison.outcomes):
            if outcome.error and column.state.failed is None:
                column.error = outcome.error
            column.set_class(message.winner == column.column.index, "-winner")
            column.show(self.seconds(column))
        if message.error:
            self.say(f"error: {message.error}")
        elif self.cancel.is_set():
            self.say("stopped: what was written is kept; nothing was judged")
        else:
            self.say(f"done ({self.comparison.schedule}): Tab to a column and alt+u to use its reply")
        self.lines = message.lines
        self.query_one("#compare-verdict", Static).update(Text("\n".join(one_line(line) for line in message.lines)))
        self.app.chat_screen.refresh_chat_list()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """A focused column's segments and attempts go to the inspector, as for a chat run."""
        column = event.widget
        if isinstance(column, CompareColumn):
            self.query_one(SegmentInspector).reset(column.state)

    # -- actions ----------------------------------------------------------

    def action_stop(self) -> None:
        """Esc: stop every column (a running one ends within a token, one not started does not start); else back."""
        if self.running:
            self.cancel.set()
            self.say("stopping…")
        else:
            self.app.pop_screen()

    def action_use_reply(self) -> None:
        """The focused column's reply becomes the turn's answer: the prompt and it join the chat."""
        column = self.focused if isinstance(self.focused, CompareColumn) else None
        if self.running:
            self.say("The columns are running; wait or press Esc first.")
        elif column is None or not column.state.text or self.comparison is None:
            self.say("Focus a column with a reply first (Tab).")
        else:
            run_id = self.run_ids[column.column.index] if self.run_ids else None
            self.app.chat_screen.take_compared(self.comparison.prompt, column.state, run_id)
            self.app.pop_screen()
