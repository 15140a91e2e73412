"""``stars`` with no command and ``stars chat``: open the Textual workbench (TUI issue)."""

import typer

from stars_engine.errors import StarsError


def open_workbench(ctx: typer.Context) -> None:
    raise StarsError("the workbench is not built yet; use `stars run PROMPT`")


def register(app: typer.Typer) -> None:
    """Nothing yet."""
