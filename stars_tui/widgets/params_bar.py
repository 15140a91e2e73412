"""The parameter bar: the knobs a user turns while a reply is being written.

Every edit goes through ``parse_value`` and ``Params.with_changes``, the rules
the engine itself uses; a refused value leaves the old one in place and shows
the reason. An accepted one is posted as ``ParamsBar.Changed`` and the app
hands it to the engine, which picks it up at the next segment boundary.

Folded, the bar is one summary line of the current strategy's knobs, so the
conversation keeps the rows at 80×24 and Tab from the prompt never walks
through the fields. F9 (a click on the summary, or focusing a field) unfolds
it to the fields of the chosen strategy only, wrapped onto as many rows as the
width needs; Esc gives the focus back to the prompt box and folds it again, as
does the focus leaving it. Messages name the fields by the labels shown.

Besides each strategy's own knobs, every strategy shows max new tokens,
top-p, top-k and seed. Those, like the strategy, shape a whole run
(``RUN_LEVEL_FIELDS``): a change applies from the next reply, and the note
says so. A seed is a number or ``random`` (a fresh one for each reply; the
one used is recorded with the run).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.css.scalar import Unit
from textual.message import Message
from textual.widgets import Input, Label, Select

from stars_engine import decoding
from stars_engine.errors import ParamError, StarsError
from stars_engine.params import (
    ACCEPTANCE_RULES,
    RUN_LEVEL_FIELDS,
    THRESHOLD_MODES,
    Params,
    format_value,
    parse_value,
)

from ..literal import literal

# What each field is called and which the bar shows for each strategy: the strategy registry's.
CHOICES = {"threshold_mode": THRESHOLD_MODES, "acceptance": ACCEPTANCE_RULES, "strategy": decoding.names()}
LABELS = decoding.labels()
# (field, label, choices or None for a typed value)
ALL_FIELDS: tuple[tuple[str, str, tuple[str, ...] | None], ...] = tuple(
    (name, LABELS[name], CHOICES.get(name)) for name in decoding.bar_fields()
)
# The knobs each strategy reads (besides the strategy itself), in the bar's order.
STRATEGY_FIELDS: dict[str, tuple[str, ...]] = {name: decoding.strategy_fields(name) for name in decoding.names()}
_NAMES = re.compile(r"\b(" + "|".join(sorted(LABELS, key=len, reverse=True)) + r")\b")

MOST_COLUMNS = 8


def labelled(message: str) -> str:
    """A message of the parameter rules with each field named by its label (``segment``, not
    ``segment_tokens``); what the user typed (after "got") is left as it was."""
    head, got, typed = message.partition(" got ")
    return _NAMES.sub(lambda m: LABELS[m.group()], head) + got + typed


def shown_fields(strategy: str) -> tuple[str, ...]:
    return ("strategy", *STRATEGY_FIELDS.get(strategy, ()))


def columns_for(widths: Sequence[int], room: int, gutter: int = 1) -> int:
    """How many columns of fields (each column as wide as its widest field) fit in ``room`` cells:
    the fewest rows, with the rows as evenly filled as that allows, so every field stays in sight."""

    def fits(columns: int) -> bool:
        return sum(max(widths[c::columns]) for c in range(columns)) + gutter * (columns - 1) <= room

    most = next((n for n in range(min(MOST_COLUMNS, len(widths)), 1, -1) if fits(n)), 1)
    rows = -(-len(widths) // most)
    return next(n for n in range(-(-len(widths) // rows), most + 1) if fits(n) or n == most)


def summary(params: Params) -> str:
    """The folded bar: the strategy, the reply's length and the other knobs' values, on one line (the
    length first, so a narrow terminal's ellipsis never hides it)."""
    values = [
        f"{LABELS[name]} {format_value(name, getattr(params, name))}"
        for name in STRATEGY_FIELDS[params.strategy] if name != "max_new_tokens"
    ]
    return " · ".join([f"F9 params  {params.strategy}", f"{params.max_new_tokens} tok", *values])


class ParamsBar(Vertical):
    """A summary line, unfolding to the current strategy's fields, and a line for the last refusal or change."""

    BINDINGS = [Binding("escape", "leave", "To prompt", tooltip="Back to the prompt box")]

    class Changed(Message):
        def __init__(self, params: Params, field: str) -> None:
            super().__init__()
            self.params = params
            self.field = field

    def __init__(self, params: Params, check_strategy: Callable[[str], None] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.params = params
        self.check_strategy = check_strategy  # raises StarsError for a strategy the backend cannot run
        self._message = ""  # the message row's text ("" : nothing to say)

    def compose(self) -> ComposeResult:
        yield Label(literal(summary(self.params)), id="param-summary")
        with Vertical(id="param-panel"):  # drawn over the conversation: unfolding moves nothing
            with Grid(id="param-fields"):
                for name, label, choices in ALL_FIELDS:
                    with Horizontal(classes="param", id=f"field-{name}"):
                        yield Label(label, classes="param-label")
                        value = getattr(self.params, name)
                        if choices:
                            yield Select(
                                [(c, c) for c in choices], value=value, allow_blank=False,
                                compact=True, id=f"param-{name}",
                            )
                        else:
                            yield Input(
                                format_value(name, value), compact=True, id=f"param-{name}", select_on_focus=True,
                            )
            yield Label("", id="param-message")

    def on_mount(self) -> None:
        self._show_strategy_fields(self.params.strategy)

    @property
    def expanded(self) -> bool:
        return bool(self.query_one("#param-panel").display)

    def _unfold(self, unfolded: bool) -> None:
        """Show or hide the fields' panel. The bar itself is always the one summary line, and the panel
        is drawn over the conversation (``overlay: screen``), so unfolding, folding and a refusal shown
        or cleared change no one's size: before, each re-styled every field and laid the whole screen
        out again, up to 2 s a key on a loaded 2-core machine."""
        self.query_one("#param-panel").display = unfolded
        self._show_summary()

    def _show_summary(self) -> None:
        """The folded line: the strategy and its knobs, and the last note while it holds."""
        note = f"  ·  {self._message}" if self._message and not self.expanded else ""
        self.query_one("#param-summary", Label).update(literal(summary(self.params) + note))

    def expand(self, focus: bool = True) -> None:
        """Unfold to the fields (F9); the focus goes to the first one."""
        self._lay_out()
        self._unfold(True)
        if focus and not self._holds_focus():
            self.query_one("#param-strategy").focus()

    def fold(self) -> None:
        self._unfold(False)

    def on_click(self, event: events.Click) -> None:
        if not self.expanded:
            self.expand()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if not self.expanded:
            self.expand(focus=False)

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        self.call_after_refresh(self._fold_unless_focused)

    def _holds_focus(self) -> bool:
        focused = self.app.focused
        return focused is not None and self in focused.ancestors_with_self

    def _fold_unless_focused(self) -> None:
        if self.is_mounted and not self._holds_focus():
            self.fold()

    def on_resize(self, event: events.Resize) -> None:
        self._lay_out()

    def _lay_out(self) -> None:
        grid = self.query_one("#param-fields", Grid)
        shown = shown_fields(self.params.strategy)
        columns = columns_for([self._field_width(name) for name in shown], self.size.width,
                              grid.styles.grid_gutter_vertical)  # between columns
        grid.styles.grid_size_columns = columns
        grid.styles.height = -(-len(shown) // columns)

    def _field_width(self, name: str) -> int:
        """Cells a field takes: its label, the label's margin, and its box as the stylesheet sizes it."""
        label = self.query_one(f"#field-{name} .param-label", Label)
        width = self.query_one(f"#param-{name}").styles.width
        box = int(width.value) if width is not None and width.unit == Unit.CELLS else 8
        return len(LABELS[name]) + label.styles.margin.right + box

    def _show_strategy_fields(self, strategy: str) -> None:
        shown = shown_fields(strategy)
        for name, _label, _choices in ALL_FIELDS:
            self.query_one(f"#field-{name}").display = name in shown
        self._lay_out()

    def action_leave(self) -> None:
        self.screen.query_one("#prompt").focus()
        self.fold()

    def show_params(self, params: Params) -> None:
        """Show ``params`` in every field (a reopened session's)."""
        self.params = params
        for name, _label, _choices in ALL_FIELDS:
            self._show(name, params)
        self._show_strategy_fields(params.strategy)
        self._show_summary()

    def apply(self, name: str, raw: str) -> bool:
        """Validate one field's new text; refuse with the reason or post the change."""
        try:
            value = parse_value(name, raw)
            if value == getattr(self.params, name):
                self._clear_refusal()
                return True
            updated = self.params.with_changes(**{name: value})
            if name == "strategy" and self.check_strategy is not None:
                self.check_strategy(updated.strategy)  # refused here, never stored as a failed run
        except StarsError as exc:  # a ParamError, or an ability the backend lacks
            self._say(f"refused: {labelled(str(exc))}", error=True)
            self._show(name, self.params)
            widget = self.query_one(f"#param-{name}")
            if isinstance(widget, Input):
                widget.select_all()  # the old value, selected: typing replaces it
            return False
        self.params = updated
        if not self.query_one(f"#param-{name}").has_focus:
            self._show(name, updated)
        if name == "strategy":
            self._show_strategy_fields(updated.strategy)
        self._show_summary()
        note = " (from the next reply)" if name in RUN_LEVEL_FIELDS else " (from the next segment)"
        self._say(f"{LABELS[name]} = {format_value(name, value)}{note}")
        self.post_message(self.Changed(updated, name))
        return True

    def _say(self, text: str, error: bool = False) -> None:
        message = self.query_one("#param-message", Label)
        self._message = text
        message.update(literal(text))
        message.set_class(error, "error")
        self._show_summary()

    def clear_note(self) -> None:
        """The change it announced has applied (a run started, a new chat): the line goes; a refusal stays."""
        if not self.query_one("#param-message", Label).has_class("error"):
            self._say("")

    def _clear_refusal(self) -> None:
        if self.query_one("#param-message", Label).has_class("error"):
            self._say("")

    def _show(self, name: str, params: Params) -> None:
        widget = self.query_one(f"#param-{name}")
        value = getattr(params, name)
        widget.value = value if isinstance(widget, Select) else format_value(name, value)

    def on_input_changed(self, event: Input.Changed) -> None:
        """A refusal clears as soon as the field holds a value that would be accepted."""
        event.stop()
        name = event.input.id.removeprefix("param-")
        try:
            value = parse_value(name, event.value)
            self.params.with_changes(**{name: value})
        except ParamError:
            return
        if value != getattr(self.params, name):  # not the old value put back after a refusal
            self._clear_refusal()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.apply(event.input.id.removeprefix("param-"), event.value)

    def on_input_blurred(self, event: Input.Blurred) -> None:
        self.apply(event.input.id.removeprefix("param-"), event.value)

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.value is not Select.BLANK:
            self.apply(event.select.id.removeprefix("param-"), str(event.value))
