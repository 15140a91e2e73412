"""Keep linear weights in fp16 and compute in fp32: half of fp32's bytes per token, on any x86 CPU.

At batch 1 a token costs what its weights cost to read. Where the CPU lacks
native bf16, the packed int4 path (``packed.py``) pays for emulated bf16 in
every op, and dense fp32 reads 4 bytes a weight. fbgemm's fp16 GEMM (torch's
``quantized.linear_dynamic_fp16``) stores each weight in 2 bytes and widens it
to fp32 in registers (F16C, which every AVX2 CPU has), so activations and sums
stay fp32. The only rounding is of each weight to fp16: 3 more mantissa bits
than bf16 keeps, and ``tests/backends/local/test_dtype_quality.py`` bounds the result.

Tried and turned down beside it (benchmarks/README.md): int8 weights against
int8 activations (fbgemm's dynamic int8 linear) moved the next token's
distribution by 1.6 nats per token, 300x the bound, because it quantises a whole
activation row at once and this model's activations have outliers 15-30x their
RMS; torch's int4 kernel with fp32 or fp16 activations runs 20-30x slower than fp32.
"""

from __future__ import annotations

import torch

ENGINE = "fbgemm"


def available() -> bool:
    """Whether this torch build has fbgemm's fp16-weight linear (x86 builds do)."""
    return ENGINE in torch.backends.quantized.supported_engines and hasattr(
        torch.ops.quantized, "linear_dynamic_fp16"
    )


class Fp16Linear(torch.nn.Module):
    """A linear layer whose weight is stored in fp16 and multiplied in fp32."""

    def __init__(self, linear: torch.nn.Linear):
        super().__init__()
        self.out_features, self.in_features = linear.weight.shape
        bias = None if linear.bias is None else linear.bias.detach().float()
        self._packed = torch.ops.quantized.linear_prepack_fp16(linear.weight.detach().float(), bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features).float().contiguous()
        out = torch.ops.quantized.linear_dynamic_fp16(flat, self._packed)
        return out.reshape(*x.shape[:-1], self.out_features).to(x.dtype)


def convert(model: torch.nn.Module) -> tuple[int, int]:
    """Swap every linear layer of an fp32 ``model``, the output head included, for an ``Fp16Linear``.

    Returns ``(converted, linear layers)``. A head tied to the embedding gets its own
    fp16 copy; the embedding itself stays fp32 (a lookup reads one row per token).
    """
    found = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.Linear):
                setattr(parent, name, Fp16Linear(child))
                found += 1
    return found, found
