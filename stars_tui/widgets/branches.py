"""The live branches of Speculative Rejection, particle filtering and beam search.

Those strategies write their reply as one segment, decided only at the end, so
the reply area stays empty while they run. Each round reports every branch it
grew (``decoding/branches.py``); this view shows the newest round's branches,
best first, with what each has written so far, and the population per round:
how many branches grew, and for a round that let some go, how many went on
(for particle filtering, the distinct ancestors the draw took, and the
effective sample size of the weights of the branches the round grew, at the
softmax temperature in force now; finished particles carried along are not in it).
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from stars_engine.decoding.smc import effective_size, weights
from stars_engine.display.format import number
from stars_engine.events import ACCEPTED, DROPPED, KEPT, NOT_NEEDED, PRUNED, REJECTED, AttemptScored
from stars_engine.run_state import RunState

from ..literal import literal

VERDICT_STYLES = {
    ACCEPTED: "bold green", REJECTED: "red", NOT_NEEDED: "dim", PRUNED: "magenta", KEPT: "cyan", DROPPED: "magenta",
}

SHOWN = 4  # branches listed, best first
TAIL = 200  # characters of a branch's newest text kept for its line (the line cuts the rest)


def rounds_of(state: RunState) -> list[list[AttemptScored]]:
    """Each round's attempts, in order; empty for a strategy without rounds."""
    attempts = [a for view in state.segments for a in view.attempts if a.round is not None]
    if not attempts:
        return []
    out: list[list[AttemptScored]] = [[] for _ in range(max(a.round or 0 for a in attempts) + 1)]
    for a in attempts:
        out[a.round or 0].append(a)
    return out


def population(state: RunState, rounds: list[list[AttemptScored]]) -> str:
    """``grown 8 → 4 → 2``, and where a round let some go, the ones that went on (and for smc the ESS)."""
    grown = " → ".join(str(len(r)) for r in rounds)
    went_on = [str(sum(a.verdict == KEPT for a in r)) if any(a.verdict in (DROPPED, PRUNED) for a in r) else "all"
               for r in rounds[:-1] if r]
    line = f"grown per round {grown}"
    if went_on:
        line += f" · went on {' → '.join(went_on)}"
    params = current_params(state)
    if state.started is not None and state.started.strategy == "smc" and "smc_temperature" in params:
        ess = [effective_size(weights([a.reward for a in r], float(params["smc_temperature"]))) for r in rounds if r]
        line += f" · ESS {' → '.join(f'{e:.1f}' for e in ess)}"
    return line


def current_params(state: RunState) -> dict:
    """The params in force now: the run's, or the newest change's."""
    if state.changes and state.changes[-1].params:
        return state.changes[-1].params
    return state.started.params if state.started is not None else {}


def branches_text(state: RunState) -> Text | None:
    """What the view shows for ``state``; None for a run without rounds (the view hides)."""
    rounds = rounds_of(state)
    if not rounds:
        return None
    newest = rounds[-1]
    text = Text(f"round {len(rounds)} · ", style="bold")
    text.append(population(state, rounds), style="dim")
    for a in sorted(newest, key=lambda a: a.reward, reverse=True)[:SHOWN]:
        text.append("\n")
        text.append(f"{number(a.reward):>6} ")
        text.append(f"{a.verdict:<8} ", style=VERDICT_STYLES.get(a.verdict, ""))
        flat = " ".join(a.text[-TAIL:].split())
        text.append_text(literal(flat + (" ⏎" if a.eos else "")))
    if len(newest) > SHOWN:
        text.append(f"\n… {len(newest) - SHOWN} more in the attempts below", style="dim")
    return text


class BranchesView(Static):
    """The newest round's branches, best first; hidden for strategies without rounds."""

    DEFAULT_CSS = """
    BranchesView { height: auto; max-height: 8; display: none; }
    """

    def show(self, state: RunState) -> None:
        text = branches_text(state)
        self.display = text is not None
        if text is not None:
            text.no_wrap = True
            text.overflow = "ellipsis"
            self.update(text)
