"""The status line: what the current run is costing, and whether the model is ready."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from stars_engine.run_state import RunState

from ..literal import printable


def status_text(state: RunState, elapsed: float, model: str) -> Text:
    """tokens/s · reward calls · acceptance · discarded · elapsed, then the model status."""
    tps = state.tokens_generated / elapsed if elapsed > 0 else 0.0
    rate = state.acceptance_rate
    text = Text()
    text.append(f"{tps:5.1f} tok/s", style="bold")
    text.append(f" · {state.reward_calls} reward calls")
    text.append(f" · accept {'—' if rate is None else f'{rate:.0%}'}")
    text.append(f" · {state.tokens_discarded} tokens discarded")
    text.append(f" · {elapsed:5.1f} s")
    text.append(f"   {printable(model)}", style="italic")
    return text


class StatusLine(Static):
    """Redrawn by its screen after each batch of events and once a second during a run."""

    def show(self, state: RunState, elapsed: float, model: str) -> None:
        self.update(status_text(state, elapsed, model))
