"""How far the engine is from llama.cpp on the same 4-bit GGUF, measured side by side in one run.

    .venv/bin/pip install llama-cpp-python     # builds llama.cpp from source: minutes; not a dependency of stars
    .venv/bin/python benchmarks/llama_cpp_distance.py [--repeats 3] [--tokens 96]

Three sides, alternating per repeat (medians kept), all on the bundled SmolLM2-135M-Instruct,
the same chat prompt, sampling at temperature 0.8, top-p 0.95, top-k 50, EOS never drawn:

- ``engine_fp16``, ``engine_int4``: a vanilla run through the engine on each weight path
  (``runtime`` says which one the runtime chooses here);
- ``generate``: plain HF ``generate`` in fp32 on the dense weights (the issue's yardstick);
- ``llama_cpp_tN``: llama.cpp (through llama-cpp-python) on ``SmolLM2-135M-Instruct.Q4_1.gguf``
  itself, with N threads, its KV cache reset each time. Prefill is counted on every side.

The engine runs one thread (the runtime's choice for this model); llama.cpp is shown at one
thread to compare like with like, and at every core, as it would run by default.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from decode_rates import PROMPT, engine_tok_s, generate_tok_s

from stars_engine.backends.local import runtime
from stars_engine.backends.local.load import load_policy, load_reward
from stars_engine.params import Params
from stars_engine.weights.sources import bundled_gguf


def llama_tok_s(llm, ids: list[int], tokens: int, seed: int, eos: int) -> float:
    """Tokens per second of llama.cpp drawing ``tokens`` tokens after the prompt ``ids``."""
    llm.set_seed(seed)
    drawn = 0
    started = time.perf_counter()
    for _ in llm.generate(ids, top_k=50, top_p=0.95, temp=0.8, reset=True,
                          logits_processor=[lambda _ids, scores: _no_eos(scores, eos)]):
        drawn += 1
        if drawn == tokens:
            break
    return drawn / (time.perf_counter() - started)


def _no_eos(scores, eos: int):
    scores[eos] = -float("inf")
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=96)
    args = parser.parse_args()
    try:
        from llama_cpp import Llama
    except ImportError:
        sys.exit("llama-cpp-python is not installed: .venv/bin/pip install llama-cpp-python")

    policy = load_policy(None)  # the runtime's choice: one side, and the record of why
    engines = {f"engine_{path}": policy if policy.runtime.get("weights") == path else load_policy(None, weights=path)
               for path in ("fp16", "int4")}
    dense = load_policy(None, weights="dense")
    reward = load_reward()
    ids = policy.encode_chat(PROMPT)
    eos = policy.eos_ids[0]
    cores = runtime.usable_cores()
    llamas = {f"llama_cpp_t{n}": Llama(str(bundled_gguf()), n_ctx=512, n_threads=n, n_threads_batch=n, seed=0,
                                       verbose=False) for n in sorted({1, cores})}
    # EOS can still end the engine's run early: tok/s is tokens over seconds either way
    vanilla = Params(strategy="vanilla", segment_tokens=16, max_new_tokens=args.tokens)
    sides = {
        **{name: (lambda i, p=p: engine_tok_s(p, reward, vanilla.with_changes(seed=i))) for name, p in engines.items()},
        "generate": lambda i: generate_tok_s(dense, args.tokens, i),
        **{name: (lambda i, llm=llm: llama_tok_s(llm, ids, args.tokens, i, eos)) for name, llm in llamas.items()},
    }
    rates: dict[str, list[float]] = {name: [] for name in sides}
    for i in range(args.repeats):
        for name, side in sides.items():
            rates[name].append(side(i))
        print(f"  repeat {i}: " + ", ".join(f"{n} {r[-1]:.1f}" for n, r in rates.items()), file=sys.stderr, flush=True)
    median = {name: statistics.median(r) for name, r in rates.items()}
    report = {
        "tok_s": {name: round(v, 2) for name, v in median.items()},
        **{f"{e}_over_generate": round(median[e] / median["generate"], 3) for e in engines},
        **{f"{e}_over_{name}": round(median[e] / median[name], 3) for e in engines for name in llamas},
        "tokens": args.tokens, "repeats": args.repeats, "runtime": policy.runtime,
        "bf16_flags": runtime.cpu_bf16_flags(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
