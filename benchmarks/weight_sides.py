"""The weight paths side by side in one process, on the bundled model: which is fastest on this CPU.

Sides, each built from the same fp32 load (``weight_paths.build``), one torch thread:
- ``dense_fp32``: what the engine ran on a CPU without native bf16 before the paths were measured;
- ``dense_bf16``: the weights expanded to bf16;
- ``fp16``: weights in fp16, sums in fp32 (``fp16_weights.py``);
- ``int4``: the 4-bit weights packed, bf16 activations (``packed.py``);
- ``int8_dynamic`` (rejected, speed only): int8 weights per row against int8 activations per row,
  fbgemm's dynamic int8 linear; its next-token KL against fp32 is 1.6 nats, 300x the bound.
And HF ``model.generate`` on ``dense_fp32``: the issue's yardstick.

For every side: policy tok/s drawing 1 candidate and 4 as one batch (in total); for dense_fp32,
fp16 and int4 also the engine's ``vanilla`` tok/s (reward scoring included). Sides alternate
within each repeat; medians are kept. ``runtime_would_pick`` is a fresh run of the runtime's own
measurement and choice (``weight_paths.time_paths`` + ``runtime.pick_weights``) in this process.

To approximate a CPU without AVX-512 on one that has it, cap torch's kernels:
``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 FBGEMM_ENABLE_INSTRUCTIONS=AVX2``. That caps the
instructions, not the memory system or the clock: the figures are of this CPU so capped.
"""

from __future__ import annotations

import copy
import math
import os
import statistics
import sys
import warnings

from stars_engine.backends.local import runtime, weight_paths
from stars_engine.backends.local.load import load_reward
from stars_engine.backends.local.policy import TransformersPolicy
from stars_engine.params import Params
from stars_engine.weights.convert import default_policy_dir

VANILLA_SIDES = ("dense_fp32", "fp16", "int4")


def int8_dynamic(model):
    """Every linear layer, the head included, on fbgemm's dynamic int8 linear (benchmark only)."""
    import torch

    class Int8Linear(torch.nn.Module):
        def __init__(self, linear):
            super().__init__()
            weight = linear.weight.detach().float()
            scale = (weight.abs().amax(1) / 127).clamp(min=1e-12).double()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                q = torch.quantize_per_channel(weight, scale, torch.zeros(len(scale), dtype=torch.long), 0,
                                               torch.qint8)
            self.packed, self.inner = torch.ops.quantized.linear_prepack(q, None), weight.shape[1]

        def forward(self, x):
            out = torch.ops.quantized.linear_dynamic(x.reshape(-1, self.inner).float().contiguous(), self.packed,
                                                     reduce_range=True)
            return out.reshape(*x.shape[:-1], -1)

    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.Linear):
                setattr(parent, name, Int8Linear(child))
    return model


def sides(tokenizer, fp32):
    import torch

    built = {"dense_fp32": fp32}
    for name, path, dense in (("dense_bf16", "dense", torch.bfloat16), ("fp16", "fp16", torch.float32),
                              ("int4", "int4", torch.bfloat16)):
        built[name] = weight_paths.build(copy.deepcopy(fp32), path, dense)[0]
    built["int8_dynamic"] = int8_dynamic(copy.deepcopy(fp32))
    return {name: TransformersPolicy(model, tokenizer, name) for name, model in built.items()}


def compare(repeats: int, tokens: int) -> dict:
    import torch
    from decode_rates import engine_tok_s, generate_tok_s, sample_tok_s
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    ref = default_policy_dir()
    tokenizer = AutoTokenizer.from_pretrained(ref)
    fp32 = AutoModelForCausalLM.from_pretrained(ref, dtype=torch.float32)
    policies = sides(tokenizer, fp32)
    reward = load_reward()
    candidates = {"dense": policies["dense_fp32" if runtime.kernels_capped() or not runtime.cpu_bf16_flags()
                                      else "dense_bf16"].model,
                  "fp16": policies["fp16"].model, "int4": policies["int4"].model}
    measured = weight_paths.time_paths(candidates, tokenizer)
    seconds = {path: 1 / math.sqrt(one * four) for path, (one, four) in measured.items()}
    samples: dict[str, list[float]] = {}
    for i in range(repeats):
        for name, policy in policies.items():
            samples.setdefault(f"{name}_sample_1", []).append(sample_tok_s(policy, 1, tokens, i))
            samples.setdefault(f"{name}_sample_4", []).append(sample_tok_s(policy, 4, tokens, i))
            if name in VANILLA_SIDES:
                vanilla = Params(strategy="vanilla", segment_tokens=16, max_new_tokens=tokens, seed=i)
                samples.setdefault(f"{name}_vanilla", []).append(engine_tok_s(policy, reward, vanilla))
        samples.setdefault("hf_generate_fp32", []).append(generate_tok_s(policies["dense_fp32"], tokens, i))
        print(f"  repeat {i}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in samples.items()), file=sys.stderr,
              flush=True)
    med = {key: round(statistics.median(values), 2) for key, values in samples.items()}
    base = med["hf_generate_fp32"]
    return {
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "caps": {name: os.environ.get(name, "") for name in runtime.CAP_VARIABLES},
        "load_average": os.getloadavg(),
        "repeats": repeats, "tokens": tokens,
        "runtime_would_pick": runtime.pick_weights(seconds),
        "runtime_measurement_tok_s": measured,
        "medians_tok_s": med,
        "vanilla_over_hf_generate_fp32": {s: round(med[f"{s}_vanilla"] / base, 3) for s in VANILLA_SIDES},
        "sample_1_over_dense_fp32": {s: round(med[f"{s}_sample_1"] / med["dense_fp32_sample_1"], 3)
                                     for s in policies},
        "sample_4_over_dense_fp32": {s: round(med[f"{s}_sample_4"] / med["dense_fp32_sample_4"], 3)
                                     for s in policies},
        "per_repeat": samples,
    }
