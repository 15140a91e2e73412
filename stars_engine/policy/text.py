"""Token ids to and from text, shared by every backend so a reply reads the same on each.

A candidate's text is decoded as a continuation of the reply, not on its own:
byte-level BPE and sentencepiece tokens only decode right with what came before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..errors import StarsError
from . import chat_template

Decode = Callable[[Sequence[int]], str]


def chat_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """The chat prompt as token ids, with the generation prompt; a plain transcript when there is no template."""
    if getattr(tokenizer, "chat_template", None):
        ids = chat_template.apply(tokenizer, messages, "chat model", add_generation_prompt=True, tokenize=True)
        if hasattr(ids, "keys"):  # a BatchEncoding in newer tokenizers
            ids = ids["input_ids"]
        return list(ids)
    text = "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"
    return tokenizer(text)["input_ids"]


# Reply tokens decoded in front of a candidate, so its text joins the reply as a
# whole decode would (a leading space, a character split across tokens), without
# decoding the whole reply for every candidate.
DECODE_CONTEXT = 8


def continuation(decode: Decode, reply_ids: Sequence[int], ids: Sequence[int]) -> str:
    """The text ``ids`` add after ``reply_ids``: decoded behind the reply's last few tokens, behind all of
    them where those few end inside a character, or alone when even that does not line up."""
    tail = list(reply_ids[-DECODE_CONTEXT:])
    before = decode(tail)
    after = decode([*tail, *ids])
    if after.startswith(before) and not before.endswith("\ufffd"):
        return after[len(before) :]
    before = decode(reply_ids)
    after = decode([*reply_ids, *ids])
    if after.startswith(before):
        return after[len(before) :]
    return decode(ids)


def check_fits(prompt_tokens: int, max_new_tokens: int, context_length: int) -> int:
    """Raise StarsError when prompt + reply cannot fit in the context (0 = unknown); return the prompt's size."""
    if context_length and prompt_tokens + max_new_tokens > context_length:
        raise StarsError(
            f"the prompt is {prompt_tokens} tokens; with max_new_tokens={max_new_tokens} it exceeds "
            f"the model's context of {context_length} tokens"
        )
    return prompt_tokens
