"""How a number and a long title are written for a person to read, the same everywhere.

The TUI's tables, the exports and the bench report all show a missing value as
an em dash and shorten a title to one line with an ellipsis, through these two.
"""

from __future__ import annotations

MISSING = "—"


def number(value: float | None, spec: str = "+.3f") -> str:
    """``value`` formatted with ``spec``, or an em dash when there is none."""
    return MISSING if value is None else format(value, spec)


def shorten(text: str, width: int) -> str:
    """``text`` on one line (runs of whitespace become one space), cut to ``width`` with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
