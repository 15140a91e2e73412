"""The compute frontier: mean guide reward against mean tokens generated, PNG and SVG.

Best-of-N's budgets are joined by a line (its frontier); vanilla and each
setting of STARS, CARDS and Speculative Rejection are single points, one marker
style per method. Error bars are the reward's 95% bootstrap interval. Those
settings are numbered per method (S1, S2, ... for STARS, C1 for CARDS, R1 for
Speculative Rejection) and keyed in the legend, because their full labels are
long and the points sit close together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

STYLE = {
    "vanilla": ("black", "s"),
    "best-of-n": ("tab:blue", "o"),
    "stars": ("tab:red", "D"),
    "cards": ("tab:green", "^"),
    "specrej": ("tab:purple", "v"),
    "smc": ("tab:orange", "P"),
    "beam": ("tab:brown", "X"),
}
# methods whose settings are keyed in the legend
NUMBERED = {"stars": "S", "cards": "C", "specrej": "R", "smc": "P", "beam": "B"}


def _point(s: dict[str, Any]) -> tuple[float, float, list[list[float]]]:
    g = s["guide_reward"]
    return s["tokens_generated"], g["mean"], [[g["mean"] - g["ci_low"]], [g["ci_high"] - g["mean"]]]


def plot_frontier(summary: dict[str, Any], out_dir: Path, stem: str = "frontier") -> list[Path]:
    """Write ``stem``.png and ``stem``.svg into ``out_dir``; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [s for s in summary["strategies"] if s["guide_reward"]["mean"] is not None and s["cells"]]
    fig, ax = plt.subplots(figsize=(11, 5), dpi=110)
    bons = sorted((s for s in shown if s["kind"] == "best-of-n"), key=lambda s: s["tokens_generated"])
    if bons:
        ax.plot([s["tokens_generated"] for s in bons], [s["guide_reward"]["mean"] for s in bons],
                color=STYLE["best-of-n"][0], linewidth=1, alpha=0.6, label="Best-of-N frontier")
    numbered: dict[str, int] = {}
    for s in shown:
        colour, marker = STYLE.get(s["kind"], ("tab:gray", "x"))
        x, y, err = _point(s)
        name, key = s["strategy"], None
        if s["kind"] in NUMBERED:
            numbered[s["kind"]] = numbered.get(s["kind"], 0) + 1
            name = f"{NUMBERED[s['kind']]}{numbered[s['kind']]}"
            key = f"{name}: {s['strategy']}"
        ax.errorbar(x, y, yerr=err, fmt=marker, color=colour, capsize=3, markersize=6, label=key)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=7)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("mean tokens generated per reply (incl. discarded), log scale")
    ax.set_ylabel("mean guide reward (95% CI)")
    ax.set_title("Reward vs compute")
    ax.grid(True, alpha=0.3)
    if bons or numbered:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=7, frameon=False)
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.svg"]
    for path in paths:
        fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(fig)
    return paths
