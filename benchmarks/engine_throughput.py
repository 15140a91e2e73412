"""Engine throughput on the real default models, reported as ratios measured in one run.

    .venv/bin/python benchmarks/engine_throughput.py [--repeats 3] [--tokens 96] [--model PATH] [--device cuda]
    .venv/bin/python benchmarks/engine_throughput.py --random-init 1.7b --device cuda   # GPU check, no download
    .venv/bin/python benchmarks/engine_throughput.py --random-init 1.7b --device cpu --tokens 8 --repeats 1
    .venv/bin/python benchmarks/engine_throughput.py --speedup [--before REF] [--repeats 3]
    .venv/bin/python benchmarks/engine_throughput.py --threads-compare [--repeats 3]
    .venv/bin/python benchmarks/engine_throughput.py --try-compile [--repeats 3] [--tokens 64]
    .venv/bin/python benchmarks/engine_throughput.py --weights-compare [--repeats 3] [--tokens 96]
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 FBGEMM_ENABLE_INSTRUCTIONS=AVX2 \
        .venv/bin/python benchmarks/engine_throughput.py --weights-compare   # AVX-512 CPU capped to AVX2

``--speedup`` (before / old defaults / dense weights / now) and ``--threads-compare`` (1 or 2
threads, PASSIVE or ACTIVE OpenMP waits) alternate their sides per repeat and
keep medians; see ``speed_sides.py``. ``--weights-compare`` runs the weight paths (dense fp32 and
bf16, fp16, packed int4, and the rejected dynamic int8) side by side against HF ``generate`` in fp32;
see ``weight_sides.py``.

1. vanilla tok/s (the engine, reward scoring at segment boundaries included)
   / ``model.generate`` tok/s, same model, sampling, length; target >= 0.9
2. attempts/s with candidates_per_round = 4 / with 1 (nothing passes the
   threshold, so every attempt is drawn); target >= 2
3. policy seconds per segment at segment 1 and at segment 12 of one long
   reply: flat, because the accepted prefix's KV cache is reused.
4. policy tok/s sampling 1 candidate, and 4 candidates as one batch (in
   total); the GPU goals are >= 100 and >= 3x that.

Runs alternate between the two sides of each ratio and the median is kept,
so drift in machine load hits both sides alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import compile_sides
import speed_sides
import weight_sides
from decode_rates import PROMPT, engine_tok_s, generate_tok_s, sample_tok_s

from stars_engine.backends.local import runtime
from stars_engine.backends.local.load import dtype_for, load_policy, load_reward, pick_device
from stars_engine.backends.local.policy import TransformersPolicy
from stars_engine.engine import run
from stars_engine.events import RunFinished
from stars_engine.params import Params
from stars_engine.policy.base import Sampling
from stars_engine.weights.convert import default_policy_dir

# SmolLM2 shapes, for randomly initialised stand-ins of the same size (timing only).
SHAPES = {
    "135m": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                 num_key_value_heads=3, rope_theta=100000.0),
    "1.7b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=24, num_attention_heads=32,
                 num_key_value_heads=32, rope_theta=130000.0),
}


def random_policy(size: str, device: str | None) -> TransformersPolicy:
    """A SmolLM2-shaped model with random weights and the real tokenizer (bf16 on GPU)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    where = pick_device(device)
    tokenizer = AutoTokenizer.from_pretrained(default_policy_dir())
    config = LlamaConfig(vocab_size=len(tokenizer), max_position_embeddings=8192, tie_word_embeddings=True,
                         eos_token_id=tokenizer.eos_token_id, **SHAPES[size])
    torch.manual_seed(0)
    with torch.device(where):  # built on the device and in its dtype: a 1.7B model in fp32 is 6.8 GB
        model = LlamaForCausalLM._from_config(config, dtype=dtype_for(where))
    chosen = runtime.apply(model, where, None, None)
    return TransformersPolicy(model, tokenizer, f"random SmolLM2-{size} shape ({chosen.dtype})", chosen)


def attempts_per_s(policy, reward, candidates: int, seed: int) -> float:
    params = Params(seed=seed, threshold=9.0, threshold_mode="fixed", segment_tokens=16, max_new_tokens=16,
                    max_attempts=8, candidates_per_round=candidates)
    finished = [e for e in run(policy, reward, PROMPT, params) if isinstance(e, RunFinished)][0]
    return finished.stats.attempts / finished.stats.wall_seconds


def segment_costs(policy, segments: int, segment_tokens: int, seed: int) -> list[float]:
    """Seconds of policy work (sample + commit) for each segment of one long reply."""
    policy.start(PROMPT, seed)
    costs = []
    for _ in range(segments):
        started = time.perf_counter()
        candidates = policy.sample(1, segment_tokens, Sampling())
        policy.commit(candidates[0])
        costs.append(time.perf_counter() - started)
    return costs


def median_ratio(numerator, denominator, repeats: int) -> tuple[float, float, float]:
    tops, bottoms = [], []
    for i in range(repeats):
        tops.append(numerator(i))
        bottoms.append(denominator(i))
        print(f"  repeat {i}: {tops[-1]:.2f} vs {bottoms[-1]:.2f}", file=sys.stderr, flush=True)
    top, bottom = statistics.median(tops), statistics.median(bottoms)
    return top, bottom, top / bottom


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=96)
    parser.add_argument("--model", default=None, help="chat model path (default: the bundled one)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--random-init", choices=sorted(SHAPES), help="a random model of this SmolLM2 size")
    parser.add_argument("--json", dest="as_json", action="store_true")
    parser.add_argument("--speedup", action="store_true",
                        help="before (--before REF) / old defaults / dense weights / now, alternating in one process")
    parser.add_argument("--before", default="62f9daa", help="git ref of the code before the speed work")
    parser.add_argument("--threads-compare", action="store_true", help="1 vs 2 threads, PASSIVE vs ACTIVE waits")
    parser.add_argument("--reply-tokens", type=int, default=128, help="STARS reply length for the process sides")
    parser.add_argument("--try-compile", action="store_true",
                        help="the eager step vs one compiled for a static KV cache, per weight path and cache length")
    parser.add_argument("--weights-compare", action="store_true",
                        help="dense / fp16 / int4 / int8 weights and HF generate fp32, side by side")
    args = parser.parse_args()
    if args.weights_compare:
        print(json.dumps(weight_sides.compare(args.repeats, args.tokens), indent=2))
        return
    if args.try_compile:
        print(json.dumps(compile_sides.compare(args.repeats, args.tokens), indent=2))
        return
    if args.speedup:
        report = speed_sides.speedup(args.before, runtime.usable_cores(), args.repeats, args.tokens, args.reply_tokens)
    elif args.threads_compare:
        report = speed_sides.threads(args.repeats, args.tokens, args.reply_tokens)
    if args.speedup or args.threads_compare:
        print(json.dumps(report, indent=2))
        return

    policy = random_policy(args.random_init, args.device) if args.random_init else load_policy(args.model, args.device)
    reward = load_reward(device=args.device)
    segment_costs(policy, 2, 8, 0)  # warm-up
    vanilla = Params(strategy="vanilla", segment_tokens=16, max_new_tokens=args.tokens)

    engine, generate, r1 = median_ratio(
        lambda i: engine_tok_s(policy, reward, vanilla.with_changes(seed=i)),
        lambda i: generate_tok_s(policy, args.tokens, i),
        args.repeats,
    )
    batched, single, r2 = median_ratio(
        lambda i: attempts_per_s(policy, reward, 4, i), lambda i: attempts_per_s(policy, reward, 1, i), args.repeats
    )
    runs = [segment_costs(policy, 12, 16, seed) for seed in range(args.repeats)]
    first = statistics.median(r[0] for r in runs)
    twelfth = statistics.median(r[11] for r in runs)
    four, one, r4 = median_ratio(
        lambda i: sample_tok_s(policy, 4, args.tokens, i), lambda i: sample_tok_s(policy, 1, args.tokens, i),
        args.repeats,
    )

    report = {
        "device": str(policy.device),
        "model": policy.model_id,
        "vanilla_tok_s": round(engine, 2),
        "generate_tok_s": round(generate, 2),
        "vanilla_over_generate": round(r1, 3),
        "attempts_s_4_per_round": round(batched, 2),
        "attempts_s_1_per_round": round(single, 2),
        "batched_over_single": round(r2, 3),
        "segment_1_policy_s": round(first, 4),
        "segment_12_policy_s": round(twelfth, 4),
        "segment_12_over_1": round(twelfth / first, 3),
        "sample_1_tok_s": round(one, 2),
        "sample_4_tok_s_total": round(four, 2),
        "sample_4_over_1": round(r4, 3),
        "runtime": policy.runtime,
    }
    if args.as_json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:>24}: {value}")


if __name__ == "__main__":
    main()
