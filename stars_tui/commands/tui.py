"""``stars`` with no command and ``stars chat``: open the Textual workbench.

The app module (and Textual, torch, transformers) is imported only when the
workbench opens, so ``stars --help`` stays fast. Models load inside the app,
in the background, so the window opens at once.
"""

from __future__ import annotations

from pathlib import Path

import typer

from stars_engine.errors import StarsError
from stars_engine.params import Params

from .options import ModelChoice, decoding_options


def launch(params: Params, models: ModelChoice, db: Path | None = None, no_save: bool = False) -> None:
    """Open the workbench with these starting parameters and models."""
    if models.rubric is not None and not Path(models.rubric).is_file():
        raise StarsError(f"rubric file does not exist: {models.rubric}")
    from stars_engine.store import default_db_path

    from ..app import StarsApp

    db_path = None if no_save else default_db_path(db)
    app = StarsApp(_policy_loader(models), _reward_loader(models), db_path=db_path, params=params)
    app.run()


def _policy_loader(models: ModelChoice):
    def load():
        from .run import load_chat_policies

        return load_chat_policies(models)[0]

    return load


def _reward_loader(models: ModelChoice):
    def load():
        from stars_engine.loading import load_reward

        return load_reward(models.reward, models.rubric, models.device, models.allow_download)

    return load


def open_workbench(ctx: typer.Context) -> None:
    """Bare ``stars``: the workbench with the default models and parameters."""
    launch(Params(), ModelChoice())


def chat_command(
    db: Path | None = typer.Option(  # noqa: B008 - Typer declares options this way
        None, "--db", help="Session database (default: $STARS_DB or ./sessions/stars.db)."
    ),
    no_save: bool = typer.Option(False, "--no-save", help="Do not record the session."),
    *,
    params: Params,
    models: ModelChoice,
) -> None:
    """Open the workbench: chat, watch each segment being scored, change knobs mid-reply."""
    launch(params, models, db, no_save)


def register(app: typer.Typer) -> None:
    app.command("chat")(decoding_options(chat_command))
