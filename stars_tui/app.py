"""The Textual application: models, parameters and the store shared by every screen.

The policy and reward come from loader callables run in a background thread,
so the sessions and replay screens work while the model loads, and tests can
hand in scripted ones. With ``spec`` (what is loaded) and ``load_spec`` the
model picker (F10) can switch: the picked models load in the same background
way, beside the old ones, which end only once the new ones are ready. ``current_params`` is an immutable ``Params``; the
engine reads it from the generation thread, which is safe because it is only
ever replaced, never changed. ``settings`` (the config file: theme, rubric,
the last session) is None in tests, so they never touch a user's files.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from stars_engine.backends.spec import ModelSpec
from stars_engine.engine import one_line
from stars_engine.errors import StarsError
from stars_engine.params import Params
from stars_engine.policy.base import Policy, policy_label
from stars_engine.reward.base import Reward, reward_label
from stars_engine.store import open_store

from .chat_session import ChatSession
from .config import Settings
from .literal import LiteralNotifications
from .pump import ModelsLoaded
from .saved_session import SavedSession, load_session
from .screens.chat import ChatScreen
from .screens.model_picker import ModelsSwitched
from .widgets.prompt_input import install_paste_guard

if TYPE_CHECKING:
    from stars_engine.reward.rubric import Rubric

PolicyLoader = Callable[[], Policy]
RewardLoader = Callable[[], Reward]
SpecLoader = Callable[[ModelSpec], tuple[Policy, Reward]]  # a chat model and reward, by what to load


class StarsApp(LiteralNotifications, App):
    """The STARS workbench."""

    CSS_PATH = "stars.tcss"
    TITLE = "stars"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", tooltip="Stop any run and quit", priority=True)]

    def __init__(
        self,
        policy_loader: PolicyLoader | None,
        reward_loader: RewardLoader | None,
        db_path: Path | None = None,
        params: Params | None = None,
        clock: Callable[[], float] = time.monotonic,
        settings: Settings | None = None,
        strategy_check: Callable[[str], None] | None = None,
        system_prompt: str = "",
        spec: ModelSpec | None = None,
        load_spec: SpecLoader | None = None,
    ) -> None:
        super().__init__()
        install_paste_guard()  # a pasted ESC arrives in the paste, as ␛, not as key presses
        self.settings = settings or Settings()
        self.policy_loader = policy_loader
        self.reward_loader = reward_loader
        self.db_path = db_path
        self.current_params = params or Params()
        self.strategy_check = strategy_check  # the backend's abilities: a strategy it cannot run is refused in the bar
        # What is loaded, when the app knows it (the model picker switches only then); the loaders,
        # when given, load the first models instead (tests hand in scripted ones).
        self.spec, self.start_spec = spec, spec
        self.load_spec = load_spec
        self.replaced: Policy | None = None  # the model a switch in progress replaces
        self.policy: Policy | None = None
        self.reward: Reward | None = None
        self.model_state = "loading models…"  # always in sight in the status line
        self.model_status = ""  # the details, shown where they fit: ids, load time, the last rubric change
        self.system_prompt = system_prompt  # --system: each new chat starts with it
        self.chat = ChatSession(db_path, system_prompt)
        self.clock = clock  # tests freeze it so the status line draws the same each time

    def get_default_screen(self) -> Screen:
        return ChatScreen()

    def on_mount(self) -> None:
        if self.settings.theme:
            self.theme = self.settings.theme
        self.load_models()
        if self.settings.last_session and self.db_path is not None:
            self.offer_last_session(self.settings.last_session)

    def watch_theme(self, theme: str) -> None:
        if self.settings.theme != theme:
            self.settings.theme = theme
            self._save_settings(theme=theme)

    def _save_settings(self, **changes) -> None:
        try:
            self.settings.save(**changes)
        except OSError as exc:
            self.notify(f"settings not saved: {exc}", severity="warning")

    @property
    def chat_screen(self) -> ChatScreen:
        return next(s for s in self.screen_stack if isinstance(s, ChatScreen))

    # -- models -----------------------------------------------------------

    @work(thread=True, group="load", exit_on_error=False)
    def load_models(self) -> None:
        started = self.clock()
        try:
            if self.policy_loader is None or self.reward_loader is None:
                assert self.spec is not None and self.load_spec is not None, "no loaders and nothing to load"
                policy, reward = self.load_spec(self.spec)
            else:
                policy, reward = self.policy_loader(), self.reward_loader()
        except Exception as exc:  # noqa: BLE001 - a load failure is shown, the app stays usable
            self.post_message(ModelsLoaded(None, None, one_line(exc), self.clock() - started))
            return
        self.post_message(ModelsLoaded(policy, reward, None, self.clock() - started))

    @on(ModelsLoaded)
    def models_loaded(self, message: ModelsLoaded) -> None:
        if message.error:
            self.model_state = "model failed"
            self.model_status = f"model failed to load: {message.error}"
            self.notify(message.error, title="Model failed to load", severity="error", timeout=10)
        else:
            self._models_ready(message.policy, message.reward, message.seconds)
        self.chat_screen.refresh_status()

    def _models_ready(self, policy: Policy, reward: Reward, seconds: float) -> None:
        self.policy, self.reward = policy, reward
        self.model_state = "ready"
        self.model_status = f"{policy_label(policy)} · {reward_label(reward)} (loaded in {seconds:.1f} s)"
        self.chat_screen.models_ready()

    def action_pick_model(self) -> None:
        """Open the model picker (refused while a reply is written or models load)."""
        from .screens.model_picker import ModelPicker

        if self.chat_screen.running:
            self.notify("Stop the reply first (Esc); the model changes between replies.", severity="warning")
        elif self.spec is None or self.start_spec is None or self.load_spec is None:
            self.notify("These models were handed to the app directly; there is nothing to switch to.")
        elif (self.policy is None or self.reward is None) and self.model_state != "model failed":
            self.notify(f"Wait until the models are ready ({self.model_state}).")
        else:
            self.push_screen(ModelPicker(self.spec, self.start_spec), self.switch_models)

    def switch_models(self, spec: ModelSpec | None) -> None:
        """Load ``spec`` in the background; until it is ready no run starts, and on failure the old models stay."""
        from stars_engine import backends

        if spec is None or spec == self.spec:
            return
        if self.chat_screen.running:
            self.notify("Stop the reply first (Esc); the model changes between replies.", severity="warning")
            return
        try:
            backends.check_strategy(backends.choose(spec, app=True), self.current_params.strategy)
        except StarsError as exc:
            self.notify(str(exc), title="Model not switched", severity="error")
            return
        previous, self.policy, self.reward = (self.policy, self.reward), None, None
        self.replaced = previous[0]  # still open while the new models load: closed with the app if it quits
        self.model_state = "loading models…"
        self.chat_screen.refresh_status()
        self.load_switched(spec, previous)

    @work(thread=True, group="load", exit_on_error=False)
    def load_switched(self, spec: ModelSpec, previous: tuple[Policy | None, Reward | None]) -> None:
        """The picked models load here, beside the old ones, which end only once the new ones are ready."""
        started = self.clock()
        assert self.load_spec is not None  # the picker opens only with one
        try:
            policy, reward = self.load_spec(spec)
        except Exception as exc:  # noqa: BLE001 - a load failure is one line; the previous models stay
            self.post_message(ModelsSwitched(spec, previous, None, one_line(exc), self.clock() - started))
            return
        self.post_message(ModelsSwitched(spec, previous, (policy, reward), None, self.clock() - started))

    def on_models_switched(self, message: ModelsSwitched) -> None:
        from stars_engine import backends

        old_policy, old_reward = message.previous
        self.replaced = None
        if message.loaded is not None:
            self.spec = message.spec
            self.strategy_check = partial(backends.check_strategy, backends.choose(message.spec, app=True))
            self._models_ready(*message.loaded, message.seconds)
            self.close_policy(old_policy)
        else:
            self.policy, self.reward = old_policy, old_reward
            self.model_state = "ready" if old_policy is not None else "model failed"
            self.model_status = f"model not switched: {message.error}"
            self.notify(message.error or "", title="Model not switched", severity="error", timeout=10)
            if old_policy is not None:
                self.chat_screen.models_ready()  # a prompt sent meanwhile goes to the old models
        self.chat_screen.refresh_status()

    @work(thread=True, group="close", exit_on_error=False)
    def close_policy(self, policy: Policy | None) -> None:
        """A replaced model's process ends off the UI thread (joining it can take a moment)."""
        close = getattr(policy, "close", None)
        if close is not None:
            close()

    # -- shared actions ---------------------------------------------------

    def new_chat(self) -> None:
        self.chat = ChatSession(self.db_path, self.system_prompt)

    def action_quit(self) -> None:
        """Stop the run first (and a comparison's columns), so the generation thread ends within a token."""
        from .screens.compare import CompareScreen

        self.chat_screen.cancel.set()
        for screen in self.screen_stack:
            if isinstance(screen, CompareScreen):
                screen.cancel.set()
        self.exit()

    async def on_unmount(self) -> None:
        """A model process the loaders started ends with the app, cleanly (pipe closed, joined), every time."""
        import asyncio

        for policy in (self.policy, self.replaced):
            close = getattr(policy, "close", None)  # a backend that holds a process ends it here
            if close is not None:
                await asyncio.to_thread(close)

    def action_sessions(self) -> None:
        from .screens.sessions import SessionsScreen

        if self._needs_store():
            self.push_screen(SessionsScreen(self.db_path))

    def action_replay_last(self) -> None:
        if not self._needs_store():
            return
        if self.chat.last_run_id is None:
            self.notify("No run recorded in this session yet; pick one on the sessions screen (F2).")
            return
        self.open_replay(self.chat.last_run_id)

    @work(thread=True, group="replay", exclusive=True, exit_on_error=False)
    def open_replay(self, run_id: str) -> None:
        """Read the run in a worker; the replay screen opens once its events are here."""
        try:
            with open_store(self.db_path) as store:
                events = store.run_events(run_id)
        except StarsError as exc:
            self.call_from_thread(self.notify, str(exc), title="Cannot replay", severity="error")
            return
        self.call_from_thread(self._show_replay, events, run_id)

    def _show_replay(self, events: list, run_id: str) -> None:
        from .screens.replay import ReplayScreen

        self.push_screen(ReplayScreen(events, title=f"run {run_id[:8]}"))

    def open_session(self, saved: SavedSession) -> bool:
        """Continue a saved session in the chat; refused while a reply is being written."""
        if self.chat_screen.running:
            self.notify("Stop the reply first (Esc).", severity="warning")
            return False
        self.chat = ChatSession(self.db_path)
        self.chat.resume(saved.session_id, saved.conversation(), saved.last_run_id, saved.numbers, saved.next_number,
                         saved.system_prompt)
        self.chat_screen.show_history(saved.turns, saved.runs, saved.params)
        self.remember_session(saved.session_id)
        return True

    def remember_session(self, session_id: str | None) -> None:
        """The session to offer to reopen at the next start."""
        if session_id is not None and session_id != self.settings.last_session:
            self.settings.last_session = session_id
            self._save_settings(last_session=session_id)

    @work(thread=True, group="reopen", exit_on_error=False)
    def offer_last_session(self, session_id: str) -> None:
        """At start: if the last session is still in the database, ask whether to reopen it."""
        try:
            with open_store(self.db_path) as store:
                saved = load_session(store, session_id)
        except StarsError:
            return  # deleted, or another database: nothing to offer
        self.call_from_thread(self._ask_reopen, saved)

    def _ask_reopen(self, saved: SavedSession) -> None:
        from .screens.dialogs import ConfirmDialog

        if self.chat.turns or not saved.turns:
            return  # the user started chatting meanwhile
        question = f"Reopen your last session, “{saved.title}”? (y/n)"
        self.push_screen(ConfirmDialog(question), lambda yes: yes and self.open_session(saved))

    def forget_session(self, session_id: str) -> None:
        """The open session was deleted: the next prompt starts a new one."""
        if self.chat.session_id == session_id and not self.chat_screen.running:
            self.new_chat()
            self.chat_screen.show_history([])
            self.chat_screen.action_focus_prompt()  # its focused turn is gone; keys go to the prompt again

    def action_export(self, kind: str = "", ident: str = "") -> None:
        from .screens.export import ExportDialog

        if not self._needs_store():
            return
        if not ident:
            kind, ident = ("run", self.chat.last_run_id) if self.chat.last_run_id else ("session", "")
        if not ident:
            self.notify("Nothing recorded yet to export.")
            return
        self.push_screen(ExportDialog(self.db_path, kind, ident))

    def action_system_prompt(self) -> None:
        from .screens.system_prompt import edit_system_prompt

        edit_system_prompt(self, self.chat)

    def action_rubric(self) -> None:
        if self.chat_screen.running:
            self.notify("Stop the reply first (Esc); the rubric changes between runs.", severity="warning")
            return
        if self.reward is None:
            self.notify(f"The reward is not ready ({self.model_state}).")
            return
        self.read_rubric(self.reward)

    @work(thread=True, group="rubric", exclusive=True, exit_on_error=False)
    def read_rubric(self, reward: Reward) -> None:
        """Reading the rubric is a round trip to the model process: off the UI thread."""
        try:
            rubric = reward.rubric
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.call_from_thread(self.notify, one_line(exc), title="Cannot read the rubric", severity="error")
            return
        self.call_from_thread(self._edit_rubric, rubric)

    def _edit_rubric(self, rubric: Rubric | None) -> None:
        from .screens.rubric import RubricDialog

        if rubric is None:
            self.notify("The loaded reward has no editable rubric (only the default embedding rubric has).")
        elif self.chat_screen.running:
            self.notify("Stop the reply first (Esc); the rubric changes between runs.", severity="warning")
        else:
            self.push_screen(RubricDialog(rubric), self._set_rubric)

    def _set_rubric(self, rubric: Rubric | None) -> None:
        if rubric is not None:
            # No run may start (or score) while the exemplars are re-embedded.
            reward, self.reward = self.reward, None
            self.model_state = "re-embedding the rubric…"
            self.apply_rubric(reward, rubric)

    @work(thread=True, group="load", exit_on_error=False)
    def apply_rubric(self, reward: Reward, rubric: Rubric) -> None:
        """Setting the rubric embeds its exemplars: model work, so off the UI thread."""
        from .screens.rubric import apply_measured

        try:
            note, applied = apply_measured(reward, rubric, self.current_params.threshold), rubric
        except Exception as exc:  # noqa: BLE001 - shown to the user
            note, applied = f"rubric not applied: {one_line(exc)}", None
        self.call_from_thread(self._rubric_applied, reward, note, applied)

    def _rubric_applied(self, reward: Reward, note: str, applied: Rubric | None) -> None:
        if applied is not None:
            self._save_settings(rubric=applied.to_dict())
        self.reward = reward
        self.model_state = "ready"
        self.model_status = f"{policy_label(self.policy)} · {reward_label(reward)} · {note}"
        self.notify(note)
        self.chat_screen.refresh_status()

    def _needs_store(self) -> bool:
        if self.db_path is None:
            self.notify("No session database is open (pass --db).", severity="warning")
            return False
        return True

    # -- command palette --------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every footer action of the current screen, plus Textual's own (quit among them)."""
        yield from super().get_system_commands(screen)
        for binding in screen.BINDINGS:
            if isinstance(binding, Binding) and binding.description:
                yield SystemCommand(binding.description, binding.tooltip or binding.description,
                                    _runner(screen, binding.action))


def _runner(screen: Screen, action: str) -> Callable[[], Any]:
    return lambda: screen.run_action(action)
