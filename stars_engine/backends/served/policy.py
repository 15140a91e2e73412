"""Chat model backend on a served model (vLLM's OpenAI-compatible completions API).

The accepted prefix lives here as token ids and is sent whole with every round:
``prompt=<prefix ids>``, ``n=k``, ``max_tokens=<segment>``, and the ids come back
exactly (``return_tokens_as_token_ids``). Nothing is freed on a rejected round;
the server's prefix cache makes resending the prefix cheap. Each request's seed is
derived from the run's seed and the request's number, so a seed gives the same reply.

A round of one candidate (STARS with ``k=1``, vanilla) also sends, at once, the
request for the next segment as if that candidate will be accepted, so the
server draws it while the candidate is scored; the next ``sample`` on exactly
that prefix takes its reply, anything else drops it. It is the request that
would have been sent next (the same round number and seed), so a seed gives the
same reply with or without it; a dropped one costs the server its tokens, counted
in ``ahead_wasted``. Scoring is most of a reply's wall time when many runs share
one reward model; this hides it behind the server's work.

Branches (Speculative Rejection) are N token-id prompts: the first ``grow``
after ``fork`` is one request with ``n=N`` on the prefix; later ones send one
request per branch at once (each with its own seed, so the server batches them
and no two branches share their random draws); ``keep`` just forgets the rest.
CARDS is refused: it cuts a segment where the next-token entropy is high, and a
server cannot stop a request on that, so every candidate would be drawn to
``max_segment_tokens`` and cut afterwards (paying up to 64 tokens for a 4-token
segment), with the entropy estimated from the top-20 logprobs only.

Several runs at once (``stars compare``'s columns): a run's prefix, round count
and request sent ahead live on the policy, so each run takes a ``sibling()``
(the same pooled client, its own tokenizer copy) and runs in its own thread
(``together = "at once"``): every call waits on the server, which batches them.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ...errors import StarsError
from ...policy.base import Candidate, Sampling
from ...policy.text import Decode, chat_ids, check_fits, continuation
from .client import ServerClient, ServerError
from .replies import Choice, Completion, Detokenized, Tokenized


class LocalCodec:
    """Prompt and text with the model's tokenizer from local files (no request per decode)."""

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer

    def encode_chat(self, messages: list[dict[str, str]]) -> list[int]:
        return chat_ids(self.tokenizer, messages)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def twin(self) -> LocalCodec:
        """A codec for another thread: a tokenizer is not safe to share between threads."""
        return LocalCodec(copy.deepcopy(self.tokenizer))


class ServerCodec:
    """Prompt and text with the server's own tokenizer (``/tokenize``, ``/detokenize``)."""

    def __init__(self, client: ServerClient, served_model: str):
        self.client = client
        self.served_model = served_model

    def encode_chat(self, messages: list[dict[str, str]]) -> list[int]:
        payload = {"model": self.served_model, "messages": messages, "add_generation_prompt": True}
        return self.client.post("/tokenize", payload, Tokenized).tokens

    def decode(self, ids: Sequence[int]) -> str:
        if not ids:
            return ""
        return self.client.post("/detokenize", {"model": self.served_model, "tokens": list(ids)}, Detokenized).prompt

    def twin(self) -> ServerCodec:
        """The same codec: the pooled client is safe to share between threads."""
        return self


def round_seed(seed: int, round_no: int) -> int:
    """A per-round seed from the run's seed: fixed for a seed, different for every round."""
    digest = hashlib.blake2b(f"{seed}:{round_no}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


class ServedPolicy:
    """One run at a time on one server (a replica), the prefix kept as token ids."""

    backend = "vllm"
    runtime: dict = {}  # the server decides how the model runs; stars cannot see it
    together = "at once"  # how runs of siblings proceed side by side: each in its own thread

    def __init__(
        self, client: ServerClient, served_model: str, codec: LocalCodec | ServerCodec, context_length: int = 0,
        vocab_size: int | None = None, ahead: bool = True,
    ):
        self.client = client
        self.vocab_size = vocab_size  # the local tokenizer's; None when the server tokenizes
        self.server_url = client.base_url
        self.served_model = served_model
        self.model_id = f"vllm:{served_model}"  # not the in-process id: a bench never mixes their cells
        self.codec = codec
        self.context_length = context_length
        self.forward_passes = 0
        self.requests: list[dict[str, Any]] = []  # the last run's completion requests (for inspection)
        self.ahead = ahead  # send a one-candidate round's next request before it is scored
        self.ahead_used = self.ahead_wasted = 0  # requests sent ahead and taken / dropped (their tokens)
        self._ahead: tuple[dict[str, Any], Future] | None = None
        self._reset([], 0)

    def _reset(self, prompt_ids: list[int], seed: int) -> None:
        self.prompt_ids = prompt_ids
        self.reply_ids: list[int] = []  # every accepted id, EOS included: what the next round extends
        self._text_ids: list[int] = []  # the same without EOS: what the reply's text is decoded from
        self.seed = seed
        self.rounds = 0
        self._reply_text = ""
        self._branches: list[list[int]] | None = None  # each live branch's ids since fork
        self._last: list[Candidate] = []

    def sibling(self) -> ServedPolicy:
        """A policy for another run in flight beside this one's, on the same server and client."""
        return ServedPolicy(self.client, self.served_model, self.codec.twin(), self.context_length,
                            self.vocab_size, self.ahead)

    def release(self) -> None:
        """Drop a request sent ahead that no round will take (its tokens count as wasted)."""
        self._drop_ahead()

    def check_prompt(self, messages: list[dict[str, str]], max_new_tokens: int) -> int:
        return check_fits(len(self.codec.encode_chat(messages)), max_new_tokens, self.context_length)

    def start(self, messages: list[dict[str, str]], seed: int) -> int:
        ids = self.codec.encode_chat(messages)
        if not ids:
            raise StarsError("the prompt encodes to no tokens")
        self._drop_ahead()
        self._reset(ids, seed)
        self.requests = []
        return len(ids)

    def _build(self, prompt: list[int], n: int, max_tokens: int, sampling: Sampling) -> dict[str, Any]:
        """The completions request numbered ``rounds`` (its seed comes from that number)."""
        return {
            "model": self.served_model,
            "prompt": prompt,
            "n": n,
            "max_tokens": max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "top_k": sampling.top_k,  # 0 = off, as in Sampling
            "seed": round_seed(self.seed, self.rounds),
            "return_token_ids": True,  # vLLM >= 0.10.2: the ids as a list
            "logprobs": 0,  # older vLLM: the ids as "token_id:N" strings
            "return_tokens_as_token_ids": True,
        }

    def _payload(self, prompt: list[int], n: int, max_tokens: int, sampling: Sampling) -> dict[str, Any]:
        """The next request, counted and recorded in ``requests``."""
        payload = self._build(prompt, n, max_tokens, sampling)
        self.rounds += 1
        self.requests.append(payload)
        return payload

    def _complete(self, payload: dict[str, Any]) -> list[tuple[list[int], bool]]:
        """Send one request; each choice's token ids and whether it ended at EOS, in order."""
        choices = sorted(self.client.post("/v1/completions", payload, Completion).choices, key=lambda c: c.index)
        if len(choices) != payload["n"]:
            raise ServerError(self.server_url, f"asked for {payload['n']} completions, got {len(choices)}")
        return [self._row(choice, payload["max_tokens"]) for choice in choices]

    def sample(
        self, n: int, max_tokens: int, sampling: Sampling, cancel: threading.Event | None = None
    ) -> list[Candidate]:
        """One completions request for the round (or the one sent ahead for it); ``cancel`` takes effect
        at the next round."""
        prefix = [*self.prompt_ids, *self.reply_ids]
        ahead = self._take_ahead(self._build(prefix, n, max_tokens, sampling))
        rows = ahead.result() if ahead is not None else self._complete(self._payload(prefix, n, max_tokens, sampling))
        self.forward_passes += max((len(ids) for ids, _ in rows), default=0)
        if self.ahead and n == 1 and not rows[0][1]:
            self._send_ahead(self._build([*prefix, *rows[0][0]], 1, max_tokens, sampling))
        return [Candidate(token_ids=tuple(ids), text=self._text(ids, eos), eos=eos) for ids, eos in rows]

    def _send_ahead(self, payload: dict[str, Any]) -> None:
        """Start ``payload`` now, on a daemon thread (one left behind never holds up the program's
        exit); its errors surface only if it is taken."""
        future: Future = Future()

        def send() -> None:
            try:
                future.set_result(self._complete(payload))
            except BaseException as exc:  # handed to whoever takes the reply
                future.set_exception(exc)

        self._drop_ahead()
        self._ahead = (payload, future)
        threading.Thread(target=send, name="served-ahead", daemon=True).start()

    def _take_ahead(self, payload: dict[str, Any]) -> Future | None:
        """The request sent ahead if it is exactly ``payload`` (counted as sent now); else drop it."""
        if self._ahead is None or self._ahead[0] != payload:
            self._drop_ahead()
            return None
        _, future = self._ahead
        self._ahead = None
        self.ahead_used += 1
        self.rounds += 1
        self.requests.append(payload)
        return future

    def _drop_ahead(self) -> None:
        """Forget the request sent ahead; its tokens are counted as wasted once its reply is in."""
        if self._ahead is None:
            return
        _, future = self._ahead
        self._ahead = None
        future.add_done_callback(self._wasted)

    def _wasted(self, future: Future) -> None:
        if not future.cancelled() and future.exception() is None:
            self.ahead_wasted += sum(len(ids) for ids, _ in future.result())

    def sample_until_unsure(
        self, max_tokens: int, min_tokens: int, entropy_threshold: float, sampling: Sampling,
        cancel: threading.Event | None = None,
    ) -> Candidate:
        raise StarsError("cards runs on the in-process backend only: a vLLM server cannot stop a segment "
                         "where the next-token entropy is high (leave out --server)")

    def fork(self, n: int) -> None:
        self._branches = [[] for _ in range(n)]
        self._last = []

    def grow(self, max_tokens: int, sampling: Sampling, cancel: threading.Event | None = None) -> list[Candidate]:
        """One request with n=N right after ``fork``; then one request per branch, all in flight at once."""
        if self._branches is None:
            raise RuntimeError("grow() before fork()")
        prefix = [*self.prompt_ids, *self.reply_ids]
        if not any(self._branches):
            rows = self._complete(self._payload(prefix, len(self._branches), max_tokens, sampling))
        else:
            payloads = [self._payload([*prefix, *b], 1, max_tokens, sampling) for b in self._branches]
            with ThreadPoolExecutor(max_workers=len(payloads)) as pool:
                rows = [row for (row,) in pool.map(self._complete, payloads)]
        self.forward_passes += max((len(ids) for ids, _ in rows), default=0)
        for branch, (ids, _eos) in zip(self._branches, rows, strict=True):
            branch.extend(ids)
        self._last = [
            Candidate(token_ids=tuple(b), text=self._text(b, eos), eos=eos)
            for b, (_ids, eos) in zip(self._branches, rows, strict=True)
        ]
        return list(self._last)

    def keep(self, rows: list[int]) -> None:
        if self._branches is None:
            raise RuntimeError("keep() before fork()")
        if any(self._last[i].eos for i in rows):
            raise ValueError("a branch that ended cannot be kept growing")
        self._branches = [list(self._branches[i]) for i in rows]  # a repeated row is a copy that grows apart
        self._last = [self._last[i] for i in rows]

    def _row(self, choice: Choice, max_tokens: int) -> tuple[list[int], bool]:
        """A choice's token ids and whether it ended at EOS; more tokens than asked for, or an id
        outside the vocabulary, is a server that lies (one line, before the ids reach a tokenizer)."""
        if choice.token_ids is not None:
            ids = choice.token_ids
        else:
            try:
                ids = [int(t.removeprefix("token_id:")) for t in choice.logprobs.tokens]
            except (AttributeError, ValueError):
                raise ServerError(
                    self.server_url, "the reply has no token ids: does the server support return_tokens_as_token_ids?"
                ) from None
        if len(ids) > max_tokens:
            raise ServerError(self.server_url, f"asked for at most {max_tokens} tokens, got {len(ids)}")
        bound = self.vocab_size if self.vocab_size is not None else 2**31
        bad = next((t for t in ids if not 0 <= t < bound), None)
        if bad is not None:
            raise ServerError(self.server_url, f"the reply holds token id {bad}, outside the vocabulary "
                                               f"(0 to {bound - 1})")
        return ids, choice.finish_reason == "stop"

    def _text(self, ids: list[int], eos: bool) -> str:
        """The candidate's text as a continuation of the reply, without its EOS token."""
        return continuation(self._decode, self._text_ids, _without_eos(ids, eos))

    def _decode(self, ids: Sequence[int]) -> str:
        if list(ids) == self._text_ids:  # the reply so far is decoded once per commit, not once per candidate
            return self._reply_text
        return self.codec.decode(ids)

    def commit(self, candidate: Candidate) -> None:
        self._branches, self._last = None, []
        self.reply_ids.extend(candidate.token_ids)
        self._text_ids.extend(_without_eos(list(candidate.token_ids), candidate.eos))
        self._reply_text = self.codec.decode(self._text_ids)

    def discard(self) -> None:
        """Nothing to free: the next round resends the prefix and the server's cache finds it."""
        self._branches, self._last = None, []
        self._drop_ahead()  # it assumed the candidate just discarded


def _without_eos(ids: list[int], eos: bool) -> list[int]:
    return ids[:-1] if eos and ids else ids


__all__ = ["Decode", "LocalCodec", "ServedPolicy", "ServerCodec", "round_seed"]
