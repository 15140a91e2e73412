"""A Hugging Face hub cache in a temporary folder, laid out as huggingface_hub lays it out.

``models--ORG--NAME/snapshots/COMMIT/`` holds the files, ``config.json`` as a
link into ``blobs/`` (as in a real cache), and ``refs/main`` names the commit.
Nothing is downloaded: the models are saved with ``save_pretrained``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def snapshot(cache: Path, repo_id: str, commit: str = COMMIT, main: bool = True) -> Path:
    """The (new, empty) snapshot folder of ``repo_id`` at ``commit``."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    folder = repo / "snapshots" / commit
    folder.mkdir(parents=True)
    if main:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / "main").write_text(commit)
    return folder


def link_config(folder: Path) -> None:
    """Move ``config.json`` into the repo's blobs and leave a link in its place, as the hub cache does."""
    blobs = folder.parent.parent / "blobs"
    blobs.mkdir(exist_ok=True)
    blob = blobs / f"config-{folder.name}"
    (folder / "config.json").rename(blob)
    (folder / "config.json").symlink_to(Path("../../blobs") / blob.name)


def write_config(folder: Path, config: dict[str, Any]) -> Path:
    (folder / "config.json").write_text(json.dumps(config))
    link_config(folder)
    return folder


def save_tiny_lm(folder: Path) -> Path:
    """``tiny_lm`` in a hub snapshot's layout (``config.json`` a link into ``blobs/``)."""
    tiny_lm(folder)
    link_config(folder)
    return folder


def tiny_lm(folder: Path) -> Path:
    """A randomly initialised 2-layer Llama with the default model's tokenizer, saved with ``save_pretrained``."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from stars_engine.weights.convert import default_policy_dir

    tokenizer = AutoTokenizer.from_pretrained(default_policy_dir())
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def config_only_cache(cache: Path) -> dict[str, Path]:
    """A cache of configs only (enough to list, not to load): a chat model, a one-output reward model,
    a two-label classifier and a bare encoder (neither listed), and a name written like markup."""
    found = {}
    for repo_id, config in [
        ("acme/tiny-chat", {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}),
        ("acme/[b]odd-chat", {"architectures": ["GPT2LMHeadModel", "MistralForCausalLM"]}),
        ("acme/tiny-rm", {"architectures": ["BertForSequenceClassification"], "id2label": {"0": "LABEL_0"}}),
        ("acme/sentiment", {"architectures": ["BertForSequenceClassification"],
                            "id2label": {"0": "NEGATIVE", "1": "POSITIVE"}}),
        ("acme/encoder", {"architectures": ["BertModel"]}),
    ]:
        found[repo_id] = write_config(snapshot(cache, repo_id), config)
    return found
