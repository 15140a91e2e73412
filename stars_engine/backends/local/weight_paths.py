"""Settle how a chat model loaded in fp32 runs its weights on a CPU: dense, fp16 or packed int4.

``runtime.choose_weights`` decides (from a cached measurement); this module
builds each path from the fp32 model and times it. A measurement is a few
decode steps of the model itself, through the engine's own sampling loop
(``TransformersPolicy.sample``, batch 1 and a batch of 4: the engine's two
shapes), timed in CPU seconds so that other processes on the machine weigh on
it less, the paths alternated over rounds and the fastest round of each kept.
It runs once per CPU model, torch build and model, and takes about 20 s for
the bundled model, most of it packing the 4-bit weights.
"""

from __future__ import annotations

import copy
import sys
import time

import torch

from ...policy.base import Sampling
from . import fp16_weights, packed, runtime
from .policy import TransformersPolicy
from .runtime import Runtime

PROMPT = [{"role": "user", "content": "Write a long, detailed story about a lighthouse keeper and a storm."}]
STEPS = 12
ROUNDS = 3


def settle(lm: torch.nn.Module, tokenizer, chosen: Runtime, dtype: str | None, weights: str | None,
           model_ref: str) -> tuple[torch.nn.Module, Runtime]:
    """``lm`` (fp32, on the CPU) on the weight path ``--weights``/``--dtype`` ask for, else the
    measured fastest; the returned ``Runtime`` records the path, its dtype and why."""
    dense = runtime.choose_dtype(torch.device("cpu"), dtype)[0]
    if weights in runtime.WEIGHT_PATHS:
        return _built(lm, weights, dense, chosen, "--weights")
    if dtype not in (None, "auto"):  # a dtype asked for: int4 where it computes in bf16, as before
        path = "int4" if runtime.may_pack(torch.device("cpu"), dense) else "dense"
        return _built(lm, path, dense, chosen, "--dtype")
    parameters = sum(p.numel() for p in lm.parameters())
    if parameters >= runtime.SMALL_MODEL_PARAMS:  # copies for a measurement would not fit beside it
        path = "int4" if runtime.may_pack(torch.device("cpu"), dense) else "dense"
        return _built(lm, path, dense, chosen, "not measured: model over 500M parameters")
    candidates: dict[str, torch.nn.Module] = {}

    def measure(paths: list[str]) -> dict[str, tuple[float, float]]:
        print("measuring which weight format runs fastest on this CPU, once (about 20 s of CPU)…", file=sys.stderr)
        for path in paths:
            model, counts = build(copy.deepcopy(lm), path, dense)
            if path != "int4" or counts[0]:  # int4 with no 4-bit layer is dense bf16: not a path here
                candidates[path] = model
        return time_paths(candidates, tokenizer)

    key = runtime.choice_key(model_ref, torch.get_num_threads())
    choice, cached = runtime.choose_weights(key, runtime.available_paths(), measure)
    source = "cached measurement" if cached else "measured"
    if choice.weights in candidates:
        model, counts = candidates[choice.weights], None
    else:
        model, counts = build(lm, choice.weights, dense)
    candidates.clear()
    figures = ", ".join(f"{p} {one:.1f}" for p, (one, _) in choice.tok_s.items())
    note = f"{_describe(choice.weights, counts)}: fastest here ({source}, tok/s at batch 1: {figures})"
    return model, runtime.with_weights(chosen, choice.weights, runtime.path_dtype(choice.weights, dense), note, choice)


def _built(
    lm: torch.nn.Module, path: str, dense: torch.dtype, chosen: Runtime, why: str
) -> tuple[torch.nn.Module, Runtime]:
    model, counts = build(lm, path, dense)
    if path == "int4" and not counts[0]:
        path = "dense"  # nothing was exactly 4-bit: the model runs dense in bf16
    note = f"{_describe(path, counts)} ({why})"
    return model, runtime.with_weights(chosen, path, runtime.path_dtype(path, dense), note)


def _describe(path: str, counts: tuple[int, int] | None) -> str:
    if counts is None:
        return f"weights {path}"
    done, found = counts
    if path == "int4":
        return f"{done} of {found} linear layers exactly 4-bit, packed"
    if path == "fp16":
        return f"{done} linear layers in fp16, computed in fp32"
    return "weights dense"


def build(lm: torch.nn.Module, path: str, dense: torch.dtype) -> tuple[torch.nn.Module, tuple[int, int]]:
    """``lm`` (fp32) changed in place to run on ``path``; returns it and (layers converted, linear layers)."""
    if path == "int4":
        counts = packed.pack(lm, torch.bfloat16)
        cast_parameters(lm, torch.bfloat16)
    elif path == "fp16":
        counts = fp16_weights.convert(lm)
    else:
        counts = (0, 0)
        cast_parameters(lm, dense)
    return lm, counts


def cast_parameters(lm: torch.nn.Module, dtype: torch.dtype) -> None:
    """Cast the weights left dense to ``dtype``, as loading in it would (buffers such as RoPE's
    frequencies stay fp32, as they do then)."""
    for parameter in lm.parameters():
        parameter.data = parameter.data.to(dtype)
    if hasattr(lm, "config"):
        lm.config.dtype = dtype


def time_paths(models: dict[str, torch.nn.Module], tokenizer) -> dict[str, tuple[float, float]]:
    """tok/s at batch 1 and per row at batch 4 for each model, rounds alternating, best round kept."""
    policies = {path: TransformersPolicy(model, tokenizer, path) for path, model in models.items()}
    best: dict[str, list[float]] = {path: [0.0, 0.0] for path in models}
    for _ in range(ROUNDS):
        for path, policy in policies.items():
            for i, rows in enumerate((1, 4)):
                best[path][i] = max(best[path][i], 1 / seconds_per_token(policy, rows))
    return {path: (round(one, 2), round(four, 2)) for path, (one, four) in best.items()}


def seconds_per_token(policy: TransformersPolicy, rows: int, steps: int = STEPS) -> float:
    """CPU seconds per generated token, ``rows`` candidates of ``steps`` tokens drawn as one batch
    (the prompt is encoded before the clock starts)."""
    policy.start(PROMPT, seed=0)
    started = time.process_time()
    candidates = policy.sample(rows, steps, Sampling())
    return (time.process_time() - started) / max(1, sum(c.tokens for c in candidates))
