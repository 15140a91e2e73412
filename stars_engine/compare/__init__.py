"""Compare 2-4 strategies on one prompt (``stars compare``): the columns and who won.

Headless like the rest of the engine; the CLI draws the table.
"""

from .columns import MAX_COLUMNS, MIN_COLUMNS, Column, Comparison, Outcome, column_seeds, plan, random_seed
from .ranking import guide_winner, judge_pairs, summarize, verdict_lines

__all__ = [
    "MAX_COLUMNS", "MIN_COLUMNS", "Column", "Comparison", "Outcome", "column_seeds", "guide_winner",
    "judge_pairs", "plan", "random_seed", "summarize", "verdict_lines",
]
