"""Any one-logit ``AutoModelForSequenceClassification`` used as a reward model.

This is how trained RMs (OpenAssistant's deberta RM, Skywork-Reward, ...) are
used: the prompt and the partial reply go in as a chat when the tokenizer has
a chat template, otherwise as a text pair; the single logit is the reward.
"""

from __future__ import annotations

import torch

from ..errors import StarsError


class ClassifierReward:
    rubric = None  # a trained model has no exemplars to edit

    def __init__(self, model, tokenizer, reward_id: str, batch_size: int = 8):
        labels = int(getattr(model.config, "num_labels", 0) or 0)
        if labels != 1:
            raise StarsError(f"reward model {reward_id} has {labels} outputs; a reward model needs exactly 1")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.reward_id = reward_id
        self.batch_size = batch_size
        self.device = next(model.parameters()).device
        self.max_length = min(int(getattr(tokenizer, "model_max_length", 512) or 512), 4096)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
            model.config.pad_token_id = tokenizer.pad_token_id

    def _encode(self, prompt: str, replies: list[str]):
        if getattr(self.tokenizer, "chat_template", None):
            texts = [
                self.tokenizer.apply_chat_template(
                    [{"role": "user", "content": prompt}, {"role": "assistant", "content": r}], tokenize=False
                )
                for r in replies
            ]
            return self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                                  return_tensors="pt")
        return self.tokenizer([prompt] * len(replies), replies, padding=True, truncation=True,
                              max_length=self.max_length, return_tensors="pt")

    @torch.inference_mode()
    def score(self, prompt: str, replies: list[str]) -> list[float]:
        out: list[float] = []
        for start in range(0, len(replies), self.batch_size):
            batch = self._encode(prompt, replies[start : start + self.batch_size]).to(self.device)
            logits = self.model(**batch).logits[:, 0]
            out.extend(round(float(x), 6) for x in logits.float())
        return out
