"""Cost of drawing one token per row, besides the model: the old warper chain vs ``sampler.draw``.

    .venv/bin/python benchmarks/sampler_cost.py [--rows 4] [--repeats 7] [--threads 1]

Before this work ``TransformersPolicy.sample`` rebuilt transformers' temperature /
top-k / top-p warpers every round and ran them on the whole vocabulary every
token (top-p sorts all 49,152 logits of SmolLM2), then ``torch.isin`` for EOS.
``sampler.draw`` takes the top-k slice first. Both run on the same bf16 logits,
alternating, 50 draws per repeat; the medians are reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from transformers import LogitsProcessorList
from transformers.generation.logits_process import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

import stars_engine  # noqa: F401 - first: it sets the OpenMP wait policy before torch loads
from stars_engine.backends.local.sampler import draw
from stars_engine.policy.base import Sampling

DRAWS = 50


def old_way(logits: torch.Tensor, sampling: Sampling, generator: torch.Generator, eos: torch.Tensor) -> None:
    chain = LogitsProcessorList([TemperatureLogitsWarper(sampling.temperature), TopKLogitsWarper(sampling.top_k),
                                 TopPLogitsWarper(sampling.top_p)])
    tokens = torch.multinomial(torch.softmax(chain(None, logits.float()), dim=-1), 1, generator=generator)
    torch.isin(tokens[:, 0], eos)


def new_way(logits: torch.Tensor, sampling: Sampling, generator: torch.Generator, eos: torch.Tensor) -> None:
    tokens = draw(logits, sampling, generator)
    (tokens == eos).any(dim=-1)


def ms_per_draw(way, logits, sampling, generator, eos) -> float:
    started = time.perf_counter()
    for _ in range(DRAWS):
        way(logits, sampling, generator, eos)
    return (time.perf_counter() - started) * 1000 / DRAWS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    logits = (torch.randn(args.rows, 49152) * 3).to(torch.bfloat16)
    sampling, generator, eos = Sampling(), torch.Generator().manual_seed(0), torch.tensor([0, 2])
    old, new = [], []
    for _ in range(args.repeats):
        old.append(ms_per_draw(old_way, logits, sampling, generator, eos))
        new.append(ms_per_draw(new_way, logits, sampling, generator, eos))
    o, n = statistics.median(old), statistics.median(new)
    print(json.dumps({"rows": args.rows, "threads": args.threads, "warpers_ms": round(o, 3),
                      "draw_ms": round(n, 3), "warpers_over_draw": round(o / n, 2)}, indent=2))


if __name__ == "__main__":
    main()
