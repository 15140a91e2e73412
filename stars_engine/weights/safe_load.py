"""Loading a model folder someone handed us: never its code, and one line when it fails.

Every ``from_pretrained`` in stars goes through ``pretrained``, which passes
``trust_remote_code=False``: a folder whose ``config.json`` names its own
Python (``auto_map``) is refused instead of transformers asking "run the custom
code? [y/N]" on a terminal that a pipe may answer. ``check_model`` reads what can
be read without loading weights (the config, the weight files' headers), so a
bad folder is refused before a slow load of anything else.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from ..errors import StarsError
from . import sources as models

CUSTOM_CODE_MARKERS = ("trust_remote_code", "contains custom code")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def load_error(ref: str, what: str, allow_download: bool, exc: BaseException) -> StarsError:
    """The one-line reason a model could not be loaded, named for where it came from."""
    if any(marker in str(exc) for marker in CUSTOM_CODE_MARKERS):
        return StarsError(f"{what} {ref} needs custom code, which stars does not run")
    if models.looks_like_path(ref):
        return StarsError(f"cannot load {what} from {ref}: {_first_line(exc)}")
    return models.hub_error(ref, what, allow_download, exc)


def pretrained(auto_class: Any, ref: str, what: str, allow_download: bool = False, **kwargs: Any) -> Any:
    """``auto_class.from_pretrained(ref)`` with no remote code and no download unless allowed."""
    try:
        return auto_class.from_pretrained(
            ref, trust_remote_code=False, local_files_only=not allow_download, **kwargs
        )
    except Exception as exc:  # a stranger's folder can fail in any library below us
        raise load_error(ref, what, allow_download, exc) from None


def _check_weights(folder: Path, what: str) -> None:
    """Refuse weight files whose header is not what their name says (read the header only)."""
    from safetensors import safe_open

    for path in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="pt"):
                pass
        except Exception as exc:
            raise StarsError(f"cannot load {what} from {folder}: {path.name} is not a safetensors file "
                             f"({_first_line(exc)})") from None
    for path in sorted(folder.glob("*.bin")):
        if not zipfile.is_zipfile(path):
            raise StarsError(f"cannot load {what} from {folder}: {path.name} is not a PyTorch checkpoint")


def check_model(ref: str, what: str, allow_download: bool = False) -> str:
    """The checked reference (a resolved folder or a hub id), refused early if it cannot load.

    Reads the config without running any code it names; for a local folder it
    also reads the weight files' headers.
    """
    from transformers import AutoConfig

    resolved = models.resolve(ref, what)
    pretrained(AutoConfig, resolved, what, allow_download)
    if models.looks_like_path(resolved):
        _check_weights(Path(resolved), what)
    return resolved
