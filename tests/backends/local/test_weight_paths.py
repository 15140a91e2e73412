"""The weight path a CPU runs: fp16 weights compute what fp32 does, the measured choice is built and
recorded, and overrides build what they name (fake measurements: no timing in tests)."""

from __future__ import annotations

import pytest
import torch

from stars_engine.backends.local import fp16_weights, packed, runtime, weight_paths
from stars_engine.backends.local.load import load_policy
from stars_engine.backends.local.runtime import Runtime

from .test_packed import four_bit

BASE = Runtime("cpu", "fp32", 1, "test")


def test_an_fp16_linear_computes_what_the_fp32_layer_does_to_fp16_rounding():
    dense = torch.nn.Linear(192, 64)
    dense.weight.data = four_bit(64, 192, seed=4)
    layer = fp16_weights.Fp16Linear(dense)
    x = torch.randn(3, 5, 192)
    out = layer(x)
    assert out.shape == (3, 5, 64) and out.dtype == torch.float32
    expected = dense(x)
    error = ((out - expected).norm() / expected.norm()).item()
    assert 0 < error < 1e-3  # fp16 weights (11-bit mantissa), fp32 sums: far below bf16's ~4e-3


def tiny_model() -> torch.nn.Module:
    """A 2-layer Llama whose linear layers (not the head) are exactly 4-bit, as the bundled model's."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=True)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).float()
    head = model.get_output_embeddings()
    for seed, layer in enumerate(m for m in model.modules() if isinstance(m, torch.nn.Linear) and m is not head):
        layer.weight.data = four_bit(*layer.weight.shape, seed=seed)
    return model


def fake_timing(figures, calls):
    def time_paths(models, tokenizer):
        calls.append(sorted(models))
        return {path: figures[path] for path in models}

    return time_paths


@pytest.fixture
def choices(tmp_path, monkeypatch):
    path = tmp_path / "weights-choice.json"
    monkeypatch.setattr(runtime, "choice_file", lambda: path)
    monkeypatch.setattr(runtime, "kernels_capped", lambda: True)  # dense is fp32, as on an AVX2-only CPU
    monkeypatch.setattr(runtime, "cpu_bf16_flags", lambda: [])
    return path


@pytest.mark.parametrize(("figures", "expected", "layer"), [
    ({"dense": (20.0, 50.0), "fp16": (36.0, 108.0), "int4": (32.0, 77.0)}, "fp16", fp16_weights.Fp16Linear),
    ({"dense": (20.0, 50.0), "fp16": (30.0, 80.0), "int4": (40.0, 120.0)}, "int4", packed.Int4Linear),
    ({"dense": (20.0, 50.0), "fp16": (20.5, 50.5), "int4": (20.2, 50.1)}, "dense", torch.nn.Linear),
])
def test_the_measured_fastest_path_is_built_recorded_and_cached(choices, tmp_path, monkeypatch, figures, expected,
                                                                  layer):
    calls = []
    monkeypatch.setattr(weight_paths, "time_paths", fake_timing(figures, calls))
    model, chosen = weight_paths.settle(tiny_model(), None, BASE, None, None, str(tmp_path))
    assert calls == [["dense", "fp16", "int4"]]
    assert chosen.weights == expected and chosen.dtype == {"int4": "bf16"}.get(expected, "fp32")
    assert chosen.measured == {path: one for path, (one, _) in figures.items()}
    assert "measured" in chosen.reason
    assert isinstance(model.model.layers[0].mlp.down_proj, layer)
    assert next(model.parameters()).dtype == runtime.DTYPES[chosen.dtype]
    # the next load reads the choice back and builds only that path
    model, again = weight_paths.settle(tiny_model(), None, BASE, None, None, str(tmp_path))
    assert len(calls) == 1 and again.weights == expected and "cached measurement" in again.reason
    assert isinstance(model.model.layers[1].self_attn.q_proj, layer)
    out = model(input_ids=torch.tensor([[1, 2, 3]])).logits
    assert out.shape == (1, 3, 128) and torch.isfinite(out).all()


def test_overrides_build_what_they_name_without_measuring(choices, tmp_path, monkeypatch):
    monkeypatch.setattr(weight_paths, "time_paths", lambda *a: pytest.fail("an override must not measure"))
    model, chosen = weight_paths.settle(tiny_model(), None, BASE, None, "fp16", str(tmp_path))
    assert (chosen.weights, chosen.dtype) == ("fp16", "fp32") and "--weights" in chosen.reason
    assert isinstance(model.lm_head, fp16_weights.Fp16Linear)  # the head too: a fifth of the bytes
    model, chosen = weight_paths.settle(tiny_model(), None, BASE, "bf16", None, str(tmp_path))
    assert (chosen.weights, chosen.dtype) == ("int4", "bf16")  # --dtype bf16 packs, as before
    assert "14 of 14 linear layers exactly 4-bit" in chosen.reason
    model, chosen = weight_paths.settle(tiny_model(), None, BASE, "fp32", None, str(tmp_path))
    assert (chosen.weights, chosen.dtype) == ("dense", "fp32")
    assert not choices.exists()


@pytest.mark.real
def test_the_bundled_model_runs_the_path_measured_here_and_records_it(tmp_path, monkeypatch):
    """A real first load measures every path on the bundled model and records the figures; the
    second load reads the choice back. (Which path wins is the machine's business, not asserted.)"""
    monkeypatch.setattr(runtime, "choice_file", lambda: tmp_path / "weights-choice.json")
    first = load_policy()
    assert first.runtime["weights"] in runtime.WEIGHT_PATHS
    assert set(first.runtime["measured"]) == set(runtime.available_paths())
    assert all(tok_s > 0 for tok_s in first.runtime["measured"].values())
    second = load_policy()
    assert second.runtime["weights"] == first.runtime["weights"]
    assert second.runtime["measured"] == first.runtime["measured"]
    assert "cached measurement" in second.runtime["reason"]
    kinds = {type(m) for m in second.model.modules()}
    expected = {"fp16": fp16_weights.Fp16Linear, "int4": packed.Int4Linear}.get(second.runtime["weights"])
    assert expected is None or expected in kinds
