"""A saved session read back for the chat: the conversation as it stands, each reply as recorded.

Each turn shows its newest run (a regenerated or edited turn has several), folded
from its events, so a reopened reply keeps its ``⟨…⟩`` change marks and its
``[stopped]``; the parameters come back as they were at the end of the last
run. No Textual here: the sessions screen calls it from a worker. A run taken
out of the conversation (its turn deleted or edited: ``runs.removed``) is skipped, so the history the model is sent next
skips it too; each turn keeps its store number, so the next one never reuses
a removed turn's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stars_engine.errors import ParamError
from stars_engine.params import Params
from stars_engine.run_state import RunState
from stars_engine.store.turns import next_turn, removed_runs


@dataclass
class SavedSession:
    session_id: str
    title: str
    turns: list[dict[str, str]]
    runs: dict[int, RunState]  # a reply's position in ``turns`` -> its run, folded
    last_run_id: str | None
    params: Params | None
    system_prompt: str = ""
    numbers: list[int] = field(default_factory=list)  # the store's turn number of each user turn
    next_number: int = 0  # past every recorded turn, removed ones too

    def conversation(self) -> list[dict[str, str]]:
        """The turns the engine is given next: a reply that failed is left out, as in a live chat."""
        return [t for t in self.turns if t["role"] == "user" or t["content"]]


def final_params(state: RunState) -> Params | None:
    """The parameters a run ended with: its starting ones with every mid-run change applied."""
    if state.started is None:
        return None
    values = dict(state.started.params)
    for change in state.changes:
        values.update({name: new for name, (_old, new) in change.changes.items()})
    try:
        return Params.from_dict(values)
    except (ParamError, TypeError, ValueError):
        return None  # recorded by another version: keep the bar as it is


def load_session(store, session_id: str) -> SavedSession:
    """Read one session through an open ``Store``."""
    info = store.session(session_id)
    removed = removed_runs(store, session_id)
    kept = [run for run in store.runs_of(session_id) if run.id not in removed]
    newest = {run.turn: run for run in kept}  # oldest first: the last run of a turn wins
    turns: list[dict[str, str]] = []
    runs: dict[int, RunState] = {}
    state = RunState()
    for turn in sorted(newest):
        run = newest[turn]
        state = RunState.of(store.run_events(run.id))
        turns.append({"role": "user", "content": run.prompt})
        runs[len(turns)] = state
        turns.append({"role": "assistant", "content": run.final_text or ""})  # "" : failed or interrupted
    last = newest[max(newest)].id if newest else None
    return SavedSession(session_id, info.title, turns, runs, last, final_params(state) if newest else None,
                        info.system_prompt, sorted(newest), next_turn(store, session_id))
