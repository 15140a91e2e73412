"""Hostile and broken model folders, built in a temp folder (no weights are downloaded or loaded)."""

from __future__ import annotations

import json
import os
from pathlib import Path

TINY_LLAMA = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 64, "hidden_size": 16,
              "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1}

# Runs on import: if stars ever imports a folder's own Python, the folder's RAN file appears
# (transformers imports a copy from its modules cache, so the path is written in absolute).
EVIL_CODE = """
import pathlib
pathlib.Path({marker!r}).write_text("the folder's code ran")
from transformers import PretrainedConfig, PreTrainedModel
class EvilConfig(PretrainedConfig):
    model_type = "evil"
class EvilModel(PreTrainedModel):
    config_class = EvilConfig
"""


def _folder(root: Path, name: str, files: dict[str, str | bytes]) -> Path:
    folder = root / name
    folder.mkdir()
    if "evil.py" in files:
        files = {**files, "evil.py": EVIL_CODE.format(marker=str(folder / "RAN"))}
    for file, content in files.items():
        (folder / file).write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder


def custom_code(root: Path) -> Path:
    """A folder whose config.json points at its own Python (``auto_map``)."""
    auto_map = {"AutoConfig": "evil.EvilConfig", "AutoModelForCausalLM": "evil.EvilModel",
                "AutoModelForSequenceClassification": "evil.EvilModel"}
    return _folder(root, "custom-code", {"config.json": json.dumps({"model_type": "evil", "auto_map": auto_map}),
                                         "evil.py": EVIL_CODE})


def custom_tokenizer(root: Path) -> Path:
    """A known architecture whose tokenizer is the folder's own Python."""
    tok = {"auto_map": {"AutoTokenizer": ["evil.EvilTokenizer", None]}}
    return _folder(root, "custom-tokenizer", {"config.json": json.dumps(TINY_LLAMA),
                                              "tokenizer_config.json": json.dumps(tok), "evil.py": EVIL_CODE})


def random_safetensors(root: Path) -> Path:
    return _folder(root, "random-safetensors", {"config.json": json.dumps(TINY_LLAMA),
                                                "model.safetensors": os.urandom(4096)})


def garbage_bin(root: Path) -> Path:
    return _folder(root, "garbage-bin", {"config.json": json.dumps(TINY_LLAMA), "pytorch_model.bin": os.urandom(4096)})


def garbage_config(root: Path) -> Path:
    return _folder(root, "garbage-config", {"config.json": "{this is not json"})


BROKEN = {"random-safetensors": random_safetensors, "garbage-bin": garbage_bin, "garbage-config": garbage_config}
