"""Text the workbench did not write (prompts, replies, titles, errors), made safe to show.

Textual and Rich read ``[...]`` in a plain ``str`` as markup, so a reply
containing ``[/INST]`` would crash a table or a label; and a terminal escape in
a reply would reach the terminal. Everything shown from outside goes through
``literal`` (a ``rich.text.Text``, never parsed) after ``printable`` has turned
control characters into visible symbols.
"""

from __future__ import annotations

from rich.text import Text

from stars_engine.display.controls import escape, visible_controls


def _picture(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ … ␟, so ESC shows as ␛
    return "␡" if code == 0x7F else escape(char)  # C1, bidi controls, line separators: \x9b, \u202e


def printable(text: str) -> str:
    """``text`` with every unsafe character (the engine's one list: controls but tab and newline,
    bidi controls, line separators) shown as a visible symbol."""
    return visible_controls(text, _picture)


def literal(text: str, style: str = "") -> Text:
    """``text`` as a ``Text`` that no widget parses as markup, with controls made visible."""
    return Text(printable(text), style=style)


class LiteralNotifications:
    """Mixed into an App: every notification shows its message and title as typed, never as markup."""

    def notify(self, message: str, *, title: str = "", severity="information", timeout=None, markup=False) -> None:
        super().notify(  # type: ignore[misc]
            printable(str(message)), title=printable(str(title)), severity=severity, timeout=timeout, markup=False
        )
