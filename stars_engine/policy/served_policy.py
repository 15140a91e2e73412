"""Chat model backend on a served model (vLLM's OpenAI-compatible completions API).

The accepted prefix lives here as token ids and is sent whole with every round:
``prompt=<prefix ids>``, ``n=k``, ``max_tokens=<segment>``, and the ids come back
exactly (``return_tokens_as_token_ids``). Nothing is freed on a rejected round;
the server's prefix cache makes resending the prefix cheap. Each round's seed is
derived from the run's seed and the round number, so a seed gives the same reply.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from typing import Any

from ..errors import StarsError
from ..served.client import ServerClient, ServerError
from .base import Candidate, Sampling
from .text import Decode, chat_ids, check_fits, continuation


class LocalCodec:
    """Prompt and text with the model's tokenizer from local files (no request per decode)."""

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer

    def encode_chat(self, messages: list[dict[str, str]]) -> list[int]:
        return chat_ids(self.tokenizer, messages)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)


class ServerCodec:
    """Prompt and text with the server's own tokenizer (``/tokenize``, ``/detokenize``)."""

    def __init__(self, client: ServerClient, served_model: str):
        self.client = client
        self.served_model = served_model

    def encode_chat(self, messages: list[dict[str, str]]) -> list[int]:
        reply = self.client.post(
            "/tokenize", {"model": self.served_model, "messages": messages, "add_generation_prompt": True}
        )
        return list(_field(reply, "tokens", self.client, "/tokenize"))

    def decode(self, ids: Sequence[int]) -> str:
        if not ids:
            return ""
        reply = self.client.post("/detokenize", {"model": self.served_model, "tokens": list(ids)})
        return _field(reply, "prompt", self.client, "/detokenize")


def round_seed(seed: int, round_no: int) -> int:
    """A per-round seed from the run's seed: fixed for a seed, different for every round."""
    digest = hashlib.blake2b(f"{seed}:{round_no}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


class ServedPolicy:
    """One run at a time on one server (a replica), the prefix kept as token ids."""

    backend = "vllm"

    def __init__(
        self, client: ServerClient, served_model: str, codec: LocalCodec | ServerCodec, context_length: int = 0
    ):
        self.client = client
        self.server_url = client.base_url
        self.served_model = served_model
        self.model_id = f"vllm:{served_model}"  # not the in-process id: a bench never mixes their cells
        self.codec = codec
        self.context_length = context_length
        self.forward_passes = 0
        self.requests: list[dict[str, Any]] = []  # the last run's completion requests (for inspection)
        self._reset([], 0)

    def _reset(self, prompt_ids: list[int], seed: int) -> None:
        self.prompt_ids = prompt_ids
        self.reply_ids: list[int] = []  # every accepted id, EOS included: what the next round extends
        self._text_ids: list[int] = []  # the same without EOS: what the reply's text is decoded from
        self.seed = seed
        self.rounds = 0
        self._reply_text = ""

    def check_prompt(self, messages: list[dict[str, str]], max_new_tokens: int) -> int:
        return check_fits(len(self.codec.encode_chat(messages)), max_new_tokens, self.context_length)

    def start(self, messages: list[dict[str, str]], seed: int) -> int:
        ids = self.codec.encode_chat(messages)
        if not ids:
            raise StarsError("the prompt encodes to no tokens")
        self._reset(ids, seed)
        self.requests = []
        return len(ids)

    def sample(
        self, n: int, max_tokens: int, sampling: Sampling, cancel: threading.Event | None = None
    ) -> list[Candidate]:
        """One completions request for the round; ``cancel`` takes effect at the next round."""
        payload = {
            "model": self.served_model,
            "prompt": [*self.prompt_ids, *self.reply_ids],
            "n": n,
            "max_tokens": max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "top_k": sampling.top_k if sampling.top_k > 0 else -1,
            "seed": round_seed(self.seed, self.rounds),
            "logprobs": 0,
            "return_tokens_as_token_ids": True,
        }
        self.rounds += 1
        self.requests.append(payload)
        reply = self.client.post("/v1/completions", payload)
        choices = sorted(_field(reply, "choices", self.client, "/v1/completions"), key=lambda c: c.get("index", 0))
        if len(choices) != n:
            raise ServerError(self.server_url, f"asked for {n} completions, got {len(choices)}")
        rows = [self._row(choice) for choice in choices]
        self.forward_passes += max((len(ids) for ids, _ in rows), default=0)
        return [Candidate(token_ids=tuple(ids), text=self._text(ids, eos), eos=eos) for ids, eos in rows]

    def _row(self, choice: dict[str, Any]) -> tuple[list[int], bool]:
        """A choice's token ids (``token_id:N`` strings) and whether it ended at EOS."""
        try:
            tokens = choice["logprobs"]["tokens"]
            ids = [int(t.removeprefix("token_id:")) for t in tokens]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ServerError(
                self.server_url, "the reply has no token ids: does the server support return_tokens_as_token_ids?"
            ) from None
        return ids, choice.get("finish_reason") == "stop"

    def _text(self, ids: list[int], eos: bool) -> str:
        """The candidate's text as a continuation of the reply, without its EOS token."""
        return continuation(self._decode, self._text_ids, _without_eos(ids, eos))

    def _decode(self, ids: Sequence[int]) -> str:
        if list(ids) == self._text_ids:  # the reply so far is decoded once per commit, not once per candidate
            return self._reply_text
        return self.codec.decode(ids)

    def commit(self, candidate: Candidate) -> None:
        self.reply_ids.extend(candidate.token_ids)
        self._text_ids.extend(_without_eos(list(candidate.token_ids), candidate.eos))
        self._reply_text = self.codec.decode(self._text_ids)

    def discard(self) -> None:
        """Nothing to free: the next round resends the prefix and the server's cache finds it."""

    def prefix_text(self) -> str:
        return self._reply_text


def _without_eos(ids: list[int], eos: bool) -> list[int]:
    return ids[:-1] if eos and ids else ids


def _field(reply: Any, key: str, client: ServerClient, path: str) -> Any:
    try:
        return reply[key]
    except (KeyError, TypeError):
        raise ServerError(client.base_url + path, f"the reply has no {key!r}") from None


__all__ = ["Decode", "LocalCodec", "ServedPolicy", "ServerCodec", "round_seed"]
