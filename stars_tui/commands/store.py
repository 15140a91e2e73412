"""sessions / replay / export / import commands (store issue)."""

import typer


def register(app: typer.Typer) -> None:
    """Nothing yet."""
