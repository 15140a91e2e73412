"""The workbench's settings file: the theme, the rubric, and the session to offer to reopen.

The file is JSON, ``config.json`` in the platform's config folder
(``platformdirs.user_config_dir("stars")``, e.g. ``~/.config/stars`` on Linux),
or the file named by ``--config`` / ``$STARS_CONFIG``. Every knob in it has a
flag and an environment variable; a flag beats the variable, which beats the file:

=========  ==================  ==============  =====================================================
key        flag                variable        meaning
=========  ==================  ==============  =====================================================
theme      ``--theme NAME``    STARS_THEME     a Textual theme (the command palette's "Change theme")
rubric     ``--rubric FILE``   STARS_RUBRIC    exemplars for the default reward: a JSON file, or the
                                               prefer / avoid / relevance_weight object itself
=========  ==================  ==============  =====================================================

The app writes the file itself when the theme is changed or a rubric is
applied in the rubric dialog, and records ``last_session`` (the session to
offer to reopen at the next start). Nothing else reads or writes it.

A hand-edited file is read like any outside input: through the bounded reader
(a regular file of at most 1 MiB), then typed with msgspec, so a key of the
wrong type (``"theme": 5``) stops the start with one line naming the file and
the key rather than a default silently standing in for what was written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from stars_engine.bounded_read import SETTINGS_BYTES, MissingFile, check_regular, parse_json, read_json
from stars_engine.errors import StarsError

FILE_NAME = "config.json"


def default_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("stars")) / FILE_NAME


@dataclass
class Settings:
    """What the workbench starts with; ``path`` None means nothing is saved (tests)."""

    path: Path | None = None
    theme: str | None = None
    rubric: dict[str, Any] | None = None  # the exemplars applied in the dialog, kept inline
    rubric_file: Path | None = None
    last_session: str | None = None
    saved: dict[str, Any] = field(default_factory=dict)

    def save(self, **changes: Any) -> None:
        """Write ``changes`` into the file, keeping every other key in it; a write that fails is ignored
        by the caller's choice (it is a convenience, never a reason to lose a session)."""
        if self.path is None:
            return
        self.saved.update(changes)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps(self.saved, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        partial.replace(self.path)


class SettingsFile(msgspec.Struct):
    """The keys stars reads from the file, typed; any other key is kept as it is and left alone."""

    theme: str | None = None
    rubric: str | dict[str, Any] | None = None  # a rubric file's path, or the rubric object itself
    last_session: str | None = None


def read(path: Path) -> dict[str, Any]:
    """The file's keys; a missing file is empty, one that is not a regular file of at most
    1 MiB, not JSON, or holds a key of the wrong type is refused in one line naming it."""
    try:
        data = read_json(path, "config file", SETTINGS_BYTES)
    except MissingFile:
        return {}
    where = f"config file {path}"
    if not isinstance(data, dict):
        raise StarsError(f"{where}: expected a JSON object")
    try:
        typed = msgspec.convert(data, SettingsFile)
    except msgspec.ValidationError as exc:
        raise StarsError(f"{where}: {exc}") from None
    if isinstance(typed.rubric, dict):
        checked_rubric(typed.rubric, f"rubric in {where}")
    return data


def checked_rubric(data: object, where: str) -> dict[str, Any]:
    """A rubric object, checked by the engine's one rubric check (so a wrong shape is refused
    at start, in one line, not when the reward loads)."""
    from stars_engine.reward.rubric import Rubric

    return Rubric.from_dict(data, where).to_dict()


def resolve(
    config: Path | None = None,
    theme: str | None = None,
    rubric: Path | None = None,
    env: dict[str, str] | None = None,
) -> Settings:
    """The settings from the flags, then the environment, then the file."""
    env = os.environ if env is None else env
    path = Path(config or env.get("STARS_CONFIG") or default_path()).expanduser()
    saved = read(path)
    settings = Settings(path=path, saved=saved, last_session=saved.get("last_session"))
    settings.theme = theme or env.get("STARS_THEME") or saved.get("theme")
    if settings.theme is not None:
        check_theme(settings.theme)
    from_env = env.get("STARS_RUBRIC") if rubric is None else None
    if from_env and from_env.lstrip().startswith("{"):  # the rubric object itself, as the README allows
        settings.rubric = checked_rubric(parse_json(from_env, "STARS_RUBRIC"), "STARS_RUBRIC")
    elif rubric or from_env:
        settings.rubric_file = Path(rubric or from_env).expanduser()
        check_regular(settings.rubric_file, "rubric file")  # read (bounded) when the reward loads
    elif isinstance(saved.get("rubric"), str):
        settings.rubric_file = Path(saved["rubric"]).expanduser()
    elif saved.get("rubric") is not None:
        settings.rubric = saved["rubric"]
    return settings


def check_theme(name: str) -> None:
    from textual.theme import BUILTIN_THEMES

    if name not in BUILTIN_THEMES:
        raise StarsError(f"unknown theme {name!r}; one of: {', '.join(sorted(BUILTIN_THEMES))}")
