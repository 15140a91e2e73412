"""What a decoding strategy needs from a chat model.

A policy keeps one *accepted prefix* (prompt + accepted segments) per run and
samples candidate continuations of it. ``commit`` extends the prefix with one
candidate; ``discard`` forgets a round's candidates. A backend is free to keep
whatever cache it likes behind that; the transformers backend keeps the
prefix's KV cache so the prefix is never encoded twice.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 50


@dataclass(frozen=True)
class Candidate:
    """One sampled continuation: its tokens (up to and including EOS) and text."""

    token_ids: tuple[int, ...]
    text: str
    eos: bool

    @property
    def tokens(self) -> int:
        return len(self.token_ids)


class Policy(Protocol):
    model_id: str
    forward_passes: int
    backend: str  # "transformers" (in-process) or "vllm" (served)
    server_url: str  # where a served model runs; "" in-process
    served_model: str  # the served model's name on that server; "" in-process

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

    def prefix_text(self) -> str:
        """The reply so far (accepted segments), decoded as one string."""


def policy_label(policy: Policy) -> str:
    """How a status line names the chat model: its id, and the server it runs on when served."""
    return f"{policy.model_id} on {policy.server_url}" if policy.server_url else policy.model_id
