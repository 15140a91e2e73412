"""Chat model backend on transformers, with the accepted prefix's KV cache kept between rounds.

Cache invariant: ``self.cache`` holds every prefix token but the last, which
waits in ``self.pending``. A round feeds ``pending`` (batched ``n`` times) and
then each sampled token, so after ``S`` steps the cache has grown by ``S``
positions, the last sampled token never fed. Committing candidate ``i`` of
length ``L`` keeps row ``i`` and crops ``S - L`` positions: the cache again
holds the new prefix but its last token, which becomes ``pending``.
Discarding crops all ``S`` positions. The prefix is never encoded twice.

Per token, a round does the model call, one draw (``sampler.draw``) and an
EOS test on the device; nothing else. The host waits on the device only to
check "all rows ended" (every ``eos_check_every`` tokens: every token on a
CPU, where the check costs nothing, every 8 on a GPU, where it stalls the
queue) and once per round to read the tokens back.

Branches (Speculative Rejection): ``fork(n)`` makes the cache hold ``n`` rows
of the prefix; each ``grow`` is a round of ``sample`` whose first fed token is
each row's own last token, and the positions it adds stay (all live rows grow
in lockstep, so the cache stays rectangular); ``keep`` selects cache rows,
never re-encoding. ``_cut`` is a hook on the logits ``sample`` computes:
``sample_until_unsure`` sets it to stop a round before a token whose
distribution's entropy reaches a threshold (CARDS).

Several runs alive at once (``stars compare`` interleaving its columns): every
piece of a run's state above (cache, pending token, branches, generator, pass
count) lives on the policy object, so each run needs its own; ``sibling()`` is
another object on the same model and tokenizer (nothing copied). One thread
advances them in turns (``together = "interleaved"``): on a CPU the model's
calls would only contend for the cores.
"""

from __future__ import annotations

import copy
import inspect
import threading
from typing import Any

import torch
from transformers import DynamicCache

from ...errors import StarsError
from ...policy.base import Candidate, Sampling
from ...policy.text import chat_ids, check_fits, continuation
from .entropy import EntropyCut
from .runtime import Runtime
from .sampler import draw


class TransformersPolicy:
    """A causal LM plus its tokenizer, sampling segments for one run at a time."""

    backend = "transformers"
    server_url = ""
    served_model = ""
    together = "interleaved"  # how runs of siblings proceed side by side: one thread, in turns

    def __init__(self, model, tokenizer, model_id: str, runtime: Runtime | None = None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.device = next(model.parameters()).device
        self.runtime: dict[str, Any] = (runtime or self._as_given()).to_dict()
        self.eos_check_every = 1 if self.device.type == "cpu" else 8
        self.forward_passes = 0
        self.context_length = int(getattr(model.config, "max_position_embeddings", 0) or 0)
        eos = model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else [eos] if eos is not None else []
        if tokenizer.eos_token_id is not None:
            eos.append(tokenizer.eos_token_id)
        self.eos_ids = sorted(set(eos))
        self._eos = torch.tensor(self.eos_ids, device=self.device)
        # transformers 5.2x renamed ``past_key_values`` to ``cache``; accept either
        params = inspect.signature(model.forward).parameters
        self.cache_kwarg = "cache" if "cache" in params else "past_key_values"  # this transformers' name for it
        self._last_only = {"logits_to_keep": 1} if "logits_to_keep" in params else {}
        self._reset()

    def sibling(self) -> TransformersPolicy:
        """A policy for another run alive beside this one's: the same model and tokenizer, its own
        cache, prefix, branches, generator and forward-pass count."""
        twin = copy.copy(self)
        twin.forward_passes = 0
        twin._reset()
        return twin

    def release(self) -> None:
        """Nothing to free by hand: a sibling's cache goes with it."""

    def _as_given(self) -> Runtime:
        """A model handed in ready-made (tests, benchmarks): record how it already runs."""
        dtype = str(next(self.model.parameters()).dtype).removeprefix("torch.")
        threads = torch.get_num_threads() if self.device.type == "cpu" else None
        return Runtime(str(self.device), dtype, threads, "as given")

    # -- prompt ---------------------------------------------------------------

    def encode_chat(self, messages: list[dict[str, str]]) -> list[int]:
        return chat_ids(self.tokenizer, messages)

    def check_prompt(self, messages: list[dict[str, str]], max_new_tokens: int) -> int:
        """Raise StarsError when prompt + reply cannot fit in the model's context."""
        return check_fits(len(self.encode_chat(messages)), max_new_tokens, self.context_length)

    def _reset(self) -> None:
        self.cache = DynamicCache(config=self.model.config)
        self.pending: int | None = None
        self.reply_ids: list[int] = []
        self._round: list[Candidate] = []
        self._steps = 0
        self._rows = 1
        self._cut: EntropyCut | None = None
        self._branches: list[list[int]] | None = None  # each live branch's ids since fork
        self._grown = 0  # cache positions every branch row holds past the prefix
        self._last: list[Candidate] = []  # the last grow's branches, as returned

    @torch.inference_mode()
    def start(self, messages: list[dict[str, str]], seed: int) -> int:
        self._reset()
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        ids = self.encode_chat(messages)
        if not ids:
            raise StarsError("the prompt encodes to no tokens")
        if len(ids) > 1:
            self._forward(torch.tensor([ids[:-1]], device=self.device))
        self.pending = ids[-1]
        return len(ids)

    # -- sampling -------------------------------------------------------------

    def _forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        self.forward_passes += 1
        out = self.model(input_ids=input_ids, use_cache=True, **{self.cache_kwarg: self.cache}, **self._last_only)
        return out.logits[:, -1, :]

    def _set_rows(self, n: int) -> None:
        """Make the cache hold ``n`` identical copies of the prefix."""
        if self._rows == n:
            return
        if self._rows != 1:
            self.cache.batch_select_indices(torch.tensor([0], device=self.device))
        if n != 1:
            self.cache.batch_repeat_interleave(n)
        self._rows = n

    @torch.inference_mode()
    def sample(
        self, n: int, max_tokens: int, sampling: Sampling, cancel: threading.Event | None = None
    ) -> list[Candidate]:
        if self.pending is None:
            raise RuntimeError("sample() before start()")
        self._drop_round()
        self._set_rows(n)
        tokens = self._first_tokens(n)
        drawn = torch.empty((n, max_tokens), dtype=torch.long, device=self.device)
        finished = torch.zeros(n, dtype=torch.bool, device=self.device)
        steps = 0
        while steps < max_tokens:
            logits = self._forward(tokens)
            if self._cut is not None and self._cut(logits.float(), steps):
                break
            tokens = draw(logits, sampling, self.generator)
            drawn[:, steps] = tokens[:, 0]
            finished |= (tokens == self._eos).any(dim=-1)
            steps += 1
            if cancel is not None and cancel.is_set():
                break
            if steps % self.eos_check_every == 0 and bool(finished.all()):
                break
        self._steps = steps
        self._round = [self._candidate(row) for row in drawn[:, :steps].tolist()]
        return list(self._round)

    def _first_tokens(self, n: int) -> torch.Tensor:
        """The column a round feeds first: the prefix's last token, or each branch's own."""
        if self._branches is None:
            return torch.full((n, 1), self.pending, dtype=torch.long, device=self.device)
        last = [b[-1] if b else self.pending for b in self._branches]
        return torch.tensor(last, dtype=torch.long, device=self.device)[:, None]

    def sample_until_unsure(
        self, max_tokens: int, min_tokens: int, entropy_threshold: float, sampling: Sampling,
        cancel: threading.Event | None = None,
    ) -> Candidate:
        """One candidate, cut before the first token past ``min_tokens`` whose entropy reaches the threshold."""
        self._cut = EntropyCut(min_tokens, entropy_threshold)
        try:
            (candidate,) = self.sample(1, max_tokens, sampling, cancel)
        finally:
            cut, self._cut = self._cut, None
        if cut.entropy is None:
            return candidate
        self._steps += 1  # the cut token's position was fed before the cut: the cache holds it
        self._round = [Candidate(candidate.token_ids, candidate.text, candidate.eos, round(cut.entropy, 4))]
        return self._round[0]

    def _candidate(self, row: list[int]) -> Candidate:
        """Cut a sampled row at its first EOS and decode it as a continuation of the reply."""
        eos_at = next((i for i, t in enumerate(row) if t in self.eos_ids), None)
        ids = row if eos_at is None else row[: eos_at + 1]
        return Candidate(token_ids=tuple(ids), text=self._continuation(ids), eos=eos_at is not None)

    def _continuation(self, ids: list[int]) -> str:
        return continuation(self._decode, self.reply_ids, ids)

    def _decode(self, ids) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    # -- committing -----------------------------------------------------------

    def _drop_round(self) -> None:
        if self._steps:
            self.cache.crop(-self._steps)
        self._steps = 0
        self._round = []

    def discard(self) -> None:
        self._end_branches()
        self._drop_round()

    @torch.inference_mode()
    def commit(self, candidate: Candidate) -> None:
        ids = list(candidate.token_ids)
        if self._branches is not None and self._adopt_branch(candidate):
            return
        self._end_branches()
        if not ids:
            self._drop_round()
            return
        # Equal, not identical: a candidate may come back through a pipe (stars_engine/backends/worker/process.py).
        # Two equal candidates hold the same tokens after the same prefix, so either row's cache is right.
        row = next((i for i, c in enumerate(self._round) if c == candidate), None)
        if row is None:
            # an earlier round's candidate (an exhausted segment's best): encode it once
            self._drop_round()
            self._set_rows(1)
            self._forward(torch.tensor([[self.pending, *ids[:-1]]], device=self.device))
        else:
            self.cache.batch_select_indices(torch.tensor([row], device=self.device))
            self._rows = 1
            if self._steps > len(ids):
                self.cache.crop(-(self._steps - len(ids)))
            self._steps = 0
            self._round = []
        self.reply_ids.extend(ids)
        self.pending = ids[-1]

    # -- branches (Speculative Rejection) -----------------------------------

    def fork(self, n: int) -> None:
        """Start ``n`` live branches, each a copy of the accepted prefix (cache rows, no encoding)."""
        self._end_branches()
        self._drop_round()
        self._set_rows(n)
        self._branches = [[] for _ in range(n)]

    @torch.inference_mode()
    def grow(self, max_tokens: int, sampling: Sampling, cancel: threading.Event | None = None) -> list[Candidate]:
        """Extend every live branch by up to ``max_tokens`` tokens as one batch; each branch, whole."""
        if self._branches is None:
            raise RuntimeError("grow() before fork()")
        self._steps, self._round = 0, []  # the last grow's positions belong to the branches
        rows = self.sample(len(self._branches), max_tokens, sampling, cancel)
        self._grown += self._steps
        self._steps, self._round = 0, []
        for branch, row in zip(self._branches, rows, strict=True):
            branch.extend(row.token_ids)
        self._last = [
            Candidate(tuple(b), self._continuation(b), row.eos) for b, row in zip(self._branches, rows, strict=True)
        ]
        return list(self._last)

    def keep(self, rows: list[int]) -> None:
        """Keep only these branches of the last ``grow`` (cache rows selected, never re-encoded)."""
        if self._branches is None:
            raise RuntimeError("keep() before fork()")
        if not rows:
            self._end_branches()
            return
        if any(self._last[i].eos for i in rows):
            raise ValueError("a branch that ended cannot be kept growing")
        self.cache.batch_select_indices(torch.tensor(rows, device=self.device))
        self._branches = [list(self._branches[i]) for i in rows]  # a repeated row is a copy that grows apart
        self._last = [self._last[i] for i in rows]
        self._rows = len(rows)

    def _adopt_branch(self, candidate: Candidate) -> bool:
        """Commit a branch of the last ``grow`` by keeping its cache row; False if it is gone."""
        row = next((i for i, c in enumerate(self._last) if c == candidate), None)  # equal: it may cross a pipe
        if row is None or not candidate.token_ids:
            return False
        ids = list(candidate.token_ids)
        self.cache.batch_select_indices(torch.tensor([row], device=self.device))
        self._rows = 1
        if self._grown > len(ids):
            self.cache.crop(-(self._grown - len(ids)))
        self._branches, self._grown, self._last = None, 0, []
        self.reply_ids.extend(ids)
        self.pending = ids[-1]
        return True

    def _end_branches(self) -> None:
        """Back to the accepted prefix in one row."""
        if self._branches is None:
            return
        if self._grown:
            self.cache.crop(-self._grown)
        self._branches, self._grown, self._last = None, 0, []
        self._set_rows(1)
