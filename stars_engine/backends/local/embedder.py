"""The rubric's embedder in-process: mean-pooled sentence vectors from a BERT-style encoder (MiniLM)."""

from __future__ import annotations

import threading

import torch

from ...reward.rubric import embedding_ids


class LocalEmbedder:
    """Mean-pooled, L2-normalised sentence embeddings from a BERT-style encoder, in-process."""

    server_url = served_model = ""

    def __init__(self, model, tokenizer, batch_size: int = 32):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.device = next(model.parameters()).device
        self.batch_size = batch_size
        self._lock = threading.Lock()  # one model, one tokenizer: concurrent runs take turns

    @torch.inference_mode()
    def __call__(self, texts: list[str]) -> torch.Tensor:
        chunks = []
        with self._lock:
            for start in range(0, len(texts), self.batch_size):
                ids = embedding_ids(self.tokenizer, texts[start : start + self.batch_size])
                batch = self.tokenizer.pad({"input_ids": ids}, return_tensors="pt").to(self.device)
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                chunks.append(torch.nn.functional.normalize(pooled.float(), dim=-1))
        return torch.cat(chunks)
