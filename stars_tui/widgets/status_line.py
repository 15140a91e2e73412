"""The status line: what the current run is costing, and whether the model is ready.

The model's state ("loading models…", "ready", "model failed") is always in
sight at the right end: the run's figures give way first, then the model's
details (ids, load time) are dropped before the state itself is. Hovering
it (or the help in the README) explains each figure; ``EXPLAINED`` is that text.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from stars_engine.display.format import number
from stars_engine.run_state import RunState

from ..literal import printable

EXPLAINED = (
    "tok/s: every token generated per second, the discarded attempts' included.\n"
    "kept: the tokens that made it into the reply, per second.\n"
    "reward calls: replies scored so far (each attempt, plus the empty-reply baseline).\n"
    "accept: accepted ÷ judged attempts (those that faced the threshold; not-needed ones excluded), "
    "the same figure as `stars run`'s acceptance_rate.\n"
    "discarded: tokens generated and thrown away with rejected attempts.\n"
    "s: wall time of the run."
).replace("\\\n", "\n")


def status_text(state: RunState, elapsed: float) -> Text:
    """tok/s (kept) · reward calls · acceptance · discarded · elapsed."""
    tps = state.tokens_generated / elapsed if elapsed > 0 else 0.0
    kept = state.tokens_accepted / elapsed if elapsed > 0 else 0.0
    rate = state.finished.stats.acceptance_rate if state.finished is not None else state.acceptance_rate
    text = Text()
    text.append(f"{tps:5.1f} tok/s", style="bold")
    text.append(f" ({kept:.1f} kept)")
    text.append(f" · {state.reward_calls} reward calls")
    text.append(f" · accept {number(rate, '.0%')}")
    text.append(f" · {state.tokens_discarded} discarded")
    text.append(f" · {elapsed:5.1f} s")
    return text


MIN_FIGURES = 24  # the figures are cut down to this (tok/s and kept) before the model's details go


def fit_status(figures: Text, state: str, detail: str, width: int) -> Text:
    """``figures`` then, right-aligned, ``state · detail``, or ``state`` alone where the detail does
    not fit; the figures are cut before the state is."""
    for model in (f"{state} · {detail}" if detail else state, state):
        model = printable(model)
        if width - len(model) - 3 >= MIN_FIGURES or model == printable(state):
            break
    figures = figures.copy()
    figures.truncate(max(width - len(model) - 3, 0), overflow="ellipsis")
    line = figures + Text(" " * max(width - figures.cell_len - len(model), 1))
    line.append(model, style="italic")
    return line


class StatusLine(Static):
    """Redrawn by its screen after each batch of events and once a second during a run."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: tuple[Text, str, str] = (Text(), "", "")

    def on_mount(self) -> None:
        self.tooltip = EXPLAINED

    def show(self, state: RunState, elapsed: float, model_state: str, model_detail: str = "") -> None:
        if model_detail != self._shown[2]:  # the whole detail on hover, where the line has no room for it
            self.tooltip = Text(f"{printable(model_state)} · {printable(model_detail)}\n\n{EXPLAINED}") \
                if model_detail else EXPLAINED  # Text: a model id's brackets are not markup
        self._shown = (status_text(state, elapsed), model_state, model_detail)
        self.refresh()

    def render(self) -> Text:
        figures, state, detail = self._shown
        return fit_status(figures, state, detail, self.content_size.width)
