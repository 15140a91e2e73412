"""The small reward model the reward tests score with, in-process and on a vLLM server.

A randomly initialised one-logit ``LlamaForSequenceClassification`` with the
bundled chat model's tokenizer, so pairs go through a real chat template.
vLLM's CPU attention needs a head size of at least 32; this one has 64.
"""

from __future__ import annotations

from pathlib import Path


def build_tiny_rm(folder: Path) -> Path:
    """Save the model and tokenizer in ``folder`` as a hub-style model folder; return it."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    from stars_engine.weights.convert import default_policy_dir

    tokenizer = AutoTokenizer.from_pretrained(default_policy_dir())
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=1024, num_labels=1,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    model = LlamaForSequenceClassification(config)
    with torch.no_grad():
        model.score.weight.mul_(50)  # rewards of order 1, so a 1e-3 agreement means something
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
