"""The parameter bar: the knobs a user turns while a reply is being written.

Every edit goes through ``parse_value`` and ``Params.with_changes``, the rules
the engine itself uses; a refused value leaves the old one in place and shows
the reason. An accepted one is posted as ``ParamsBar.Changed`` and the app
hands it to the engine, which picks it up at the next segment boundary.

The fields wrap onto as many rows as the width needs (two at 80 columns), so
none is ever hidden off the edge where the focus could land on it unseen.
Esc gives the focus back to the prompt box.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label, Select

from stars_engine import decoding
from stars_engine.errors import ParamError
from stars_engine.params import ACCEPTANCE_RULES, THRESHOLD_MODES, Params, parse_value

from ..literal import literal

CHOICES = {"threshold_mode": THRESHOLD_MODES, "acceptance": ACCEPTANCE_RULES}


def bar_fields() -> tuple[tuple[str, str, tuple[str, ...] | None], ...]:
    """(field, short label, choices or None for a typed value), as the strategy registry lays them out."""
    choices = {**CHOICES, "strategy": decoding.names()}
    return tuple((k.field, k.label or k.field, choices.get(k.field)) for k in decoding.bar_knobs())




# Columns of fields for the bar's width: every field stays in sight.
LAYOUTS = ((150, 8), (78, 4), (40, 2), (0, 1))


class ParamsBar(Vertical):
    """Compact rows of fields and a line for the last refusal or change."""

    BINDINGS = [Binding("escape", "leave", "To prompt", tooltip="Back to the prompt box")]

    class Changed(Message):
        def __init__(self, params: Params, field: str) -> None:
            super().__init__()
            self.params = params
            self.field = field

    def __init__(self, params: Params, **kwargs) -> None:
        super().__init__(**kwargs)
        self.params = params

    def compose(self) -> ComposeResult:
        with Grid(id="param-fields"):
            for name, label, choices in bar_fields():
                with Horizontal(classes="param"):
                    yield Label(label, classes="param-label")
                    value = getattr(self.params, name)
                    if choices:
                        yield Select(
                            [(c, c) for c in choices], value=value, allow_blank=False,
                            compact=True, id=f"param-{name}",
                        )
                    else:
                        yield Input(str(value), compact=True, id=f"param-{name}", select_on_focus=True)
        yield Label("", id="param-message")

    def on_resize(self, event: events.Resize) -> None:
        columns = next(n for width, n in LAYOUTS if event.size.width >= width)
        grid = self.query_one("#param-fields", Grid)
        grid.styles.grid_size_columns = columns
        grid.styles.height = -(-len(bar_fields()) // columns)

    def action_leave(self) -> None:
        self.screen.query_one("#prompt").focus()

    def show_params(self, params: Params) -> None:
        """Show ``params`` in every field (a reopened session's)."""
        self.params = params
        for name, _label, _choices in bar_fields():
            self._show(name, params)

    def apply(self, name: str, raw: str) -> bool:
        """Validate one field's new text; refuse with the reason or post the change."""
        message = self.query_one("#param-message", Label)
        try:
            value = parse_value(name, raw)
            if value == getattr(self.params, name):
                self._clear_refusal()
                return True
            updated = self.params.with_changes(**{name: value})
        except ParamError as exc:
            message.update(literal(f"refused: {exc}"))
            message.set_class(True, "error")
            self._show(name, self.params)
            widget = self.query_one(f"#param-{name}")
            if isinstance(widget, Input):
                widget.select_all()  # the old value, selected: typing replaces it
            return False
        self.params = updated
        if not self.query_one(f"#param-{name}").has_focus:
            self._show(name, updated)
        message.set_class(False, "error")
        note = " (from the next reply)" if name == "strategy" else " (from the next segment)"
        message.update(literal(f"{name} = {value}{note}"))
        self.post_message(self.Changed(updated, name))
        return True

    def _clear_refusal(self) -> None:
        message = self.query_one("#param-message", Label)
        if message.has_class("error"):
            message.set_class(False, "error")
            message.update("")

    def _show(self, name: str, params: Params) -> None:
        widget = self.query_one(f"#param-{name}")
        widget.value = getattr(params, name) if isinstance(widget, Select) else str(getattr(params, name))

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
