"""Load the chat model and the reward model a run uses.

The bundled chat model is a GGUF; converting it takes ~20 s, so the fp32
result is saved once in the user cache and later starts load it in ~2 s.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import torch

from . import models
from .errors import StarsError
from .policy.transformers_policy import TransformersPolicy
from .reward.classifier import ClassifierReward
from .reward.rubric import LocalEmbedder, Rubric, RubricReward


def pick_device(device: str | None = None) -> torch.device:
    """CUDA when present (or asked for), else CPU; a bad name is a one-line error."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError:
        raise StarsError(f"unknown device {device!r}: use cpu, cuda or cuda:N") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise StarsError(f"device {device!r} asked for, but no CUDA device is available")
    return chosen


def dtype_for(device: torch.device) -> torch.dtype:
    """bf16 on a GPU that supports it; fp32 on CPU, where bf16 matmuls are slower."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def _quiet_transformers() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _convert_default(target: Path) -> None:
    """De-quantise the bundled GGUF once and save it as safetensors in ``target``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = models.bundled_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
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


def load_policy(
    model: str | None = None, device: str | None = None, allow_download: bool = False
) -> TransformersPolicy:
    """The bundled SmolLM2-135M-Instruct, or any causal LM by hub id or local path."""
    _quiet_transformers()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    where = pick_device(device)
    if model is None:
        ref, model_id = str(default_policy_dir()), models.DEFAULT_POLICY_ID
    else:
        ref, model_id = models.resolve(model, "chat model"), model
    try:
        offline = not allow_download
        tokenizer = AutoTokenizer.from_pretrained(ref, local_files_only=offline)
        lm = AutoModelForCausalLM.from_pretrained(ref, dtype=dtype_for(where), local_files_only=offline)
    except (OSError, ValueError) as exc:
        if model is None:
            raise StarsError(f"the converted default model in {ref} is unreadable ({exc}); delete it") from None
        raise models.hub_error(model, "chat model", allow_download, exc) from None
    return TransformersPolicy(lm.to(where), tokenizer, model_id)


def load_reward(
    reward: str | None = None,
    rubric: Path | None = None,
    device: str | None = None,
    allow_download: bool = False,
    server: str | None = None,
    served_name: str | None = None,
):
    """The embedding rubric (default), or a one-logit sequence classifier by hub id or path.

    With ``server`` the same reward is scored on a vLLM pooling server instead
    (``served.reward``): the rubric's embedder, or the ``reward`` classifier.
    """
    _quiet_transformers()
    if server is not None:
        from .served.reward import served_reward

        return served_reward(server, served_name, reward=reward, rubric=rubric, allow_download=allow_download)
    if served_name is not None:
        raise StarsError("--served-reward needs --reward-server")
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    where = pick_device(device)
    if reward is None:
        path = models.bundled_minilm()
        encoder = AutoModel.from_pretrained(path, dtype=torch.float32).to(where)
        embedder = LocalEmbedder(encoder, AutoTokenizer.from_pretrained(path))
        return RubricReward(embedder, Rubric.load(rubric), models.DEFAULT_REWARD_ID)
    if rubric is not None:
        raise StarsError("--rubric only applies to the default embedding reward, not to --reward models")
    ref = models.resolve(reward, "reward model")
    try:
        offline = not allow_download
        tokenizer = AutoTokenizer.from_pretrained(ref, local_files_only=offline)
        classifier = AutoModelForSequenceClassification.from_pretrained(
            ref, dtype=dtype_for(where), local_files_only=offline
        )
    except (OSError, ValueError) as exc:
        raise models.hub_error(reward, "reward model", allow_download, exc) from None
    return ClassifierReward(classifier.to(where), tokenizer, reward)
