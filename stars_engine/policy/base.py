"""What a decoding strategy needs from a chat model.

A policy keeps one *accepted prefix* (prompt + accepted segments) per run and
samples candidate continuations of it. ``commit`` extends the prefix with one
candidate; ``discard`` forgets a round's candidates. A backend is free to keep
whatever cache it likes behind that; the transformers backend keeps the
prefix's KV cache so the prefix is never encoded twice.

Two additions serve the rest of the segment-level family, and leave that
single-prefix path as it is:

- ``sample_until_unsure`` (CARDS): one candidate that stops before the first
  token whose next-token entropy reaches a threshold.
- Branches (Speculative Rejection): ``fork(n)`` starts ``n`` live copies of the
  prefix, ``grow`` extends each by a few tokens as one batch, ``keep`` drops
  the others for good, and ``commit`` of one returned branch makes it the
  prefix. A served backend holds N token-id prompts; the transformers backend
  holds N cache rows and selects among them.

A backend that cannot do one of these raises ``StarsError`` with one line.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 50


@dataclass(frozen=True)
class Candidate:
    """One sampled continuation: its tokens (up to and including EOS) and text.

    ``cut_entropy`` is set when the continuation was cut short because the
    model's next-token entropy reached a threshold (``sample_until_unsure``).
    """

    token_ids: tuple[int, ...]
    text: str
    eos: bool
    cut_entropy: float | None = None

    @property
    def tokens(self) -> int:
        return len(self.token_ids)


class Policy(Protocol):
    model_id: str
    runtime: dict[str, Any]
    """How the backend runs (device, dtype, threads, …), recorded with every run; {} if it cannot say."""
    backend: str  # "transformers" (in-process) or "vllm" (served)
    server_url: str  # where a served model runs; "" in-process
    served_model: str  # the served model's name on that server; "" in-process

    @property
    def forward_passes(self) -> int:
        """Model calls so far (a batched step is one); read-only: a worker's is the worker's count."""

    def check_prompt(self, messages: list[dict[str, str]], max_new_tokens: int) -> int:
        """Raise StarsError when the prompt plus ``max_new_tokens`` cannot fit; return the prompt's token count."""

    def start(self, messages: list[dict[str, str]], seed: int) -> int:
        """Encode the chat prompt as the accepted prefix; return its token count."""

    def sample(
        self, n: int, max_tokens: int, sampling: Sampling, cancel: threading.Event | None = None
    ) -> list[Candidate]:
        """Draw ``n`` continuations of the prefix, at most ``max_tokens`` each, as one batch.

        A candidate stops at EOS; if ``cancel`` is set the round stops after the
        current token and the candidates are returned as they stand.
        """

    def commit(self, candidate: Candidate) -> None:
        """Append ``candidate`` to the prefix.

        A candidate from the last round reuses what was computed for it; one
        from an earlier round (an exhausted segment's best) is encoded again.
        """

    def discard(self) -> None:
        """Forget the last round's candidates; the prefix stays as it was."""

    def sample_until_unsure(
        self, max_tokens: int, min_tokens: int, entropy_threshold: float, sampling: Sampling,
        cancel: threading.Event | None = None,
    ) -> Candidate:
        """One continuation of the prefix, as a round of one (``commit`` / ``discard`` as for ``sample``).

        It stops before the first token, once ``min_tokens`` are drawn, whose
        next-token distribution has an entropy (nats) of at least
        ``entropy_threshold``, and sets ``Candidate.cut_entropy`` to it; else
        it ends at EOS or ``max_tokens``.
        """

    def fork(self, n: int) -> None:
        """Start ``n`` live branches, each a copy of the accepted prefix."""

    def grow(self, max_tokens: int, sampling: Sampling, cancel: threading.Event | None = None) -> list[Candidate]:
        """Extend every live branch by up to ``max_tokens`` tokens as one batch.

        Returns each branch whole (every token since ``fork``), in order; a
        branch whose candidate ends in EOS is finished and may not be kept.
        """

    def keep(self, rows: list[int]) -> None:
        """Keep only these branches (indices into the last ``grow``'s list), in this order."""


def policy_label(policy: Policy) -> str:
    """How a status line names the chat model: its id, and the server it runs on when served."""
    return f"{policy.model_id} on {policy.server_url}" if policy.server_url else policy.model_id
