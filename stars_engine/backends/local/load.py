"""Load the chat model and the reward model in-process (transformers), on the device and dtype chosen here.

Every weight file is opened through ``weights.safe_load``; the bundled chat
model comes from ``weights.convert`` (its GGUF, converted once).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from ...errors import StarsError
from ...reward.rubric import Rubric, RubricReward
from ...weights.convert import default_policy_dir
from ...weights.safe_load import check_model, pretrained
from ...weights.sources import DEFAULT_POLICY_ID, DEFAULT_REWARD_ID, bundled_minilm
from . import runtime, weight_paths
from .classifier import ClassifierReward
from .embedder import LocalEmbedder
from .policy import TransformersPolicy

RUBRIC_ONLY_FOR_DEFAULT = "--rubric only applies to the default embedding reward, not to --reward models"


def pick_device(device: str | None = None) -> torch.device:
    """CUDA when present (or asked for), else CPU; a bad or absent device is a one-line error."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, ValueError):
        raise StarsError(f"unknown device {device!r}: use cpu, cuda or cuda:N") from None
    if not _device_present(chosen):
        raise StarsError(f"device {device!r} asked for, but this machine or torch build has no such device")
    return chosen


def _device_present(device: torch.device) -> bool:
    """Whether this torch build can put a model on ``device`` here."""
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        return torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()
    if device.type == "mps":
        return torch.backends.mps.is_available()
    if device.type == "xpu":
        return hasattr(torch, "xpu") and torch.xpu.is_available()
    return False


def dtype_for(device: torch.device) -> torch.dtype:
    """bf16 where the device computes it natively, else fp32 (``runtime.choose_dtype``)."""
    return runtime.choose_dtype(device)[0]


def reward_dtype_for(device: torch.device) -> torch.dtype:
    """bf16 for a reward model only on a GPU: its scores decide acceptance, and on a CPU bf16
    moved a small classifier's scores by up to 0.05, more than the speed is worth there."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def _quiet_transformers() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def load_policy(
    model: str | None = None,
    device: str | None = None,
    allow_download: bool = False,
    dtype: str | None = None,
    threads: int | None = None,
    weights: str | None = None,
) -> TransformersPolicy:
    """The bundled SmolLM2-135M-Instruct, or any causal LM by hub id or local path.

    ``dtype`` (auto, bf16, fp32), ``threads`` and ``weights`` (auto, dense, fp16,
    int4) override the per-machine choice (``backends/local/runtime.py``); the
    policy's ``runtime`` records what was used. On a CPU a model saved in fp32
    runs on the weight path measured fastest there (``weight_paths.py``).
    """
    _quiet_transformers()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    where = pick_device(device)
    chosen, _ = runtime.choose_dtype(where, dtype)
    if model is None:
        ref, model_id = str(default_policy_dir()), DEFAULT_POLICY_ID
        what = "the converted default chat model (delete it to convert it again)"
    else:
        ref, model_id, what = check_model(model, "chat model", allow_download), model, "chat model"
    tokenizer = pretrained(AutoTokenizer, ref, what, allow_download)
    settle = runtime.may_convert(where, weights) and _saved_dtype(ref) == "float32"
    lm = pretrained(AutoModelForCausalLM, ref, what, allow_download, dtype=torch.float32 if settle else chosen)
    chosen_runtime = runtime.apply(lm, where, dtype, threads)
    if settle:
        lm, chosen_runtime = weight_paths.settle(lm, tokenizer, chosen_runtime, dtype, weights, ref)
    return TransformersPolicy(lm.to(where), tokenizer, model_id, chosen_runtime)


def _saved_dtype(ref: str) -> str | None:
    """The dtype a local model folder was saved in; packing looks only at fp32 weights (None: unknown)."""
    try:
        config = json.loads((Path(ref) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    return config.get("dtype") or config.get("torch_dtype")


def load_reward(
    reward: str | None = None,
    rubric: Path | None = None,
    device: str | None = None,
    allow_download: bool = False,
) -> RubricReward | ClassifierReward:
    """The embedding rubric (default), or a one-logit sequence classifier by hub id or path, in-process.

    (``backends.reward.load_reward`` scores the same reward on a vLLM pooling server instead.)
    """
    _quiet_transformers()
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    where = pick_device(device)
    if reward is None:
        path = str(bundled_minilm())
        encoder = pretrained(AutoModel, path, "the bundled reward model", dtype=torch.float32).to(where)
        embedder = LocalEmbedder(encoder, pretrained(AutoTokenizer, path, "the bundled reward model"))
        return RubricReward(embedder, Rubric.load(rubric), DEFAULT_REWARD_ID)
    if rubric is not None:
        raise StarsError(RUBRIC_ONLY_FOR_DEFAULT)
    ref = check_model(reward, "reward model", allow_download)
    tokenizer = pretrained(AutoTokenizer, ref, "reward model", allow_download)
    classifier = pretrained(
        AutoModelForSequenceClassification, ref, "reward model", allow_download, dtype=reward_dtype_for(where)
    )
    return ClassifierReward(classifier.to(where), tokenizer, reward)


def check_choice(
    model: str | None = None,
    reward: str | None = None,
    rubric: Path | None = None,
    device: str | None = None,
    allow_download: bool = False,
) -> None:
    """Refuse a bad device, model, reward or rubric before any weights load (cheap: configs only)."""
    _quiet_transformers()
    pick_device(device)
    if reward is not None and rubric is not None:
        raise StarsError(RUBRIC_ONLY_FOR_DEFAULT)
    if rubric is not None:
        Rubric.load(rubric)
    for ref, what in ((model, "chat model"), (reward, "reward model")):
        if ref is not None:
            check_model(ref, what, allow_download)
