"""How a (prompt, partial reply) pair becomes a reward model's input, in one place.

The in-process ``ClassifierReward`` and the served one both call
``pair_ids``, so a served RM sees exactly the token ids the local one sees.
A tokenizer with a chat template gets the pair as a two-turn chat, rendered by
the template alone (no special tokens added on top: templates such as
Llama 3's already begin with BOS, and a second BOS shifts the score). A
tokenizer without one gets a text pair (``[CLS] prompt [SEP] reply [SEP]``).
"""

from __future__ import annotations

from ..policy import chat_template

MAX_LENGTH_CAP = 4096


def has_chat_template(tokenizer) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def max_length(tokenizer) -> int:
    """The tokenizer's limit, capped (many report a huge sentinel value)."""
    return min(int(getattr(tokenizer, "model_max_length", 512) or 512), MAX_LENGTH_CAP)


def pair_ids(tokenizer, prompt: str, reply: str, limit: int) -> dict[str, list[int]]:
    """Token ids (and token types, for a text pair) of one pair, cut at ``limit`` tokens."""
    if has_chat_template(tokenizer):
        chat = [{"role": "user", "content": prompt}, {"role": "assistant", "content": reply}]
        encoded = chat_template.apply(tokenizer, chat, "reward model", tokenize=True, truncation=True, max_length=limit)
        ids = encoded["input_ids"] if hasattr(encoded, "keys") else encoded  # a BatchEncoding in transformers 5
        return {"input_ids": list(ids)}
    encoded = tokenizer(prompt, reply, truncation=True, max_length=limit)
    return {key: list(value) for key, value in encoded.items() if key in ("input_ids", "token_type_ids")}
