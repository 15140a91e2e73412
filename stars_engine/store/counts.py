"""How many turns and runs a session holds: counted one way, said one way, in every view.

``stars sessions list|show``, the sessions screen (F2) and the export headers
all count through ``count_turns`` and print ``TurnCounts.text``. A run whose
turn was deleted or edited in the chat (``runs.removed``) stays in the database
for the record, but is not counted as if it were still in the conversation:
``turns`` and ``runs`` count what the conversation holds, ``removed`` the runs
taken out of it, said apart (``2 turn(s), 3 run(s) (+1 removed)``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class TurnCounts:
    turns: int  # prompts the conversation holds (a turn run again counts once)
    runs: int  # the runs that answered them (a redo, a comparison's column: each a run)
    removed: int  # runs taken out of the conversation, kept for the record

    def text(self) -> str:
        """``2 turn(s), 3 run(s)``, with ``(+1 removed)`` when runs were taken out."""
        return f"{self.turns} turn(s), {self.runs} run(s)" + (f" (+{self.removed} removed)" if self.removed else "")

    def runs_cell(self) -> str:
        """The runs for a table's column: ``3``, or ``3 +1 removed``."""
        return f"{self.runs}" + (f" +{self.removed} removed" if self.removed else "")


def count_turns(runs: Iterable[tuple[int, str]]) -> TurnCounts:
    """Count from each run's (turn, removed mark; "" for a run still in the conversation)."""
    live: list[int] = []
    removed = 0
    for turn, mark in runs:
        if mark:
            removed += 1
        else:
            live.append(turn)
    return TurnCounts(len(set(live)), len(live), removed)
