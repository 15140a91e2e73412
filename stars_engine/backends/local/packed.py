"""Run a model whose weights are 4-bit at 4 bits, on a CPU, without changing a single weight.

The bundled chat model ships as a Q4_1 GGUF: every linear layer's weight is, in
groups of 32 along a row, ``q * d + m`` with ``q`` in 0..15. Converting it to
safetensors expands those 4-bit numbers to fp32, and a forward pass then reads
8x (fp32) or 4x (bf16) more bytes per token than it needs to. At batch 1 on a
CPU that reading is the cost of a token, so this is where the time goes.

``pack`` finds the linear layers whose weights are exactly such groups (it
rebuilds ``q``, ``d`` and ``m`` and checks that they give back every weight
bit for bit) and swaps each for an ``Int4Linear`` on torch's int4 CPU kernel.
A layer that is not exactly 4-bit is left as it is, so a model that was never
quantised is never quantised here. The only rounding is of ``d`` and ``m`` to
the activations' dtype (bf16), the same size of rounding as keeping the weight
itself in bf16; ``tests/backends/local/test_dtype_quality.py`` bounds the result.
"""

from __future__ import annotations

import torch

GROUP = 32  # Q4_1's block size, and a group size torch's int4 kernel takes
LEVELS = 15  # 4 bits: q in 0..15
INNER_K_TILES = 2
ROW_MULTIPLE = 16  # the kernel packs 16 output rows at a time
KERNEL = "_weight_int4pack_mm_for_cpu"


def available() -> bool:
    """Whether this torch build has the int4 CPU kernel."""
    return hasattr(torch.ops.aten, KERNEL)


def exact_groups(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """``(q, d, m)`` with ``weight == q * d + m`` exactly per group of 32, else None.

    The first 16 rows are tried alone first, so a weight that was never
    quantised is turned down without working through the whole matrix.
    """
    rows, cols = weight.shape
    if rows % ROW_MULTIPLE or cols % GROUP or weight.dtype != torch.float32:
        return None
    if rows > ROW_MULTIPLE and _fit(weight[:ROW_MULTIPLE]) is None:
        return None
    return _fit(weight)


def _fit(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    rows, cols = weight.shape
    groups = weight.reshape(rows, cols // GROUP, GROUP)
    low = groups.amin(-1, keepdim=True)
    step = (groups.amax(-1, keepdim=True) - low) / LEVELS
    safe = torch.where(step > 0, step, torch.ones_like(step))
    q = ((groups - low) / safe).round().clamp(0, LEVELS)
    if not torch.equal(q * step + low, groups):
        return None
    return q.to(torch.int32).reshape(rows, cols), step.squeeze(-1), low.squeeze(-1)


class Int4Linear(torch.nn.Module):
    """A bias-free linear layer over 4-bit weights (groups of 32, a step and a floor each)."""

    def __init__(self, q: torch.Tensor, step: torch.Tensor, low: torch.Tensor, dtype: torch.dtype):
        super().__init__()
        self.out_features, self.in_features = q.shape
        self.register_buffer("packed", torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, INNER_K_TILES))
        # the kernel computes (q - 8) * scale + zero, so zero = m + 8 d
        scale_zero = torch.stack([step.t(), (low + 8 * step).t()], dim=-1)
        self.register_buffer("scale_zero", scale_zero.contiguous().to(dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features).to(self.scale_zero.dtype)
        out = torch.ops.aten._weight_int4pack_mm_for_cpu(flat, self.packed, GROUP, self.scale_zero)
        return out.reshape(*x.shape[:-1], self.out_features)


def pack(model: torch.nn.Module, dtype: torch.dtype) -> tuple[int, int]:
    """Swap every exactly-4-bit, bias-free linear layer of an fp32 ``model`` for an ``Int4Linear``.

    Returns ``(packed, linear layers but the head)``. The head is skipped: its weight
    is usually tied to the embedding, which stays a plain tensor.
    """
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    found = packed = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if not isinstance(child, torch.nn.Linear) or child is head:
                continue
            found += 1
            groups = exact_groups(child.weight.detach()) if child.bias is None else None
            if groups is not None:
                setattr(parent, name, Int4Linear(*groups, dtype=dtype))
                packed += 1
    return packed, found
