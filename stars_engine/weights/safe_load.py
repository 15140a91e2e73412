"""Loading a model folder someone handed us: never its code, and one line when it fails.

Every ``from_pretrained`` in stars goes through ``pretrained``, which passes
``trust_remote_code=False``: a folder whose ``config.json`` names its own
Python (``auto_map``) is refused instead of transformers asking "run the custom
code? [y/N]" on a terminal that a pipe may answer. ``check_model`` reads what can
be read without loading weights (the config, the weight files' headers), so a
bad folder is refused before a slow load of anything else, and a config that
declares far more weights than its files hold is refused before transformers
allocates them.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from ..display.controls import error_line
from ..errors import StarsError
from . import sources as models

CUSTOM_CODE_MARKERS = ("trust_remote_code", "contains custom code")


def load_error(ref: str, what: str, allow_download: bool, exc: BaseException) -> StarsError:
    """The one-line reason a model could not be loaded, named for where it came from."""
    if any(marker in str(exc) for marker in CUSTOM_CODE_MARKERS):
        return StarsError(f"{what} {ref} needs custom code, which stars does not run")
    if models.looks_like_path(ref):
        return StarsError(f"cannot load {what} from {ref}: {error_line(exc, first_line=True)}")
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
                             f"({error_line(exc, first_line=True)})") from None
    for path in sorted(folder.glob("*.bin")):
        if not zipfile.is_zipfile(path):
            raise StarsError(f"cannot load {what} from {folder}: {path.name} is not a PyTorch checkpoint")


# Fewest bits a stored weight takes in any format we may meet (1-bit quantisation), and the
# slack below which a config is never refused (a tiny test model, buffers, rounding).
MIN_BITS_PER_WEIGHT = 1
SLACK_WEIGHTS = 10_000_000
WEIGHT_PATTERNS = ("*.safetensors", "*.bin")  # what from_pretrained reads

_DIMENSIONS = {  # what config.json calls each size, across architectures
    "vocab": ("vocab_size",),
    "hidden": ("hidden_size", "n_embd", "d_model", "dim"),
    "layers": ("num_hidden_layers", "n_layer", "num_layers", "n_layers"),
    "inner": ("intermediate_size", "n_inner", "ffn_dim", "d_ff", "hidden_dim"),
}


def _dimension(config: Any, names: tuple[str, ...]) -> int:
    for name in names:
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return max(value, 0)
    return 0


def declared_weights(config: Any) -> int:
    """A lower bound on the weights a config declares: the embedding plus each layer's MLP and a norm.

    Every transformer the auto classes build has at least these, so a config
    that declares more than its files can hold is caught before any module is built.
    """
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    vocab, hidden, layers, inner = (_dimension(text, names) for names in _DIMENSIONS.values())
    return vocab * hidden + layers * (hidden * inner + hidden)


def _check_declared_size(folder: Path, config: Any, what: str) -> None:
    """Refuse a config whose dimensions need far more weights than the folder's weight files hold."""
    stored = sum(p.stat().st_size for pattern in WEIGHT_PATTERNS for p in folder.glob(pattern) if p.is_file())
    if not stored:
        return  # a tokenizer-only folder (--model beside --server): nothing will be allocated from it
    capacity = stored * 8 // MIN_BITS_PER_WEIGHT + SLACK_WEIGHTS
    declared = declared_weights(config)
    if declared > capacity:
        raise StarsError(f"cannot load {what} from {folder}: config.json declares at least {declared:,} weights, "
                         f"but its weight files ({stored:,} bytes) hold at most {capacity:,}")


def check_model(ref: str, what: str, allow_download: bool = False) -> str:
    """The checked reference (a resolved folder or a hub id), refused early if it cannot load.

    Reads the config without running any code it names; for a local folder it
    also reads the weight files' headers and compares the sizes the config
    declares with what those files can hold.
    """
    from transformers import AutoConfig

    resolved = models.resolve(ref, what)
    config = pretrained(AutoConfig, resolved, what, allow_download)
    if models.looks_like_path(resolved):
        _check_weights(Path(resolved), what)
        _check_declared_size(Path(resolved), config, what)
    return resolved
