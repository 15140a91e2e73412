"""What a vLLM server may answer, as typed shapes, checked in one place.

Every reply the served backends read is decoded by ``client.decode`` into one
of these structs, so a reply of the wrong shape (a ``max_model_len`` that is not an
integer, ``/tokenize`` giving text, a negative token id, JSON nested past any
real reply) is one ``ServerError`` line naming the field, never a traceback
deep in the engine. Fields vLLM sends that stars does not read are ignored.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

TokenId = Annotated[int, msgspec.Meta(ge=0, lt=2**31)]  # vLLM's ids are int32
Count = Annotated[int, msgspec.Meta(ge=0)]
ContextLength = Annotated[int, msgspec.Meta(ge=0, lt=2**31)]  # positions are int32 in vLLM too
LogProb = Annotated[float, msgspec.Meta(le=0.0)]  # a log-probability; vLLM writes -inf as -9999.0


class ModelCard(msgspec.Struct):
    """One ``/v1/models`` entry: the name, the folder it was started on, its context."""

    id: str
    root: str | None = None
    max_model_len: ContextLength | None = None


class ModelList(msgspec.Struct):
    data: list[ModelCard]


class Tokenized(msgspec.Struct):
    tokens: list[TokenId]


class Detokenized(msgspec.Struct):
    prompt: str


class Logprobs(msgspec.Struct):
    tokens: list[str]  # older vLLM: "token_id:N" with return_tokens_as_token_ids


class Choice(msgspec.Struct):
    index: Count = 0
    token_ids: list[TokenId] | None = None
    logprobs: Logprobs | None = None
    finish_reason: str | None = None


class Completion(msgspec.Struct):
    choices: list[Choice]


class TopLogprobs(msgspec.Struct):
    """The ``logprobs`` of a completion asked with ``logprobs=K``: per generated token, its K most
    likely tokens, keyed ``token_id:N`` (with ``return_tokens_as_token_ids``)."""

    top_logprobs: list[dict[str, LogProb]]


class PromptLogprob(msgspec.Struct):
    logprob: LogProb


class ScoredChoice(msgspec.Struct):
    """A choice read for its log-probabilities: the top list of the token it generated, and with
    ``prompt_logprobs`` each prompt token's own (keyed by its id; the first position is null)."""

    index: Count = 0
    logprobs: TopLogprobs | None = None
    prompt_logprobs: list[dict[str, PromptLogprob] | None] | None = None


class ScoredCompletion(msgspec.Struct):
    choices: list[ScoredChoice]


class Score(msgspec.Struct):
    probs: list[float]
    index: Count = 0


class Scores(msgspec.Struct):
    data: list[Score]


class Embedding(msgspec.Struct):
    embedding: list[float]
    index: Count = 0


class Embeddings(msgspec.Struct):
    data: list[Embedding]
