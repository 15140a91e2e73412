"""How the in-process engine runs on this machine: the dtype and the CPU threads, chosen and recorded.

- **dtype**: bf16 where the hardware computes it natively (a GPU that supports it;
  a CPU with ``avx512_bf16`` or AMX), else fp32. On a CPU without native bf16 the
  matmuls are emulated and slower than fp32; with it, SmolLM2-135M decodes about
  1.4x faster (benchmarks/README.md), and the next-token distributions stay
  within the bound a test checks (tests/backends/local/test_dtype_quality.py).
- **threads**: one torch thread for a model under ``SMALL_MODEL_PARAMS`` (at
  135M each op is too small to split; one thread was faster than two on an idle
  machine and far faster beside a busy process), else every core this process may
  use. With one thread OpenMP has no workers that could spin, so the
  ``OMP_WAIT_POLICY=PASSIVE`` protection (stars_engine/__init__.py) holds either way.

``--dtype`` and ``--threads`` override both. The choice is a ``Runtime``, which
``stars models`` prints and every ``RunStarted`` carries.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from ...errors import StarsError
from ..spec import check_overrides
from . import packed

DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
SMALL_MODEL_PARAMS = 500_000_000


@dataclass(frozen=True)
class Runtime:
    """What the policy runs on, and why (``reason`` is one short phrase)."""

    device: str
    dtype: str
    threads: int | None  # torch CPU threads; None on a GPU
    reason: str
    weights: str = "dense"  # or "int4": exactly-4-bit linear layers run packed (packed.py)
    wait_policy: str = field(default_factory=lambda: os.environ.get("OMP_WAIT_POLICY", "default"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cpu_bf16_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """The native-bf16 instruction sets this CPU reports ([] where unknown: not Linux)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return [f for f in NATIVE_BF16_FLAGS if f in flags]


def parse_dtype(name: str | None) -> torch.dtype | None:
    """``--dtype``: bf16, fp32 or auto (None); anything else is a one-line error."""
    if name is None or name == "auto":
        return None
    if name not in DTYPES:
        raise StarsError(f"unknown dtype {name!r}: use auto, bf16 or fp32")
    return DTYPES[name]


def choose_dtype(
    device: torch.device, requested: str | None = None, flags: list[str] | None = None
) -> tuple[torch.dtype, str]:
    """The dtype for ``device`` and the reason, honouring ``--dtype``; ``flags``: the CPU's
    native-bf16 flags (None: this machine's, ``cpu_bf16_flags``)."""
    forced = parse_dtype(requested)
    if forced is not None:
        return forced, "--dtype"
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return torch.bfloat16, "GPU supports bf16"
        return torch.float32, "GPU without bf16"
    if flags is None:
        flags = cpu_bf16_flags() if device.type == "cpu" else []
    if flags:
        return torch.bfloat16, f"CPU has {flags[0]}"
    return torch.float32, "CPU without native bf16"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def choose_threads(parameters: int, requested: int | None = None, cores: int | None = None) -> tuple[int, str]:
    """CPU threads for a model of ``parameters`` weights, honouring ``--threads``; ``cores``: how
    many this process may use (None: this machine's, ``usable_cores``)."""
    if requested is not None:
        check_overrides(None, requested)
        return requested, "--threads"
    if parameters < SMALL_MODEL_PARAMS:
        return 1, "small model: 1 thread"
    return cores or usable_cores(), "all usable cores"


def dtype_name(dtype: torch.dtype) -> str:
    return {v: k for k, v in DTYPES.items()}.get(dtype, str(dtype).removeprefix("torch."))


def plan(device: torch.device, parameters: int, dtype: str | None = None, threads: int | None = None) -> Runtime:
    """What a model of ``parameters`` weights would run with on ``device`` (nothing is changed)."""
    chosen, dtype_reason = choose_dtype(device, dtype)
    if device.type != "cpu":
        return Runtime(str(device), dtype_name(chosen), None, dtype_reason)
    count, why = choose_threads(parameters, threads)
    return Runtime(str(device), dtype_name(chosen), count, f"{dtype_reason}; {why}")


def apply(model: torch.nn.Module, device: torch.device, dtype: str | None, threads: int | None) -> Runtime:
    """Set torch's CPU thread count for a loaded ``model`` (process-wide) and describe the result."""
    chosen = plan(device, sum(p.numel() for p in model.parameters()), dtype, threads)
    if chosen.threads is not None:
        torch.set_num_threads(chosen.threads)
    return chosen


def may_pack(device: torch.device, dtype: torch.dtype, weights: str | None = None) -> bool:
    """Whether exactly-4-bit weights may run packed: ``--weights`` not dense, a CPU, bf16
    activations (the int4 CPU kernel is slow in fp32), and a torch with the kernel."""
    check_overrides(None, None, weights)
    return weights != "dense" and device.type == "cpu" and dtype == torch.bfloat16 and packed.available()


def with_weights(chosen: Runtime, packed_layers: int, linear_layers: int) -> Runtime:
    """``chosen`` with how many linear layers run packed, once ``packed.pack`` has run."""
    if not packed_layers:
        return chosen
    note = f"{packed_layers} of {linear_layers} linear layers exactly 4-bit, packed"
    return replace(chosen, weights="int4", reason=f"{chosen.reason}; {note}")
