"""``stars`` with no command and ``stars chat``: open the Textual workbench.

The app module (and Textual, torch, transformers) is imported only when the
workbench opens, so ``stars --help`` stays fast. Models load inside the app,
in the background, so the window opens at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from stars_engine.errors import StarsError
from stars_engine.params import Params

from .options import ModelChoice, decoding_options

if TYPE_CHECKING:
    from ..config import Settings


def launch(
    params: Params,
    models: ModelChoice,
    db: Path | None = None,
    no_save: bool = False,
    theme: str | None = None,
    config: Path | None = None,
) -> None:
    """Open the workbench with these starting parameters and models, and the settings file's theme and rubric."""
    from stars_engine.store import default_db_path

    from ..app import StarsApp
    from ..config import resolve

    settings = resolve(config, theme, models.rubric)
    if settings.rubric_file is not None and models.reward is not None:
        raise StarsError("--rubric only applies to the default embedding reward, not to --reward models")
    db_path = None if no_save else default_db_path(db)
    app = StarsApp(_policy_loader(models), _reward_loader(models, settings), db_path=db_path, params=params,
                   settings=settings)
    app.run()


def _policy_loader(models: ModelChoice):
    def load():
        from stars_engine.loading import load_policy

        return load_policy(models.model, models.device, models.allow_download)

    return load


def _reward_loader(models: ModelChoice, settings: Settings):
    def load():
        from stars_engine.loading import load_reward

        reward = load_reward(models.reward, settings.rubric_file, models.device, models.allow_download)
        if settings.rubric is not None and reward.rubric is not None:
            from stars_engine.reward.rubric import Rubric

            reward.rubric = Rubric.from_dict(settings.rubric, f"rubric in {settings.path}")
        return reward

    return load


def open_workbench(ctx: typer.Context) -> None:
    """Bare ``stars``: the workbench with the default models and parameters."""
    launch(Params(), ModelChoice())


def chat_command(
    db: Path | None = typer.Option(  # noqa: B008 - Typer declares options this way
        None, "--db", help="Session database (default: $STARS_DB or ./sessions/stars.db)."
    ),
    no_save: bool = typer.Option(False, "--no-save", help="Do not record the session."),
    theme: str | None = typer.Option(
        None, "--theme", help="Textual theme (default: $STARS_THEME, else the config file's, else textual-dark)."
    ),
    config: Path | None = typer.Option(  # noqa: B008
        None, "--config", help="Settings file (default: $STARS_CONFIG, else config.json in the user config folder)."
    ),
    *,
    params: Params,
    models: ModelChoice,
) -> None:
    """Open the workbench: chat, watch each segment being scored, change knobs mid-reply."""
    launch(params, models, db, no_save, theme, config)


def register(app: typer.Typer) -> None:
    app.command("chat")(decoding_options(chat_command))
