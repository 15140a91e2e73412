"""Edit the default reward's rubric: the prefer / avoid exemplars and the relevance weight.

The default reward is an embedding rubric, a stand-in for a trained reward
model: a reply scores higher the closer it sits to the "prefer" lines and the
further from the "avoid" lines. One exemplar a line. The reward module's
own rules (``Rubric.from_dict``) validate the edit; a refusal is shown and the dialog
stays open. The new rubric applies from the next run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, TextArea

from stars_engine.errors import StarsError

from ..literal import literal, printable

if TYPE_CHECKING:
    from stars_engine.reward.rubric import Rubric


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class RubricDialog(ModalScreen["Rubric | None"]):
    """Dismissed with the new ``Rubric``, or None. It scrolls; Cancel and Apply stay in sight at 80×24."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, rubric: Rubric) -> None:
        super().__init__()
        self.rubric = rubric

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Label(
                "Reward rubric (a stand-in for a trained reward model) — one exemplar a line",
                classes="title",
            )
            yield Label("prefer: replies like these score higher")
            yield TextArea(printable("\n".join(self.rubric.prefer)), id="prefer")
            yield Label("avoid: replies like these score lower")
            yield TextArea(printable("\n".join(self.rubric.avoid)), id="avoid")
            with Horizontal(classes="buttons"):
                yield Label("relevance weight ")
                yield Input(str(self.rubric.relevance_weight), id="weight", compact=True)
            yield Label("", id="rubric-error", classes="error")
            with Horizontal(classes="buttons", id="rubric-buttons"):  # docked: in sight however small the screen
                yield Button("Cancel", id="cancel")
                yield Button("Apply", variant="primary", id="apply")

    @on(Button.Pressed, "#apply")
    def apply(self) -> None:
        from stars_engine.reward.rubric import Rubric

        raw_weight = self.query_one("#weight", Input).value.strip()
        try:
            weight = float(raw_weight)
        except ValueError:
            self.query_one("#rubric-error", Label).update(literal(f"relevance weight: cannot read {raw_weight!r}"))
            return
        data = {
            "prefer": lines(self.query_one("#prefer", TextArea).text),
            "avoid": lines(self.query_one("#avoid", TextArea).text),
            "relevance_weight": weight,
        }
        try:
            rubric = Rubric.from_dict(data)
        except StarsError as exc:
            self.query_one("#rubric-error", Label).update(literal(str(exc)))
            return
        self.dismiss(rubric)

    @on(Button.Pressed, "#cancel")
    def cancel(self) -> None:
        self.dismiss(None)
