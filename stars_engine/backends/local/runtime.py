"""How the in-process engine runs on this machine: the dtype and the CPU threads, chosen and recorded.

- **dtype**: bf16 where the hardware computes it natively (a GPU that supports it;
  a CPU with ``avx512_bf16`` or AMX, and torch's kernels not capped below
  AVX-512), else fp32. On a CPU without native bf16 the
  matmuls are emulated and slower than fp32; with it, SmolLM2-135M decodes about
  1.4x faster (benchmarks/README.md), and the next-token distributions stay
  within the bound a test checks (tests/backends/local/test_dtype_quality.py).
- **threads**: one torch thread for a model under ``SMALL_MODEL_PARAMS`` (at
  135M each op is too small to split; one thread was faster than two on an idle
  machine and far faster beside a busy process), else every core this process may
  use. With one thread OpenMP has no workers that could spin, so the
  ``OMP_WAIT_POLICY=PASSIVE`` protection (stars_engine/__init__.py) holds either way.
- **weights**: for a model saved in fp32 on a CPU, the fastest of the weight
  formats that keep its next-token distributions within the quality bound:
  ``dense`` (the dtype above), ``fp16`` (weights stored in fp16, computed in fp32:
  ``fp16_weights.py``) and ``int4`` (exactly-4-bit layers packed, bf16
  activations: ``packed.py``). Which is fastest depends on the CPU (native bf16
  or not, its memory), not on a flag, so it is measured: a few decode steps of
  each on the model itself (``weight_paths.py``), once per CPU model, torch
  build and model, and cached in ``weights-choice.json`` beside the converted
  weights.

``--dtype``, ``--threads`` and ``--weights`` override. The choice is a ``Runtime``,
which ``stars models`` prints and every ``RunStarted`` carries.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import msgspec
import torch

from ...errors import StarsError
from ...weights import sources as models
from . import fp16_weights, packed

DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}
WEIGHT_PATHS = ("dense", "fp16", "int4")  # nearest fp32 first: a later one must be measurably faster
WEIGHTS = (None, "auto", *WEIGHT_PATHS)
PATH_DTYPE = {"fp16": "fp32", "int4": "bf16"}  # what each quantised path computes in
MARGIN = 1.05  # a path later in WEIGHT_PATHS is chosen only if at least 5 % faster per token
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
SMALL_MODEL_PARAMS = 500_000_000
THREADS_PER_CORE = 4  # more threads than this per core never helped; OpenMP dies on absurd counts (100000)
CHOICE_FILE = "weights-choice.json"
CAP_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "FBGEMM_ENABLE_INSTRUCTIONS")


@dataclass(frozen=True)
class Runtime:
    """What the policy runs on, and why (``reason`` is one short phrase)."""

    device: str
    dtype: str
    threads: int | None  # torch CPU threads; None on a GPU
    reason: str
    weights: str = "dense"  # or "fp16" (fp16_weights.py) or "int4" (packed.py)
    wait_policy: str = field(default_factory=lambda: os.environ.get("OMP_WAIT_POLICY", "default"))
    measured: dict[str, float] = field(default_factory=dict)  # tok/s per weight path, where measured

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cpu_bf16_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """The native-bf16 instruction sets this CPU reports ([] where unknown: not Linux)."""
    flags = next((line.split(":", 1)[1].split() for line in _cpuinfo_lines(cpuinfo) if line.startswith("flags")), [])
    return [f for f in NATIVE_BF16_FLAGS if f in flags]


def _cpuinfo_lines(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    try:
        return cpuinfo.read_text(errors="replace").splitlines()
    except OSError:
        return []


def parse_dtype(name: str | None) -> torch.dtype | None:
    """``--dtype``: bf16, fp32 or auto (None); anything else is a one-line error."""
    if name is None or name == "auto":
        return None
    if name not in DTYPES:
        raise StarsError(f"unknown dtype {name!r}: use auto, bf16 or fp32")
    return DTYPES[name]


def check_overrides(dtype: str | None, threads: int | None, weights: str | None = None) -> None:
    """Refuse a bad ``--dtype``, ``--threads`` or ``--weights`` (or a pair that conflicts) with one line."""
    parse_dtype(dtype)
    if weights not in WEIGHTS:
        raise StarsError(f"unknown weights {weights!r}: use auto, dense, fp16 or int4")
    needs = PATH_DTYPE.get(weights or "")
    if needs is not None and dtype not in (None, "auto", needs):
        raise StarsError(f"--weights {weights} computes in {needs}: it cannot run with --dtype {dtype}")
    if threads is not None and not 1 <= threads <= max_threads():
        raise StarsError(f"--threads must be from 1 to {max_threads()} ({THREADS_PER_CORE} per core here), "
                         f"not {threads}")


def max_threads() -> int:
    """The most ``--threads`` allowed on this machine."""
    return THREADS_PER_CORE * (os.cpu_count() or 1)


def choose_dtype(
    device: torch.device, requested: str | None = None, flags: list[str] | None = None, capped: bool | None = None
) -> tuple[torch.dtype, str]:
    """The dtype for ``device`` and the reason, honouring ``--dtype``; ``flags``: the CPU's native-bf16
    flags, ``capped``: whether torch's kernels run below AVX-512 (None: this machine's, for either)."""
    forced = parse_dtype(requested)
    if forced is not None:
        return forced, "--dtype"
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return torch.bfloat16, "GPU supports bf16"
        return torch.float32, "GPU without bf16"
    if flags is None:
        flags = cpu_bf16_flags() if device.type == "cpu" else []
    if capped is None:
        capped = kernels_capped()
    if flags and not capped:
        return torch.bfloat16, f"CPU has {flags[0]}"
    if flags:
        return torch.float32, f"CPU has {flags[0]}, but torch's kernels are capped below AVX-512 (bf16 emulated)"
    return torch.float32, "CPU without native bf16"


def kernels_capped() -> bool:
    """Whether torch's CPU kernels run below AVX-512 here (``ATEN_CPU_CAPABILITY=avx2``, or a build
    or CPU without it): then bf16 is emulated whatever the CPU's flags say."""
    return torch.backends.cpu.get_cpu_capability() not in ("AVX512",)


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
    """Whether exactly-4-bit weights may run packed: ``--weights`` auto or int4, a CPU, bf16
    activations (the int4 CPU kernel is 20-30x slower in fp32), and a torch with the kernel."""
    check_overrides(None, None, weights)
    return weights in (None, "auto", "int4") and device.type == "cpu" and dtype == torch.bfloat16 and packed.available()


def may_convert(device: torch.device, weights: str | None = None) -> bool:
    """Whether the weight format is settled after loading in fp32 (``weight_paths.settle``): on a
    CPU, unless ``--weights dense``. A GPU loads straight into its dtype, as before."""
    check_overrides(None, None, weights)
    return device.type == "cpu" and weights != "dense"


def path_dtype(path: str, dense: torch.dtype) -> torch.dtype:
    """What ``path`` computes in; ``dense`` for the dense path."""
    return DTYPES[PATH_DTYPE[path]] if path in PATH_DTYPE else dense


def available_paths(has_4bit: bool = True) -> list[str]:
    """The weight paths this torch build offers, in ``WEIGHT_PATHS`` order."""
    offered = {"dense": True, "fp16": fp16_weights.available(), "int4": has_4bit and packed.available()}
    return [path for path in WEIGHT_PATHS if offered[path]]


def pick_weights(seconds: dict[str, float]) -> str:
    """The path with the least measured seconds per token, a path further from fp32
    (later in ``WEIGHT_PATHS``) only where it beats the one before by ``MARGIN``."""
    best = None
    for path in WEIGHT_PATHS:
        if path in seconds and (best is None or seconds[path] * MARGIN < seconds[best]):
            best = path
    if best is None:
        raise ValueError("no weight path was measured")
    return best


class Choice(msgspec.Struct, frozen=True):
    """One cached measurement: the path chosen and every path's tok/s (batch 1, and per row at batch 4)."""

    weights: str
    tok_s: dict[str, tuple[float, float]]
    measured_at: str


def choice_key(model_ref: str, threads: int) -> str:
    """What a measurement depends on: the CPU model, torch and its ISA caps, threads, and the model."""
    cpu = next((line.split(":", 1)[1].strip() for line in _cpuinfo_lines() if line.startswith("model name")), "?")
    caps = ",".join(f"{name}={os.environ.get(name, '')}" for name in CAP_VARIABLES)
    folder = Path(model_ref)
    files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    model = f"{folder.resolve() if folder.is_dir() else model_ref}:{sum(f.stat().st_size for f in files)}"
    parts = [cpu, torch.__version__, torch.backends.cpu.get_cpu_capability(), caps, str(threads), model]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def choice_file() -> Path:
    """Where measured choices are kept: beside the converted weights, in the user cache."""
    return models.cache_dir() / CHOICE_FILE


def _choices(path: Path) -> dict[str, Choice]:
    """The cached measurements; an unreadable or malformed file is as good as none (measured again)."""
    try:
        return msgspec.json.decode(path.read_bytes(), type=dict[str, Choice])
    except (OSError, msgspec.ValidationError, msgspec.DecodeError):
        return {}


def cached_choice(model_ref: str, threads: int) -> Choice | None:
    """The measured choice for this machine and model, if a load has measured it (``stars models``)."""
    return _choices(choice_file()).get(choice_key(model_ref, threads))


def choose_weights(
    key: str,
    paths: list[str],
    measure: Callable[[list[str]], dict[str, tuple[float, float]]],
    cache: Path | None = None,
) -> tuple[Choice, bool]:
    """The weight path for this machine and model: cached under ``key``, else ``measure(paths)``
    (tok/s at batch 1 and per row at batch 4 for each path), the fastest by the geometric mean of
    the two per-token costs, saved. Returns the choice and whether it came from the cache."""
    cache = cache or choice_file()
    known = _choices(cache)
    if key in known and known[key].weights in paths:
        return known[key], True
    tok_s = measure(paths)
    seconds = {path: 1 / math.sqrt(one * four) for path, (one, four) in tok_s.items()}
    choice = Choice(pick_weights(seconds), tok_s, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    known[key] = choice
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        staging = cache.with_suffix(f".{os.getpid()}.tmp")
        staging.write_bytes(msgspec.json.encode(known))
        staging.replace(cache)
    except OSError:
        pass  # a read-only cache only costs measuring again next time
    return choice, False


def with_weights(chosen: Runtime, path: str, dtype: torch.dtype, note: str, measured: Choice | None = None) -> Runtime:
    """``chosen`` once its weight path is settled: the path, the dtype it computes in, why."""
    tok_s = {p: round(one, 2) for p, (one, _) in measured.tok_s.items()} if measured else {}
    return replace(chosen, weights=path, dtype=dtype_name(dtype), reason=f"{chosen.reason}; {note}", measured=tok_s)
