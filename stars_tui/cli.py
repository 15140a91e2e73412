"""The ``stars`` command. Each group of commands lives in ``commands/`` and registers itself here.

Heavy imports (torch, transformers, textual) happen inside the commands, so
``stars --help`` and ``stars --version`` answer at once.
"""

from __future__ import annotations

import re
import sqlite3
import sys
from pathlib import Path
from typing import NoReturn

import typer
from typer.core import TyperCommand

from stars_engine import __version__
from stars_engine.display.controls import one_line
from stars_engine.errors import StarsError

from .commands import bench, compare, database, run, serve, store, tui
from .commands.database import DB_HELP
from .output import EXIT_PIPE_CLOSED, GuardedStdout, OutputFailed, ReaderGone, stdout_to_devnull

try:  # newer Typer carries its own copy of click; older ones use click itself
    from typer._click import Context as ClickContext
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - depends on the installed Typer
    from click import Context as ClickContext
    from click import exceptions as click_errors

NO_ARGS_IS_HELP = getattr(click_errors, "NoArgsIsHelpError", ())  # click < 8.2 prints the help and exits 0

app = typer.Typer(
    name="stars",
    help="A terminal workbench for STARS: segment-level token alignment with rejection sampling.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"stars {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    db: Path | None = typer.Option(None, "--db", help=DB_HELP + " Applies to every command."),
) -> None:
    """Open the workbench when no command is given."""
    database.root_db = db
    if ctx.invoked_subcommand is None:
        tui.open_workbench(ctx)


for module in (run, store, tui, bench, compare, serve):
    module.register(app)


SQLITE_INT = (-(2**63), 2**63 - 1)  # every number may end up in the database: one bound for all


def checked_number(value: object) -> str | None:
    """Why an integer option's value is refused (None if it is fine): outside SQLite's range, where
    it would end up (a float option is checked by its own command: ``Params``, ``--speed``)."""
    if isinstance(value, int) and not isinstance(value, bool) and not SQLITE_INT[0] <= value <= SQLITE_INT[1]:
        return f"{value} is not in the range {SQLITE_INT[0]}..{SQLITE_INT[1]}"
    return None


class PlainUsage(TyperCommand):
    """A usage line like every other tool's (``PROMPT``, not Typer's ``{PROMPT}``), and every integer
    option bounded the same way, before any command runs."""

    def collect_usage_pieces(self, ctx: ClickContext) -> list[str]:
        return [re.sub(r"^\{(.*)\}$", r"\1", piece) for piece in super().collect_usage_pieces(ctx)]

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        for param in self.params:
            values = ctx.params.get(param.name)
            for value in values if isinstance(values, list | tuple) else [values]:
                if (why := checked_number(value)) is not None:
                    raise click_errors.BadParameter(why, ctx=ctx, param=param)
        return rest


def _plain_usage(typer_app: typer.Typer) -> None:
    for info in typer_app.registered_commands:
        if info.cls in (None, TyperCommand):
            info.cls = PlainUsage
    for group in typer_app.registered_groups:
        _plain_usage(group.typer_instance)


_plain_usage(app)


def _fail(message: str, code: int = 2) -> NoReturn:
    print(f"error: {one_line(message)}", file=sys.stderr)
    sys.exit(code)


def main(args: list[str] | None = None) -> None:
    """Console entry point: every error is one line on stderr (exit 2 for bad input), never a traceback.

    ``args`` stand for the command line (``sys.argv[1:]`` when None)."""
    stdout = sys.stdout
    sys.stdout = GuardedStdout(stdout)
    try:
        _main(args)
    finally:
        sys.stdout = stdout


def _main(args: list[str] | None) -> None:
    try:
        code = app(args=args, standalone_mode=False, prog_name="stars")
        sys.stdout.flush()
    except ReaderGone:  # the reader (`| head -1`) has all it wanted
        stdout_to_devnull()
        sys.exit(EXIT_PIPE_CLOSED)
    except OutputFailed as exc:
        stdout_to_devnull()
        _fail(f"cannot write to standard output: {exc}", 1)
    except NO_ARGS_IS_HELP as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click_errors.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} -h')" if exc.ctx is not None else ""
        _fail(exc.format_message() + hint, exc.exit_code)
    except click_errors.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(1)
    except StarsError as exc:
        _fail(str(exc))
    except sqlite3.DatabaseError as exc:
        _fail(f"the session database failed: {exc}")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    if isinstance(code, int):  # a typer.Exit (--help, --version, an exit code) ends here
        sys.exit(code)
