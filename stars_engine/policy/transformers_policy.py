"""Chat model backend on transformers, with the accepted prefix's KV cache kept between rounds.

Cache invariant: ``self.cache`` holds every prefix token but the last, which
waits in ``self.pending``. A round feeds ``pending`` (batched ``n`` times) and
then each sampled token, so after ``S`` steps the cache has grown by ``S``
positions, the last sampled token never fed. Committing candidate ``i`` of
length ``L`` keeps row ``i`` and crops ``S - L`` positions: the cache again
holds the new prefix but its last token, which becomes ``pending``.
Discarding crops all ``S`` positions. The prefix is never encoded twice.
"""

from __future__ import annotations

import inspect
import threading

import torch
from transformers import DynamicCache, LogitsProcessorList
from transformers.generation.logits_process import (
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from ..errors import StarsError
from .base import Candidate, Sampling
from .text import chat_ids, check_fits, continuation


def warpers(sampling: Sampling) -> LogitsProcessorList:
    """The same temperature / top-k / top-p warpers ``model.generate`` applies."""
    chain = LogitsProcessorList()
    if sampling.temperature != 1.0:
        chain.append(TemperatureLogitsWarper(sampling.temperature))
    if sampling.top_k > 0:
        chain.append(TopKLogitsWarper(sampling.top_k))
    if sampling.top_p < 1.0:
        chain.append(TopPLogitsWarper(sampling.top_p))
    return chain


class TransformersPolicy:
    """A causal LM plus its tokenizer, sampling segments for one run at a time."""

    backend = "transformers"
    server_url = ""
    served_model = ""

    def __init__(self, model, tokenizer, model_id: str):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.device = next(model.parameters()).device
        self.forward_passes = 0
        self.context_length = int(getattr(model.config, "max_position_embeddings", 0) or 0)
        eos = model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else [eos] if eos is not None else []
        if tokenizer.eos_token_id is not None:
            eos.append(tokenizer.eos_token_id)
        self.eos_ids = sorted(set(eos))
        self._eos = torch.tensor(self.eos_ids, device=self.device)
        # transformers 5.2x renamed ``past_key_values`` to ``cache``; accept either
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._reset()

    # -- prompt ---------------------------------------------------------------

    def encode_chat(self, messages: list[dict[str, str]]) -> list[int]:
        return chat_ids(self.tokenizer, messages)

    def check_prompt(self, messages: list[dict[str, str]], max_new_tokens: int) -> int:
        """Raise StarsError when prompt + reply cannot fit in the model's context."""
        return check_fits(len(self.encode_chat(messages)), max_new_tokens, self.context_length)

    def _reset(self) -> None:
        self.cache = DynamicCache(config=self.model.config)
        self.pending: int | None = None
        self.reply_ids: list[int] = []
        self._round: list[Candidate] = []
        self._steps = 0
        self._rows = 1

    @torch.inference_mode()
    def start(self, messages: list[dict[str, str]], seed: int) -> int:
        self._reset()
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        ids = self.encode_chat(messages)
        if not ids:
            raise StarsError("the prompt encodes to no tokens")
        if len(ids) > 1:
            self._forward(torch.tensor([ids[:-1]], device=self.device))
        self.pending = ids[-1]
        return len(ids)

    # -- sampling -------------------------------------------------------------

    def _forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        self.forward_passes += 1
        out = self.model(input_ids=input_ids, use_cache=True, **{self._cache_kw: self.cache})
        return out.logits[:, -1, :]

    def _set_rows(self, n: int) -> None:
        """Make the cache hold ``n`` identical copies of the prefix."""
        if self._rows == n:
            return
        if self._rows != 1:
            self.cache.batch_select_indices(torch.tensor([0], device=self.device))
        if n != 1:
            self.cache.batch_repeat_interleave(n)
        self._rows = n

    @torch.inference_mode()
    def sample(
        self, n: int, max_tokens: int, sampling: Sampling, cancel: threading.Event | None = None
    ) -> list[Candidate]:
        if self.pending is None:
            raise RuntimeError("sample() before start()")
        self._drop_round()
        self._set_rows(n)
        chain = warpers(sampling)
        tokens = torch.full((n, 1), self.pending, dtype=torch.long, device=self.device)
        drawn: list[torch.Tensor] = []
        finished = torch.zeros(n, dtype=torch.bool, device=self.device)
        for _ in range(max_tokens):
            logits = self._forward(tokens).float()
            probs = torch.softmax(chain(tokens, logits), dim=-1)
            tokens = torch.multinomial(probs, 1, generator=self.generator)
            drawn.append(tokens[:, 0])
            finished |= torch.isin(tokens[:, 0], self._eos)
            if bool(finished.all()) or (cancel is not None and cancel.is_set()):
                break
        self._steps = len(drawn)
        self._round = [self._candidate(row) for row in torch.stack(drawn, dim=1).tolist()]
        return list(self._round)

    def _candidate(self, row: list[int]) -> Candidate:
        """Cut a sampled row at its first EOS and decode it as a continuation of the reply."""
        eos_at = next((i for i, t in enumerate(row) if t in self.eos_ids), None)
        ids = row if eos_at is None else row[: eos_at + 1]
        return Candidate(token_ids=tuple(ids), text=self._continuation(ids), eos=eos_at is not None)

    def _continuation(self, ids: list[int]) -> str:
        return continuation(self._decode, self.reply_ids, ids)

    def _decode(self, ids) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def prefix_text(self) -> str:
        return self._decode(self.reply_ids)

    # -- committing -----------------------------------------------------------

    def _drop_round(self) -> None:
        if self._steps:
            self.cache.crop(-self._steps)
        self._steps = 0
        self._round = []

    def discard(self) -> None:
        self._drop_round()

    @torch.inference_mode()
    def commit(self, candidate: Candidate) -> None:
        ids = list(candidate.token_ids)
        if not ids:
            self._drop_round()
            return
        row = next((i for i, c in enumerate(self._round) if c is candidate), None)
        if row is None:
            # an earlier round's candidate (an exhausted segment's best): encode it once
            self._drop_round()
            self._set_rows(1)
            self._forward(torch.tensor([[self.pending, *ids[:-1]]], device=self.device))
        else:
            self.cache.batch_select_indices(torch.tensor([row], device=self.device))
            self._rows = 1
            if self._steps > len(ids):
                self.cache.crop(-(self._steps - len(ids)))
            self._steps = 0
            self._round = []
        self.reply_ids.extend(ids)
        self.pending = ids[-1]
