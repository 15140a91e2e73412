"""What ``stars models`` prints: the default models, their files, the cache, and how this machine runs them."""

from __future__ import annotations

from pathlib import Path

from ...errors import StarsError
from ...weights.sources import (
    CONVERTED_NAME,
    DEFAULT_POLICY_ID,
    DEFAULT_POLICY_PARAMS,
    DEFAULT_REWARD_ID,
    bundled_gguf,
    bundled_minilm,
    cache_dir,
)
from . import runtime


def describe() -> dict[str, str]:
    """What ``stars models`` prints: the defaults, their files, the cache, the device."""
    import torch

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
        "runtime": _runtime_line(runtime.plan(device, DEFAULT_POLICY_PARAMS)),
        "weights": _weights_line(device, converted, runtime.plan(device, DEFAULT_POLICY_PARAMS).threads),
        "hub access": "off unless --allow-download",
    }


def _runtime_line(chosen) -> str:
    threads = "" if chosen.threads is None else f", {chosen.threads} thread{'s' * (chosen.threads != 1)}"
    return (f"{chosen.dtype}{threads}, OpenMP wait {chosen.wait_policy} ({chosen.reason}; "
            "--dtype and --threads override)")


def _weights_line(device, converted: Path, threads: int | None) -> str:
    if device.type != "cpu":
        return "dense (a GPU loads them straight into its dtype)"
    choice = runtime.cached_choice(str(converted), threads or 1)
    if choice is None:
        return ("measured on the first load: dense, fp16 or packed int4, whichever runs fastest here "
                "(about 20 s, once; --weights overrides)")
    figures = ", ".join(f"{path} {one:.1f}" for path, (one, _) in choice.tok_s.items())
    computes = f" (computed in {runtime.PATH_DTYPE[choice.weights]})" if choice.weights in runtime.PATH_DTYPE else ""
    return f"{choice.weights}{computes}, measured fastest here (tok/s at batch 1: {figures}; --weights overrides)"
