"""Exactly-4-bit weights run packed, bit-exact in what they encode; anything else stays dense."""

from __future__ import annotations

import pytest
import torch

from stars_engine.backends.local import packed
from stars_engine.backends.local.load import load_policy
from stars_engine.backends.local.runtime import may_pack
from stars_engine.errors import StarsError
from stars_engine.policy.base import Sampling

CPU = torch.device("cpu")


def four_bit(rows: int, cols: int, seed: int = 0) -> torch.Tensor:
    """A weight as a Q4_1 GGUF stores it: per group of 32, ``q * d + m`` with q in 0..15 (both ends
    used) and ``d``, ``m`` in fp16, expanded to fp32 as the conversion does."""
    gen = torch.Generator().manual_seed(seed)
    groups = cols // packed.GROUP
    q = torch.randint(0, 16, (rows, groups, packed.GROUP), generator=gen)
    q[..., 0], q[..., 1] = 0, 15
    step = (torch.rand(rows, groups, 1, generator=gen) * 0.01 + 1e-4).half().float()
    low = (torch.randn(rows, groups, 1, generator=gen) * 0.05).half().float()
    return (q * step + low).reshape(rows, cols).float()


def test_exact_groups_give_back_every_weight_and_refuse_anything_else():
    weight = four_bit(32, 96)
    q, step, low = packed.exact_groups(weight)
    rebuilt = (q.reshape(32, 3, 32) * step[..., None] + low[..., None]).reshape(32, 96)
    assert torch.equal(rebuilt, weight)
    assert int(q.min()) == 0 and int(q.max()) == 15
    nudged = weight.clone()
    nudged[3, 7] += 1e-3
    assert packed.exact_groups(nudged) is None  # one weight off the grid: not 4-bit
    assert packed.exact_groups(torch.randn(32, 96)) is None  # a model never quantised
    assert packed.exact_groups(four_bit(24, 96)) is None  # rows the kernel cannot pack
    assert packed.exact_groups(weight.to(torch.bfloat16)) is None


def test_an_int4_linear_computes_what_the_dense_layer_does():
    weight = four_bit(64, 192, seed=1)
    layer = packed.Int4Linear(*packed.exact_groups(weight), dtype=torch.bfloat16)
    x = torch.randn(3, 5, 192)
    dense = x @ weight.t()
    out = layer(x.to(torch.bfloat16)).float()
    assert out.shape == (3, 5, 64)
    # bf16 activations and a bf16 step/floor: the error of computing in bf16, nothing more
    assert (out - dense).abs().max() < 0.02 * dense.abs().max()


def test_pack_swaps_only_exact_bias_free_layers_and_never_the_head():
    model = torch.nn.Module()
    model.exact = torch.nn.Linear(96, 32, bias=False)
    model.exact.weight.data = four_bit(32, 96)
    model.dense = torch.nn.Linear(96, 32, bias=False)
    model.biased = torch.nn.Linear(96, 32)
    model.biased.weight.data = four_bit(32, 96, seed=2)
    model.head = torch.nn.Linear(96, 32, bias=False)
    model.head.weight.data = four_bit(32, 96, seed=3)
    model.get_output_embeddings = lambda: model.head
    assert packed.pack(model, torch.bfloat16) == (1, 3)  # the head is not counted
    assert isinstance(model.exact, packed.Int4Linear)
    assert all(isinstance(layer, torch.nn.Linear) for layer in (model.dense, model.biased, model.head))


def test_packing_applies_only_to_bf16_on_a_cpu_unless_turned_off():
    assert may_pack(CPU, torch.bfloat16) is packed.available()
    assert not may_pack(CPU, torch.bfloat16, "dense")
    assert not may_pack(CPU, torch.bfloat16, "fp16")
    assert may_pack(CPU, torch.bfloat16, "int4") is packed.available()
    assert not may_pack(CPU, torch.float32)
    assert not may_pack(torch.device("cuda"), torch.bfloat16)
    with pytest.raises(StarsError, match="unknown weights 'int3': use auto, dense, fp16 or int4"):
        may_pack(CPU, torch.bfloat16, "int3")


@pytest.mark.real
def test_the_bundled_model_runs_packed_and_writes_what_it_did_dense():
    """Every linear layer of the bundled Q4_1 model is exactly 4-bit, so all 210 run packed in
    bf16; forced dense, the same model gives the same first tokens under the same seed."""
    four = load_policy(dtype="bf16")
    dense = load_policy(dtype="bf16", weights="dense")
    assert four.runtime["weights"] == "int4"
    assert "210 of 210 linear layers exactly 4-bit" in four.runtime["reason"]
    assert dense.runtime["weights"] == "dense" and dense.runtime["dtype"] == "bf16"
    assert sum(isinstance(m, packed.Int4Linear) for m in four.model.modules()) == 210
    assert not any(isinstance(m, packed.Int4Linear) for m in dense.model.modules())
    messages = [{"role": "user", "content": "Name one colour of the rainbow."}]
    heads = []
    for policy in (four, dense):
        policy.start(messages, seed=3)
        heads.append(policy.sample(1, 4, Sampling(temperature=0.1))[0].token_ids)
    assert heads[0] == heads[1]
