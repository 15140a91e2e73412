"""The bundled chat model, made loadable: its GGUF de-quantised once into fp32 safetensors.

Converting takes ~20 s, so the result is saved in the user cache and later
starts load it in ~2 s. The quantizer is cleared first so the copy loads as a
plain model (that the weights were exactly 4-bit is found again by packing).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import torch

from . import sources as models
from .safe_load import pretrained


def _convert_default(target: Path) -> None:
    """De-quantise the bundled GGUF once and save it as safetensors in ``target``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = models.bundled_gguf()
    folder, what = str(gguf.parent), "the bundled chat model"
    tokenizer = pretrained(AutoTokenizer, folder, what, gguf_file=gguf.name)
    model = pretrained(AutoModelForCausalLM, folder, what, gguf_file=gguf.name, dtype=torch.float32)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def default_policy_dir() -> Path:
    """The converted default chat model, converting it on first use."""
    target = models.cache_dir() / models.CONVERTED_NAME
    if not (target / "config.json").is_file():
        print(f"converting the bundled chat model once into {target} (about 20 s)…", file=sys.stderr)
        _convert_default(target)
    return target
