"""Quality-vs-compute comparison of decoding strategies (``stars bench``), headless."""

from .prompts import BenchPrompt, load_prompts, take
from .strategies import DEFAULT_STRATEGIES, StrategySpec, parse_seeds, parse_specs
from .suite import BenchPlan, Hooks, run_bench

__all__ = [
    "DEFAULT_STRATEGIES", "BenchPlan", "BenchPrompt", "Hooks", "StrategySpec",
    "load_prompts", "parse_seeds", "parse_specs", "run_bench", "take",
]
