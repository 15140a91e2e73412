"""The ``stars`` command. Each group of commands lives in ``commands/`` and registers itself here.

Heavy imports (torch, transformers, textual) happen inside the commands, so
``stars --help`` and ``stars --version`` answer at once.
"""

from __future__ import annotations

import sys

import typer

from stars_engine import __version__
from stars_engine.errors import StarsError

from .commands import bench, run, serve, store, tui

app = typer.Typer(
    name="stars",
    help="A terminal workbench for STARS: segment-level token alignment with rejection sampling.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"stars {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Open the workbench when no command is given."""
    if ctx.invoked_subcommand is None:
        tui.open_workbench(ctx)


for module in (run, store, tui, bench, serve):
    module.register(app)


def main() -> None:
    """Console entry point: a StarsError becomes one line on stderr and exit code 2."""
    try:
        app()
    except StarsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
