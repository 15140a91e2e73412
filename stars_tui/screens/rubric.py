"""Edit the default reward's rubric: the prefer / avoid exemplars and the relevance weight.

The default reward is an embedding rubric, a stand-in for a trained reward
model: a reply scores higher the closer it sits to the "prefer" lines and the
further from the "avoid" lines. One exemplar a line. The reward module's
own rules (``Rubric.from_dict``) validate the edit; a refusal is shown and the dialog
stays open. The new rubric applies from the next run, and is recorded with each run.

A rubric's scores have no fixed scale: a new exemplar or weight moves every
reward while the threshold stays where it was. So applying one scores a fixed
sample reply under the old and the new rubric and says both, beside the
threshold (``apply_measured``): the shift is measured, not guessed.
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
    from stars_engine.reward.base import Reward
    from stars_engine.reward.rubric import Rubric

SAMPLE_PROMPT = "How can I get better at remembering people's names?"
SAMPLE_REPLY = "Say the name back when you are introduced, then use it once more before you part."


def apply_measured(reward: Reward, rubric: Rubric, threshold: float) -> str:
    """Set ``reward``'s rubric (model work: call it from a worker) and say what it did to the scale:
    the sample reply's reward before and after, against ``threshold``."""
    [before] = reward.score(SAMPLE_PROMPT, [SAMPLE_REPLY])
    reward.rubric = rubric
    [after] = reward.score(SAMPLE_PROMPT, [SAMPLE_REPLY])
    crossed = (before >= threshold) != (after >= threshold)
    verdict = (" (it now passes)" if after >= threshold else " (it no longer passes)") if crossed else ""
    return (f"rubric updated: {len(rubric.prefer)} prefer, {len(rubric.avoid)} avoid exemplars · "
            f"a sample reply scores {before:.3f} → {after:.3f} against threshold {threshold:g}{verdict}")


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
            yield Label("Every reward moves with the exemplars and the weight while the threshold stays put: "
                        "Apply scores a sample reply before and after, to show by how much.", classes="hint")
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
