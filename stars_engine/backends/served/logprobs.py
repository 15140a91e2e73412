"""The log-probabilities a served chat model gives chosen next tokens, read exactly.

The held-out chat judge compares two answer tokens ("A", "B") after a prompt.
One completions request with ``max_tokens=1, logprobs=20`` returns the 20 most
likely next tokens with their log-probabilities, keyed by token id
(``return_tokens_as_token_ids``); a chat model asked to answer with a letter
nearly always ranks both letters there. A chosen token missing from that list
is never guessed (no floor, no zero): it is asked for exactly, in a second
request whose prompt ends with that token and which asks for
``prompt_logprobs``, where vLLM reports each prompt token's own log-probability
whatever its rank. Both are vLLM's raw log-softmax of the logits (its default
``logprobs_mode``), so the difference of two is the difference of their logits,
which is what the in-process judge reads.
"""

from __future__ import annotations

from collections.abc import Sequence

from .client import ServerClient, ServerError
from .replies import ScoredChoice, ScoredCompletion

TOP = 20  # vLLM's default --max-logprobs: the most a server allows without being told to


def next_token_logprobs(
    client: ServerClient, model: str, prompt: Sequence[int], tokens: Sequence[int]
) -> dict[int, float]:
    """{token: log-probability of it coming next after ``prompt``} for each of ``tokens``.

    One request when every token is in the top ``TOP``; one more per token that is not.
    """
    payload = {
        "model": model, "prompt": list(prompt), "max_tokens": 1, "temperature": 0.0, "logprobs": TOP,
        "return_tokens_as_token_ids": True,
    }  # fmt: skip
    choice = _one_choice(client, payload)
    if choice.logprobs is None or len(choice.logprobs.top_logprobs) != 1:
        raise ServerError(client.base_url, "asked for one token's top log-probabilities, the reply has none")
    top = {_token_id(key, client.base_url): value for key, value in choice.logprobs.top_logprobs[0].items()}
    return {token: top[token] if token in top else prompt_logprob(client, model, prompt, token) for token in tokens}


def prompt_logprob(client: ServerClient, model: str, prompt: Sequence[int], token: int) -> float:
    """The log-probability of ``token`` right after ``prompt``, as the prompt's last token (any rank)."""
    ids = [*prompt, token]
    payload = {"model": model, "prompt": ids, "max_tokens": 1, "temperature": 0.0, "prompt_logprobs": 0}
    found = _one_choice(client, payload).prompt_logprobs
    last = found[-1] if found is not None and len(found) == len(ids) else None
    if last is None or str(token) not in last:
        raise ServerError(client.base_url, f"asked for the prompt's log-probabilities, the reply has none for "
                                           f"token {token}")
    return last[str(token)].logprob


def _one_choice(client: ServerClient, payload: dict) -> ScoredChoice:
    choices = client.post("/v1/completions", payload, ScoredCompletion).choices
    if len(choices) != 1:
        raise ServerError(client.base_url, f"asked for 1 completion, got {len(choices)}")
    return choices[0]


def _token_id(key: str, where: str) -> int:
    number = key.removeprefix("token_id:")
    if not (number.isascii() and number.isdigit()):
        raise ServerError(where, f"a top log-probability is keyed {key!r}, not token_id:N: does the server "
                                 "support return_tokens_as_token_ids?")
    return int(number)
