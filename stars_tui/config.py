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
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def read(path: Path) -> dict[str, Any]:
    """The file's keys; a missing file is empty, a broken one is refused with its name."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StarsError(f"cannot read the config file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise StarsError(f"config file {path}: expected a JSON object")
    return data


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
    rubric_file = rubric or env.get("STARS_RUBRIC")
    if rubric_file:
        settings.rubric_file = Path(rubric_file).expanduser()
        if not settings.rubric_file.is_file():
            raise StarsError(f"rubric file does not exist: {settings.rubric_file}")
    elif isinstance(saved.get("rubric"), str):
        settings.rubric_file = Path(saved["rubric"]).expanduser()
    elif saved.get("rubric") is not None:
        settings.rubric = saved["rubric"]
    return settings


def check_theme(name: str) -> None:
    from textual.theme import BUILTIN_THEMES

    if name not in BUILTIN_THEMES:
        raise StarsError(f"unknown theme {name!r}; one of: {', '.join(sorted(BUILTIN_THEMES))}")
