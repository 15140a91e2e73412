"""The frontiers: mean guide reward against mean tokens generated, and against mean wall
seconds per reply, side by side in one PNG and SVG.

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


AXES = (  # (per-reply field, x-axis label): one panel each, side by side
    ("tokens_generated", "mean tokens generated per reply (incl. discarded), log scale"),
    ("wall_seconds", "mean wall seconds per reply, log scale"),
)


def _point(s: dict[str, Any], field: str) -> tuple[float, float, list[list[float]]]:
    g = s["guide_reward"]
    return s[field], g["mean"], [[g["mean"] - g["ci_low"]], [g["ci_high"] - g["mean"]]]


def _panel(ax: Any, shown: list[dict[str, Any]], field: str, label: str, legend: bool) -> None:
    """One frontier: each strategy's reward against ``field``, Best-of-N's budgets joined by a line."""
    points = [s for s in shown if s[field] is not None and s[field] > 0]  # a log axis has no 0
    bons = sorted((s for s in points if s["kind"] == "best-of-n"), key=lambda s: s[field])
    if bons:
        ax.plot([s[field] for s in bons], [s["guide_reward"]["mean"] for s in bons],
                color=STYLE["best-of-n"][0], linewidth=1, alpha=0.6, label="Best-of-N frontier")
    numbered: dict[str, int] = {}
    for s in shown:
        name, key = s["strategy"], None
        if s["kind"] in NUMBERED:  # numbered over every shown setting, so a setting has one name in both panels
            numbered[s["kind"]] = numbered.get(s["kind"], 0) + 1
            name = f"{NUMBERED[s['kind']]}{numbered[s['kind']]}"
            key = f"{name}: {s['strategy']}"
        if s not in points:
            continue
        colour, marker = STYLE.get(s["kind"], ("tab:gray", "x"))
        x, y, err = _point(s, field)
        ax.errorbar(x, y, yerr=err, fmt=marker, color=colour, capsize=3, markersize=6, label=key if legend else None)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=7)
    ax.set_xscale("log", base=2)
    ax.set_xlabel(label)
    ax.set_ylabel("mean guide reward (95% CI)")
    ax.grid(True, alpha=0.3)
    if legend and (bons or numbered):
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=7, frameon=False)


def plot_frontier(summary: dict[str, Any], out_dir: Path, stem: str = "frontier") -> list[Path]:
    """Write ``stem``.png and ``stem``.svg into ``out_dir`` (reward against tokens, and against wall
    seconds per reply); return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [s for s in summary["strategies"] if s["guide_reward"]["mean"] is not None and s["cells"]]
    fig, axes = plt.subplots(1, len(AXES), figsize=(15, 5), dpi=110, sharey=True)
    for i, (ax, (field, label)) in enumerate(zip(axes, AXES, strict=True)):
        _panel(ax, shown, field, label, legend=i == len(AXES) - 1)
    axes[0].set_title("Reward vs compute")
    axes[1].set_title("Reward vs wall time (this machine, this run)")
    return _save(fig, out_dir, stem)


def _save(fig: Any, out_dir: Path, stem: str) -> list[Path]:
    """``stem``.png and .svg in ``out_dir`` (the svg without a date, so a rerun writes the same file)."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.svg"]
    for path in paths:
        fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(fig)
    return paths


JUDGE_MARKERS = ("o", "s", "^", "D", "v", "P")


def plot_judges(summary: dict[str, Any], out_dir: Path, stem: str = "judges") -> list[Path]:
    """Write ``stem``.png/.svg: each judge's win rate against vanilla over each strategy's mean guide
    reward, a point per strategy and judge. Points that climb right and sink are over-optimisation:
    the guide rises while the judge's verdict falls. Nothing is written when no judge ran."""
    names = list(summary.get("judges", {}))
    points = [(s, name, s["judge"][name]["vs_vanilla"]["win_rate"])
              for s in summary["strategies"] for name in names
              if s["guide_reward"]["mean"] is not None
              and s["judge"].get(name, {}).get("vs_vanilla", {}).get("win_rate") is not None]
    if not points:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    labelled: set[tuple[float, float, str]] = set()  # two judges on one spot: one label
    for i, name in enumerate(names):
        marker = JUDGE_MARKERS[i % len(JUDGE_MARKERS)]
        ax.plot([], [], marker, color="black", linestyle="none", fillstyle="none", label=f"{name} judge")  # key
        for s, rate in ((s, rate) for s, n, rate in points if n == name):
            x = s["guide_reward"]["mean"]
            ax.plot(x, rate, marker, color=STYLE.get(s["kind"], ("tab:gray", "x"))[0], fillstyle="none")
            if (x, rate, s["strategy"]) not in labelled:
                labelled.add((x, rate, s["strategy"]))
                ax.annotate(s["strategy"], (x, rate), textcoords="offset points", xytext=(4, 4), fontsize=6)
    ax.axhline(0.5, color="gray", linewidth=0.8, linestyle="--")
    ax.set_xlabel("mean guide reward")
    ax.set_ylabel("judge win rate vs vanilla (wins + ties/2)")
    ax.set_title("Held-out judges against the guide (colour: method, marker: judge)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, frameon=False)
    return _save(fig, out_dir, stem)
