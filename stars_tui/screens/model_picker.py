"""The model picker: the chat models and rewards the workbench can switch to, the current ones marked.

The catalog reads the Hugging Face cache and asks the servers, so it is built
in a worker while the picker shows "reading…". Picking dismisses the screen
with the new ``ModelSpec``; the app loads it off the UI thread (``StarsApp.switch_models``).
Names come from folders and servers: shown literally, control characters visible.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from stars_engine.backends.catalog import Catalog, Choice, catalog
from stars_engine.backends.spec import ModelSpec
from stars_engine.display.controls import error_line
from stars_engine.policy.base import Policy
from stars_engine.reward.base import Reward

from ..literal import literal


class ModelsSwitched(Message):
    """A picked model loaded (``loaded``), or failed to (``error``); ``previous`` are the models it replaces."""

    def __init__(
        self, spec: ModelSpec, previous: tuple[Policy | None, Reward | None],
        loaded: tuple[Policy, Reward] | None, error: str | None, seconds: float,
    ) -> None:
        super().__init__()
        self.spec, self.previous, self.loaded, self.error, self.seconds = spec, previous, loaded, error, seconds


def choice_line(choice: Choice, spec: ModelSpec) -> str:
    """One row: a mark on the current model, its name as found, where it comes from."""
    mark = "●" if choice.current(spec) else " "
    return f"{mark} {choice.label}  ({choice.source})"


class ModelPicker(ModalScreen[ModelSpec | None]):
    """Pick the chat model or the reward; Enter switches to it, Esc leaves everything as it is."""

    DEFAULT_CSS = """
    ModelPicker { align: center middle; }
    ModelPicker #picker { width: 90%; max-width: 110; height: auto; max-height: 100%;
                          border: round $accent; padding: 0 1; background: $surface; }
    ModelPicker OptionList { height: auto; max-height: 8; }
    ModelPicker .heading { text-style: bold; margin-top: 1; }
    ModelPicker #picker-note { color: $text-muted; margin-top: 1; }
    """
    BINDINGS = [Binding("escape", "back", "Back", tooltip="Close the picker; the models stay as they are")]

    def __init__(self, spec: ModelSpec, start_spec: ModelSpec) -> None:
        super().__init__()
        self.spec, self.start_spec = spec, start_spec
        self.choices: dict[str, list[Choice]] = {"chat": [], "reward": []}

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Static("Models · Enter switches to the highlighted one · Esc goes back", id="picker-title")
            yield Label("Chat model", classes="heading")
            yield OptionList(id="chat")
            yield Label("Reward", classes="heading")
            yield OptionList(id="reward")
            yield Static("reading the model cache…", id="picker-note")

    def on_mount(self) -> None:
        self.query_one("#chat", OptionList).focus()
        self.read_catalog()

    @work(thread=True, group="catalog", exclusive=True, exit_on_error=False)
    def read_catalog(self) -> None:
        """The cache scan and the servers' answers, off the UI thread."""
        try:
            found = catalog(self.start_spec)
        except Exception as exc:  # noqa: BLE001 - shown in the picker, which stays usable for Esc
            self.app.call_from_thread(self._show_problem, error_line(exc))
            return
        self.app.call_from_thread(self._show, found)

    def _show_problem(self, line: str) -> None:
        self.query_one("#picker-note", Static).update(literal(f"cannot read the catalog: {line}"))

    def _show(self, found: Catalog) -> None:
        for kind, choices in (("chat", found.chat), ("reward", found.reward)):
            self.choices[kind] = choices
            options = self.query_one(f"#{kind}", OptionList)
            options.clear_options()
            options.add_options([Option(literal(choice_line(c, self.spec))) for c in choices])
            options.highlighted = next((i for i, c in enumerate(choices) if c.current(self.spec)), 0)
        note = "● in use · a switch reloads both models, the app stays usable"
        if found.problems:
            note = f"{note}\nnot listed: {found.problems[0]}" + (
                f" (and {len(found.problems) - 1} more)" if len(found.problems) > 1 else "")
        self.query_one("#picker-note", Static).update(literal(note))

    @on(OptionList.OptionSelected)
    def picked(self, event: OptionList.OptionSelected) -> None:
        choice = self.choices[event.option_list.id or "chat"][event.option_index]
        if choice.current(self.spec):
            self.app.notify(f"{choice.label} is already in use.")
            return
        self.dismiss(choice.apply(self.spec))

    def action_back(self) -> None:
        self.dismiss(None)

