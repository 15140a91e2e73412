"""The in-process transformers backend: load, runtime (dtype, threads, packing), policy, sampler, reward models."""
