"""A decode step compiled once for a static KV cache, against the engine's eager step, side by side.

    .venv/bin/python benchmarks/engine_throughput.py --try-compile [--repeats 3] [--tokens 64]

``torch.compile`` on the engine's own growing cache (``DynamicCache``: a new shape every
token) never finished its first round. The way to give the compiler fixed shapes is a
``StaticCache`` of ``L`` positions, written in place, with the attention masked past the
current length: one compile per (batch size, ``L``), kept on disk by Inductor's cache.
This measures, for each weight path and each ``L``:

- ``eager_ms``: the engine's eager step on its growing cache (what runs today);
- ``compiled_ms``: the step compiled with ``fullgraph=True, dynamic=False`` on a static cache of ``L``;
- ``cold_compile_s`` (an empty Inductor cache) and ``warm_compile_s`` (the same graph again
  after ``torch._dynamo.reset()``, read back from the disk cache, as a new process would);
- ``same_tokens``: whether greedy decoding gives the same tokens both ways.

The two sides alternate per repeat and medians are kept, so load drift hits both.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

from decode_rates import PROMPT

from stars_engine.backends.local.load import load_policy

LENGTHS = (128, 256, 512, 1024)
WEIGHTS = ("int4", "fp16", "dense")


def _steps(model, ids: list[int], forward, cache, steps: int) -> tuple[float, list[int]]:
    """Milliseconds per greedy step after a prefill, and the tokens chosen."""
    import torch

    with torch.inference_mode():
        prefill = model(input_ids=torch.tensor([ids]), past_key_values=cache, use_cache=True,
                        cache_position=torch.arange(len(ids)), logits_to_keep=1)
        token = prefill.logits[:, -1].argmax(-1, keepdim=True)
        chosen = []
        started = time.perf_counter()
        for step in range(steps):
            out = forward(input_ids=token, past_key_values=cache, use_cache=True,
                          cache_position=torch.tensor([len(ids) + step]), logits_to_keep=1)
            token = out.logits[:, -1].argmax(-1, keepdim=True)
            chosen.append(int(token))
        return (time.perf_counter() - started) / steps * 1000, chosen


def one_path(weights: str, repeats: int, tokens: int) -> dict:
    import torch
    from transformers import DynamicCache, StaticCache

    policy = load_policy(None, weights=weights)
    model, ids = policy.model, policy.encode_chat(PROMPT)
    result: dict = {"weights": policy.runtime.get("weights"), "prompt_tokens": len(ids), "lengths": {}}
    for length in LENGTHS:
        torch._dynamo.reset()
        compiled = torch.compile(model.forward, fullgraph=True, dynamic=False)
        started = time.perf_counter()
        try:
            _steps(model, ids, compiled, StaticCache(config=model.config, max_cache_len=length), 1)
        except Exception as exc:  # the compiler refusing a weight path is a finding, not a crash
            result["compile_error"] = str(exc).splitlines()[0][:200]
            return result
        cold = time.perf_counter() - started
        torch._dynamo.reset()
        compiled = torch.compile(model.forward, fullgraph=True, dynamic=False)
        started = time.perf_counter()
        _steps(model, ids, compiled, StaticCache(config=model.config, max_cache_len=length), 1)
        warm = time.perf_counter() - started
        eager, fast, same = [], [], True
        steps = min(tokens, length - len(ids) - 1)
        for _ in range(repeats):
            ms, mine = _steps(model, ids, model.forward, DynamicCache(config=model.config), steps)
            eager.append(ms)
            ms, theirs = _steps(model, ids, compiled, StaticCache(config=model.config, max_cache_len=length), steps)
            fast.append(ms)
            same = same and mine == theirs
        row = {"steps": steps, "eager_ms": round(statistics.median(eager), 2),
               "compiled_ms": round(statistics.median(fast), 2),
               "eager_over_compiled": round(statistics.median(eager) / statistics.median(fast), 3),
               "cold_compile_s": round(cold, 1), "warm_compile_s": round(warm, 1), "same_tokens": same}
        print(f"  {weights} L={length}: {row}", file=sys.stderr, flush=True)
        result["lengths"][str(length)] = row
    return result


def compare(repeats: int, tokens: int) -> dict:
    """Every weight path at every cache length, in this process, with its own empty Inductor cache."""
    with tempfile.TemporaryDirectory(prefix="stars-inductor-") as cache_dir:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache_dir
        return {"paths": [one_path(weights, repeats, tokens) for weights in WEIGHTS]}
