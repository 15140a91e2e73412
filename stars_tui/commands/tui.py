"""``stars`` with no command and ``stars chat``: open the Textual workbench.

The app module (and Textual, torch, transformers) is imported only when the
workbench opens, so ``stars --help`` stays fast. Models load in the background,
so the window opens at once, from the backend ``stars_engine.backends`` chooses
(in-process models into a worker process: the model's torch calls never share
a GIL with the event loop).
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from stars_engine import backends
from stars_engine.errors import StarsError
from stars_engine.params import Params

from .database import db_path
from .options import ModelChoice, decoding_options, read_system, system_option

if TYPE_CHECKING:
    from stars_engine.backends.spec import ModelSpec
    from stars_engine.policy.base import Policy
    from stars_engine.reward.base import Reward

    from ..config import Settings

def launch(
    params: Params,
    models: ModelChoice,
    db: Path | None = None,
    no_save: bool = False,
    theme: str | None = None,
    config: Path | None = None,
    system: str = "",
) -> None:
    """Open the workbench with these starting parameters and models, and the settings file's theme and rubric."""
    from ..app import StarsApp
    from ..config import resolve

    settings = resolve(config, theme, models.rubric)
    if settings.rubric_file is not None and models.reward is not None:
        raise StarsError("--rubric only applies to the default embedding reward, not to --reward models")
    backend = backends.choose(models, app=True)
    backends.check_strategy(backend, params.strategy)
    database = None if no_save else db_path(db)
    app = StarsApp(None, None, db_path=database, params=params, settings=settings,
                   strategy_check=partial(backends.check_strategy, backend), system_prompt=system,
                   spec=replace(models, rubric=settings.rubric_file), load_spec=partial(_load, settings))
    app.run()


def _load(settings: Settings, spec: ModelSpec) -> tuple[Policy, Reward]:
    """The chat model and reward, at start and for a model picked in the app (F10)."""
    policy, reward = backends.load_pair(spec)
    return policy, _with_settings_rubric(reward, settings)


def _with_settings_rubric(reward: Reward, settings: Settings) -> Reward:
    """The rubric the settings file keeps (edited in the app) put in the default reward's place."""
    if settings.rubric is not None and reward.rubric is not None:
        from stars_engine.reward.rubric import Rubric

        reward.rubric = Rubric.from_dict(settings.rubric, f"rubric in {settings.path}")
    return reward


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
    system: str | None = system_option(),
    *,
    params: Params,
    models: ModelChoice,
) -> None:
    """Open the workbench: chat, watch each segment being scored, change knobs mid-reply."""
    launch(params, models, db, no_save, theme, config, read_system(system))


def register(app: typer.Typer) -> None:
    app.command("chat")(decoding_options(chat_command))
