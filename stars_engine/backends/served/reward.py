"""Reward models on a vLLM pooling server, scored the same way as in-process.

Two kinds, each one HTTP request per round:

* a one-logit classifier RM on ``/classify``: each (prompt, partial reply) pair
  is turned into token ids here, by ``reward.pairs.pair_ids`` with the RM's own
  tokenizer and chat template (the function the in-process ``ClassifierReward``
  uses), and sent as ids, so the server never re-tokenises; ``use_activation``
  is off, so the number back is the raw logit, as in-process;
* the embedding rubric over a served embedding model on ``/v1/embeddings``: the
  ``RubricReward`` is the in-process one with a ``ServedEmbedder`` in place of
  the local encoder (exemplars embedded once per rubric, candidates per round).

A response with the wrong number of scores or vectors, or a NaN, is a
one-line ``ServerError``; the engine turns it into ``RunFailed`` and the
recorder keeps the attempts scored before it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ...display.controls import one_line
from ...errors import StarsError
from ...reward.pairs import max_length, pair_ids
from ...reward.rubric import MAX_TOKENS, embedding_ids
from .client import ServerClient, ServerError
from .connect import local_tokenizer
from .replies import Embeddings, Scores


def _check_count(got: int, expected: int, what: str, where: str) -> None:
    if got != expected:
        raise ServerError(where, f"the reward server returned {got} {what} for {expected} inputs")


def _check_finite(values: torch.Tensor, what: str, where: str) -> None:
    if not bool(torch.isfinite(values).all()):
        raise ServerError(where, f"the reward server returned a NaN or infinite {what}")


def _rows(response: Scores | Embeddings) -> list:
    """The rows of a pooling response, ordered by ``index``."""
    return sorted(response.data, key=lambda row: row.index)


class ServedEmbedder:
    """``Embedder`` over ``/v1/embeddings``: L2-normalised vectors, as the local embedder makes them.

    With the model's tokenizer at hand the texts go as the ids ``embedding_ids``
    makes for the local embedder; without it, as text the server cuts at the
    same length (its cut drops the closing [SEP], so texts past 254 tokens
    score a little differently).
    """

    def __init__(self, client: ServerClient, model: str, tokenizer=None):
        self.client = client
        self.model = model
        self.server_url, self.served_model = client.base_url, model
        self.tokenizer = tokenizer
        self._tokenizing = threading.Lock()  # a tokenizer is not thread-safe; the requests overlap

    def __call__(self, texts: list[str]) -> torch.Tensor:
        if not texts:
            raise ValueError("nothing to embed")
        payload: dict = {"model": self.model}
        if self.tokenizer is not None:
            with self._tokenizing:
                payload["input"] = embedding_ids(self.tokenizer, texts)
        else:
            payload.update(input=texts, truncate_prompt_tokens=MAX_TOKENS, truncation_side="right")
        where = self.client.base_url
        rows = _rows(self.client.post("/v1/embeddings", payload, Embeddings))
        _check_count(len(rows), len(texts), "vectors", where)
        try:
            vectors = torch.tensor([row.embedding for row in rows], dtype=torch.float32)
        except ValueError:  # rows of different lengths
            raise ServerError(where, "the reward server sent malformed embeddings") from None
        if vectors.dim() != 2 or vectors.shape[1] == 0:
            raise ServerError(where, "the reward server sent malformed embeddings")
        _check_finite(vectors, "embedding", where)
        return vectors


class ServedClassifierReward:
    """A one-logit sequence-classifier RM on ``/classify``, fed token ids made here.

    ``limit`` is the in-process cut, lowered to the server's context when that is
    shorter (a longer input would be refused), so only pairs past it can differ.
    """

    rubric = None  # a trained model has no exemplars to edit

    def __init__(self, client: ServerClient, model: str, tokenizer, reward_id: str, limit: int):
        self.client = client
        self.model = model
        self.server_url, self.served_model = client.base_url, model
        self.tokenizer = tokenizer
        self.reward_id = reward_id
        self.limit = limit
        self._tokenizing = threading.Lock()  # a tokenizer is not thread-safe; the requests overlap

    def score(self, prompt: str, replies: list[str]) -> list[float]:
        with self._tokenizing:
            ids = [pair_ids(self.tokenizer, prompt, r, self.limit)["input_ids"] for r in replies]
        payload = {"model": self.model, "input": ids, "use_activation": False}
        where = self.client.base_url
        rows = _rows(self.client.post("/classify", payload, Scores))
        _check_count(len(rows), len(replies), "scores", where)
        if not all(len(r.probs) == 1 for r in rows):
            raise ServerError(where, f"model {self.model} does not give exactly one score per input")
        scores = torch.tensor([r.probs[0] for r in rows], dtype=torch.float64)
        _check_finite(scores, "score", where)
        return [round(float(s), 6) for s in scores]


def served_reward(
    server: str,
    served_name: str | None = None,
    *,
    reward: str | None = None,
    rubric=None,
    allow_download: bool = False,
):
    """The reward on ``server``: the ``reward`` classifier if one is named, else the embedding rubric.

    ``reward`` names the RM whose tokenizer and chat template format the pairs
    (a local folder or a cached hub id); when it is left out, the server serves
    the rubric's embedding model. The first scoring call happens here, so a
    server that is down, a wrong name or the wrong kind of model is one line
    before any run starts.
    """
    from ...reward.rubric import Rubric, RubricReward

    client = ServerClient(server)
    card = client.model_card(served_name, "reward model", option="--served-reward")
    name = card.id
    if reward is None:
        reward_id = f"embedding-rubric (vllm:{name})"
        with _serves(client, name, "/v1/embeddings", "an embedding model for the rubric, or pass --reward RM"):
            embedder = ServedEmbedder(client, name, local_tokenizer(None, card.root, False, "reward model"))
            return RubricReward(embedder, Rubric.load(rubric), reward_id)
    if rubric is not None:
        raise StarsError("--rubric only applies to the default embedding reward, not to --reward models")
    tokenizer = local_tokenizer(reward, None, allow_download, "reward model")
    limit = max_length(tokenizer)
    if card.max_model_len:
        limit = min(limit, card.max_model_len)
    probe = pair_ids(tokenizer, "a", "b", limit)
    if any(probe.get("token_type_ids", [])):
        raise StarsError(f"reward model {reward} reads a text pair with token types, which vLLM's /classify "
                         "cannot take; score it in-process (leave out --reward-server)")
    served = ServedClassifierReward(client, name, tokenizer, f"{reward} (vllm:{name})", limit)
    with _serves(client, name, "/classify", "a one-logit classifier with --runner pooling"):
        served.score("a", ["b"])
    return served


@contextmanager
def _serves(client: ServerClient, name: str, endpoint: str, hint: str) -> Iterator[None]:
    """A server that refuses the endpoint is serving the other kind of model: say so on one line."""
    try:
        yield
    except ServerError as exc:
        if exc.status not in (400, 404, 405):
            raise
        message = f"{name} does not serve {endpoint} (HTTP {exc.status}); serve {hint}"
        raise ServerError(client.base_url, message) from None


def describe_served_reward(server: str, served_name: str | None = None) -> dict[str, str]:
    """What ``stars models --reward-server`` adds: the served reward, where it runs, its context."""
    client = ServerClient(server)
    card = client.model_card(served_name, "reward model", option="--served-reward")
    return {
        "reward server": f"{client.base_url} (vLLM pooling)",
        "served reward": one_line(f"{card.id} ({card.root or 'folder unknown'}, "
                                  f"{card.max_model_len or '?'} tokens of context)"),
    }
