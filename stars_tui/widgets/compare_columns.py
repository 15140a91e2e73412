"""The columns of the compare screen: one per strategy, its reply growing under its tally.

A column only draws: the compare screen folds each column's events into the
column's ``RunState`` and calls ``show``. Replies and specs are shown as
``Text`` with control characters made visible, never read as markup.
"""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from stars_engine.bench.strategies import StrategySpec
from stars_engine.compare import Column
from stars_engine.display.controls import one_line, visible_controls
from stars_engine.params import Params
from stars_engine.run_state import RunState


def guide_so_far(state: RunState) -> float | None:
    """The guide reward of the reply so far: the run's final one, else the last accepted segment's."""
    if state.finished is not None:
        return state.finished.stats.final_reward
    accepted = [s.accepted.reward for s in state.segments if s.accepted is not None]
    return accepted[-1] if accepted else None


def tally_line(state: RunState, passes: int, seconds: float) -> str:
    """Tokens generated and kept, reward calls, forward passes, wall seconds, guide reward so far."""
    if state.finished is not None:
        passes, seconds = state.finished.stats.policy_forward_passes, state.finished.stats.wall_seconds
    reward = guide_so_far(state)
    guide = "-" if reward is None else f"{reward:.3f}"
    return (f"{state.tokens_generated} tok · {state.tokens_accepted} kept · {state.reward_calls} rw · "
            f"{passes} fwd · {seconds:.1f} s · guide {guide}")


def recorded_column(index: int, spec: str, seed: int) -> Column:
    """A column as a comparison recorded it (the spec's label, the seed its run drew), for a replay to draw
    with ``CompareColumn``: only the label and seed are read, so the spec is not parsed again."""
    return Column(index, StrategySpec(spec, ()), Params(seed=seed))


class CompareColumn(VerticalScroll):
    """One strategy's column; focus it (Tab or a click) to see its segments in the inspector."""

    DEFAULT_CSS = """
    CompareColumn { width: 1fr; height: 1fr; border: round $primary-darken-2; padding: 0 1; }
    CompareColumn:focus { border: double $warning; }
    CompareColumn.-winner { border: round $success; }
    CompareColumn .column-head { text-style: bold; }
    CompareColumn .column-tally { color: $text-muted; }
    """
    can_focus = True

    def __init__(self, column: Column, **kwargs) -> None:
        super().__init__(**kwargs)
        self.column = column
        self.state = RunState()
        self.status = "waiting"
        self.passes = 0  # forward passes so far, read from the policy by the worker
        self.started_at: float | None = None  # the app clock when its first event arrived
        self.error: str | None = None

    def compose(self):
        yield Static(classes="column-head")
        yield Static(classes="column-tally")
        yield Static(classes="column-reply")

    def on_mount(self) -> None:
        self.show(0.0)

    @property
    def label(self) -> str:
        return f"{self.column.index + 1}. {one_line(self.column.spec.label)}"

    def show(self, seconds: float) -> None:
        """Redraw the head (spec, seed, status), the tally and the reply so far."""
        head, tally, reply = self.query(Static)
        state = self.state
        status = self.error or self.status
        if state.finished is not None:
            status = state.finished.stop_reason or "done"
        head.update(Text(f"{self.label} · seed {self.column.seed} · {one_line(status)}"))
        tally.update(Text(tally_line(state, self.passes, seconds)))
        reply.update(Text(visible_controls(state.text)))
