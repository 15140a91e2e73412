"""What to load, as pure data: which chat model and reward, where, and how.

One picklable value (the worker process receives it); a bad ``--dtype``,
``--threads`` or ``--weights`` is refused when it is made, before any model
loads or the window opens. ``backends.choose`` reads it to pick the backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
    weights: str | None = None  # auto (the path measured fastest), dense, fp16 or int4
    server: list[str] | None = None  # served replicas: a vLLM server's URL each
    served_model: str | None = None
    reward_server: str | None = None  # a vLLM pooling server scoring the reward
    served_reward: str | None = None
    backend: str | None = None

    def __post_init__(self) -> None:
        """A bad --dtype, --threads or --weights fails here, before any model loads (or the window opens)."""
        if self.dtype is not None or self.threads is not None or self.weights is not None:
            from .local.runtime import check_overrides  # imports torch: only when an override is given

            check_overrides(self.dtype, self.threads, self.weights)
