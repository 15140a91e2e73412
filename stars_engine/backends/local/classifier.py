"""Any one-logit ``AutoModelForSequenceClassification`` used as a reward model.

This is how trained RMs (OpenAssistant's deberta RM, Skywork-Reward, ...) are
used: each (prompt, partial reply) pair becomes token ids through
``pairs.pair_ids`` (the served RM uses the same function), and the single logit
is the reward.
"""

from __future__ import annotations

import threading

import torch

from ...errors import StarsError
from ...reward.pairs import max_length, pair_ids


class ClassifierReward:
    rubric = None  # a trained model has no exemplars to edit
    server_url = served_model = ""  # in-process

    def __init__(self, model, tokenizer, reward_id: str, batch_size: int = 8):
        labels = int(getattr(model.config, "num_labels", 0) or 0)
        if labels != 1:
            raise StarsError(f"reward model {reward_id} has {labels} outputs; a reward model needs exactly 1")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.reward_id = reward_id
        self.batch_size = batch_size
        self.device = next(model.parameters()).device
        self.max_length = max_length(tokenizer)
        self._lock = threading.Lock()  # one model, one tokenizer: concurrent runs take turns
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
            model.config.pad_token_id = tokenizer.pad_token_id

    def _encode(self, prompt: str, replies: list[str]):
        pairs = [pair_ids(self.tokenizer, prompt, r, self.max_length) for r in replies]
        return self.tokenizer.pad(pairs, padding=True, return_tensors="pt")

    @torch.inference_mode()
    def score(self, prompt: str, replies: list[str]) -> list[float]:
        out: list[float] = []
        with self._lock:
            for start in range(0, len(replies), self.batch_size):
                batch = self._encode(prompt, replies[start : start + self.batch_size]).to(self.device)
                logits = self.model(**batch).logits[:, 0]
                out.extend(round(float(x), 6) for x in logits.float())
        return out
