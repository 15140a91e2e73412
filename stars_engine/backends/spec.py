"""What to load, as pure data: which chat model and reward, where, and how.

One picklable value (the worker process receives it) that imports no torch, so
a bad ``--dtype``, ``--threads`` or ``--weights`` is refused before any model
loads or the window opens. ``backends.choose`` reads it to pick the backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import StarsError

DTYPE_NAMES = ("auto", "bf16", "fp32")
WEIGHTS = (None, "auto", "dense")


def check_overrides(dtype: str | None, threads: int | None, weights: str | None = None) -> None:
    """Refuse a bad ``--dtype``, ``--threads`` or ``--weights`` with one line."""
    if dtype is not None and dtype not in DTYPE_NAMES:
        raise StarsError(f"unknown dtype {dtype!r}: use auto, bf16 or fp32")
    if weights not in WEIGHTS:
        raise StarsError(f"unknown weights {weights!r}: use auto or dense")
    if threads is not None and threads < 1:
        raise StarsError(f"--threads must be at least 1, not {threads}")


@dataclass(frozen=True)
class ModelSpec:
    """Which chat and reward model to load and how (None = the bundled defaults / the machine's choice).

    ``backend`` names a registered backend outright (``backends.registered``);
    left out, ``backends.choose`` picks vllm when ``server`` is set, else the
    in-process one (or the worker process, for the workbench).
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
    backend: str | None = None

    def __post_init__(self) -> None:
        check_overrides(self.dtype, self.threads, self.weights)
