"""Held-out judges on vLLM servers: the chat judge on the served chat model, and ``rm:URL``.

``ServedChatJudge`` asks the served policy's model the in-process judge's
question (the same message, through the same chat template and tokenizer the
served runs use) and reads the log-probabilities of the answer tokens "A" and
"B" from the server (``backends/served/logprobs.py``: the top 20, and an exact
second request for a letter outside them). Their difference is the
difference of the two logits, the quantity the in-process judge reads, and the
verdict rule over both orders is the same (``judge.compare``). Its id names
the served model (``vllm:NAME``), so its verdicts are never mixed with the
in-process model's, whose arithmetic differs.

``rm:URL`` is a one-logit sequence-classification reward model on a vLLM
pooling server, scored by the served reward client (``/classify`` on token ids
made here with the RM's own tokenizer and chat template), so the judge scores
exactly as the same RM does as a guide. The tokenizer comes from the folder or
hub id the server was started on (``root`` in ``/v1/models``), which must be
on this machine (or in its hub cache).
"""

from __future__ import annotations

import threading
from typing import Any

from ..display.controls import one_line
from ..errors import StarsError
from .judge import CHAT_TIE_MARGIN, LETTERS, RewardJudge, chat_judge_id, judge_messages, single_token

URL_SCHEMES = ("http://", "https://")


class ServedChatJudge:
    """The chat judge on a served policy's model: logprob("A") - logprob("B") after the judging prompt.

    ``concurrent``: the bench keeps several verdicts in flight (each one waits on the server); the
    local tokenizer is shared, so encoding takes a lock.
    """

    concurrent = True

    def __init__(self, policy: Any, tie_margin: float = CHAT_TIE_MARGIN):
        self.encoding = threading.Lock()
        self.client = policy.client
        self.served_model = policy.served_model
        self.codec = policy.codec
        self.tie_margin = tie_margin
        self.judge_id = chat_judge_id(policy.model_id, tie_margin)
        self.letters = [single_token(self._encode(letter), letter) for letter in LETTERS]

    def _encode(self, text: str) -> list[int]:
        """``text`` as token ids, without special tokens: with the local tokenizer, else the server's."""
        from ..backends.served.replies import Tokenized

        tokenizer = getattr(self.codec, "tokenizer", None)
        if tokenizer is not None:
            return list(tokenizer.encode(text, add_special_tokens=False))
        payload = {"model": self.served_model, "prompt": text, "add_special_tokens": False}
        return self.client.post("/tokenize", payload, Tokenized).tokens

    def prefer(self, prompt: str, first: str, second: str) -> float:
        from ..backends.served.logprobs import next_token_logprobs

        with self.encoding:
            ids = self.codec.encode_chat(judge_messages(prompt, first, second))
        found = next_token_logprobs(self.client, self.served_model, ids, self.letters)
        a, b = (found[token] for token in self.letters)
        return a - b


def is_url(ref: str) -> bool:
    return ref.startswith(URL_SCHEMES)


def check_served_ref(ref: str) -> None:
    """``rm:URL``'s URL is well formed (nothing is asked of the server yet)."""
    from ..backends.served.client import check_url

    check_url(ref, "--judge rm:")


def served_rm_judge(url: str, allow_download: bool = False) -> RewardJudge:
    """The one model a vLLM pooling server at ``url`` serves, as a judge, checked with one scoring call."""
    from ..backends.served.client import ServerClient
    from ..backends.served.reward import served_reward

    client = ServerClient(url)
    names = client.served_models()
    if len(names) != 1:
        served = ", ".join(sorted(names)) or "nothing"
        raise StarsError(one_line(f"--judge rm:{client.base_url} needs a server of one model; it serves {served}"))
    card = client.model_card(names[0])
    if not card.root:
        raise StarsError(one_line(f"--judge rm:{client.base_url}: the server does not say which folder {card.id} "
                                  "was started on, so its tokenizer cannot be found here"))
    try:
        reward = served_reward(url, card.id, reward=card.root, allow_download=allow_download)
    except StarsError as exc:
        raise StarsError(one_line(f"--judge rm:{client.base_url} ({card.id}): {exc}")) from None
    return RewardJudge(reward)
