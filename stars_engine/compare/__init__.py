"""Compare 2-4 strategies on one prompt (``stars compare``): the columns and who won.

Headless like the rest of the engine; the CLI draws the table.
"""

from .columns import MAX_COLUMNS, MIN_COLUMNS, Column, Comparison, Outcome, column_seeds, plan, random_seed
from .ranking import guide_winner, judge_pairs, summarize, verdict_lines
from .schedule import AT_ONCE, IN_TURN, INTERLEAVED, schedule_of

__all__ = [
    "AT_ONCE", "IN_TURN", "INTERLEAVED", "MAX_COLUMNS", "MIN_COLUMNS", "Column", "Comparison", "Outcome",
    "column_seeds", "guide_winner", "judge_pairs", "plan", "random_seed", "schedule_of", "summarize",
    "verdict_lines",
]
