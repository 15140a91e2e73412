"""Text the workbench did not write (prompts, replies, titles, errors), made safe to show.

Textual and Rich read ``[...]`` in a plain ``str`` as markup, so a reply
containing ``[/INST]`` would crash a table or a label; and a terminal escape in
a reply would reach the terminal. Everything shown from outside goes through
``literal`` (a ``rich.text.Text``, never parsed) after ``printable`` has turned
control characters into visible symbols.
"""

from __future__ import annotations

import re

from rich.text import Text

# C0 controls but tab and newline, DEL, and the C1 controls (0x9b starts an escape too).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ … ␟, so ESC shows as ␛
    return "␡" if code == 0x7F else f"\\x{code:02x}"


def printable(text: str) -> str:
    """``text`` with every control character (but tab and newline) shown as a visible symbol."""
    return _CONTROL.sub(_picture, text)


def literal(text: str, style: str = "") -> Text:
    """``text`` as a ``Text`` that no widget parses as markup, with controls made visible."""
    return Text(printable(text), style=style)


class LiteralNotifications:
    """Mixed into an App: every notification shows its message and title as typed, never as markup."""

    def notify(self, message: str, *, title: str = "", severity="information", timeout=None, markup=False) -> None:
        super().notify(  # type: ignore[misc]
            printable(str(message)), title=printable(str(title)), severity=severity, timeout=timeout, markup=False
        )
