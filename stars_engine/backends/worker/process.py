"""The chat model and the reward in a worker process, behind the ``Policy`` and ``Reward`` protocols.

Why: in the workbench the engine shared its process with Textual's event loop,
and hundreds of torch calls per token each gave up and took back the GIL
beside it; a reply ran at 0.855 of the headless speed. Here the models live in
a worker process with nothing else in it. ``engine.run`` is unchanged and
still runs in the caller's thread, so live params (read at segment
boundaries) and the cancel event work as before; each ``sample`` / ``score`` /
``commit`` is one message over a pipe, a few per round of 16 tokens.

Cancel crosses the pipe as a shared flag: while ``sample`` waits for the
worker it polls the caller's ``threading.Event`` and raises the flag, which the
worker's token loop reads between tokens.

Several runs alive at once (``stars compare`` interleaving its columns): the
worker keeps its loaded policy as handle 0 and each ``sibling()`` under a new
number (``release`` forgets it); every policy request names its handle, and
the reply carries that policy's own forward-pass count.

Shutting down: ``close`` (called by the app as it ends, and at interpreter exit
for any worker still open) stops a call in flight, closes the pipe so the worker
returns from its loop and exits normally, joins it, and lets the shared flag go
(its semaphores unlinked and unregistered then). Before, the worker was left to
multiprocessing, which kills daemon children at exit, and the resource tracker
now and then warned of a leaked semaphore after a quit.
"""

from __future__ import annotations

import atexit
import itertools
import multiprocessing
import multiprocessing.util  # registers its exit handler before ours, so ours runs first
import os
import sys
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from ...display.controls import error_line
from ...errors import StarsError
from ...policy.base import Candidate, Sampling
from ..priority import BACKGROUND_NICENESS, lower_priority
from ..spec import ModelSpec

POLL_SECONDS = 0.05
CLOSE_SECONDS = 5.0  # how long a closing worker may take to finish its call and exit before it is killed
CANCELLABLE = ("sample", "sample_until_unsure", "grow")  # policy methods whose last argument is ``cancel``
WORKER_NICENESS = BACKGROUND_NICENESS  # once its models are loaded (``..priority`` says why)


def start(spec: ModelSpec) -> tuple[ProcessPolicy, ProcessReward]:
    """Start a worker, load both models there, and return their stand-ins (blocks until loaded).

    A load failure is the worker's one-line ``StarsError``; the worker has then exited.
    """
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or torch state copied
    with _real_std_streams():  # the shared flag starts multiprocessing's resource tracker: a process too
        ours, theirs = context.Pipe()
        flag = context.Event()
        process = context.Process(target=_serve, args=(theirs, spec, flag), name="stars-models", daemon=True)
        process.start()
    theirs.close()
    worker = _Worker(process, ours, flag)
    info = worker.reply()
    return ProcessPolicy(worker, info), ProcessReward(worker, info)


_STARTING = threading.Lock()


@contextmanager
def _real_std_streams() -> Iterator[None]:
    """The interpreter's own stdout/stderr while processes start.

    Textual replaces ``sys.stderr`` with a capture whose ``fileno()`` is -1, and
    multiprocessing hands that number to the first child it starts ("bad
    value(s) in fds_to_keep"). The lock keeps two starts from swapping twice.
    """
    with _STARTING:
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = sys.__stdout__ or saved[0], sys.__stderr__ or saved[1]
        try:
            yield
        finally:
            sys.stdout, sys.stderr = saved


class _Worker:
    """The parent's end: one request at a time, each answered by the worker."""

    def __init__(self, process, conn, flag) -> None:
        self.process, self.conn, self.flag = process, conn, flag
        self.lock = threading.Lock()
        self.passes: dict[int, int] = {0: 0}  # forward passes of each policy handle, as last reported
        self.exitcode: int | None = None
        self.closed = False
        _OPEN.add(self)

    def call(self, target: str | int, method: str, *args: Any, cancel: threading.Event | None = None) -> Any:
        """``target``: "reward", or a policy's handle (0: the one loaded)."""
        with self.lock:
            if self.closed:
                raise RuntimeError("the model process has ended")
            self.flag.clear()
            try:
                self.conn.send((target, method, args))
            except (OSError, ValueError):
                raise RuntimeError("the model process has ended") from None
            while cancel is not None and not self.conn.poll(POLL_SECONDS):
                if cancel.is_set():
                    self.flag.set()
            return self.reply(target)

    def reply(self, target: str | int = "reward") -> Any:
        try:
            status, value, passes = self.conn.recv()
        except (EOFError, OSError):
            code = self.process.exitcode if self.process is not None else self.exitcode
            raise RuntimeError(f"the model process ended unexpectedly (exit code {code})") from None
        if isinstance(target, int) and passes is not None:
            self.passes[target] = passes
        if status == "ok":
            return value
        raise StarsError(value) if status == "refused" else RuntimeError(value)

    def close(self, timeout: float = CLOSE_SECONDS) -> None:
        """End the worker the same way every time; safe to call twice, and from any thread."""
        if self.closed:
            return
        self.closed = True
        _OPEN.discard(self)
        self.flag.set()  # a sampling call in flight stops at its next token
        locked = self.lock.acquire(timeout=timeout)
        try:
            self.conn.close()  # the worker's recv ends: it returns and exits on its own
            self.process.join(timeout=timeout)
            if self.process.is_alive():
                self.process.terminate()
                self.process.join(timeout=timeout)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()
            self.exitcode = self.process.exitcode
            self.process.close()
        finally:
            # the last references to the shared flag (also held in the process's arguments): its
            # semaphores are unlinked and unregistered from the resource tracker now, not left to it
            self.process = self.flag = None
            if locked:
                self.lock.release()


_OPEN: weakref.WeakSet[_Worker] = weakref.WeakSet()


@atexit.register
def _close_open_workers() -> None:
    """At exit, close whatever worker is still open (before multiprocessing would kill it)."""
    for worker in list(_OPEN):
        worker.close()


class ProcessPolicy:
    """``Policy`` whose model runs in the worker."""

    backend = "transformers"
    server_url = ""
    served_model = ""
    together = "interleaved"  # the worker runs one call at a time: siblings' runs go in turns

    def __init__(self, worker: _Worker, info: dict[str, Any], handle: int = 0) -> None:
        self.worker = worker
        self.info = info
        self.handle = handle  # which of the worker's policies this one stands for
        self.model_id: str = info["model_id"]
        self.runtime: dict[str, Any] = {**info["runtime"], "process": "worker"}

    @property
    def forward_passes(self) -> int:
        return self.worker.passes.get(self.handle, 0)

    def _call(self, method: str, *args: Any, cancel: threading.Event | None = None) -> Any:
        return self.worker.call(self.handle, method, *args, cancel=cancel)

    def sibling(self) -> ProcessPolicy:
        """A policy for another run alive beside this one's: a sibling of the worker's policy, there."""
        return ProcessPolicy(self.worker, self.info, self._call("sibling"))

    def release(self) -> None:
        """Let the worker forget this sibling (its cache); the loaded policy itself stays."""
        if not self.handle or self.worker.closed:
            return
        try:
            self._call("release")
        except RuntimeError:  # the worker has ended: nothing is left to free, and the run's own error stands
            pass

    def start(self, messages: list[dict[str, str]], seed: int) -> int:
        return self._call("start", messages, seed)

    def sample(
        self, n: int, max_tokens: int, sampling: Sampling, cancel: threading.Event | None = None
    ) -> list[Candidate]:
        return self._call("sample", n, max_tokens, sampling, cancel=cancel or threading.Event())

    def commit(self, candidate: Candidate) -> None:
        self._call("commit", candidate)

    def sample_until_unsure(
        self, max_tokens: int, min_tokens: int, entropy_threshold: float, sampling: Sampling,
        cancel: threading.Event | None = None,
    ) -> Candidate:
        return self._call("sample_until_unsure", max_tokens, min_tokens, entropy_threshold, sampling,
                                cancel=cancel or threading.Event())

    def fork(self, n: int) -> None:
        self._call("fork", n)

    def grow(self, max_tokens: int, sampling: Sampling, cancel: threading.Event | None = None) -> list[Candidate]:
        return self._call("grow", max_tokens, sampling, cancel=cancel or threading.Event())

    def keep(self, rows: list[int]) -> None:
        self._call("keep", rows)

    def discard(self) -> None:
        self._call("discard")

    def check_prompt(self, messages: list[dict[str, str]], max_new_tokens: int) -> int:
        return self._call("check_prompt", messages, max_new_tokens)

    def close(self) -> None:
        """End the worker (it also ends with this process)."""
        self.worker.close()


class ProcessReward:
    """``Reward`` that scores in the worker; ``rubric`` is None when the worker's reward has none."""

    def __init__(self, worker: _Worker, info: dict[str, Any]) -> None:
        self.worker = worker
        self.reward_id: str = info["reward_id"]
        self.server_url: str = info["reward_server_url"]
        self.served_model: str = info["served_reward"]
        self._has_rubric: bool = info["has_rubric"]

    def score(self, prompt: str, replies: list[str]) -> list[float]:
        return self.worker.call("reward", "score", prompt, replies)

    @property
    def rubric(self):
        return self.worker.call("reward", "get_rubric") if self._has_rubric else None

    @rubric.setter
    def rubric(self, rubric) -> None:
        self.worker.call("reward", "set_rubric", rubric)


def _serve(conn, spec: ModelSpec, flag) -> None:
    """The worker: load the models, then answer requests until the parent's end closes."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # a warning printed here would land in the middle of the workbench's screen
    try:
        from ..local.load import load_policy
        from ..reward import load_reward

        policy = load_policy(spec.model, spec.device, spec.allow_download, spec.dtype, spec.threads, spec.weights)
        reward = load_reward(spec)
    except StarsError as exc:
        conn.send(("refused", str(exc), 0))
        return
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
        conn.send(("failed", error_line(exc), 0))
        return
    lower_priority(WORKER_NICENESS)
    info = {"model_id": policy.model_id, "runtime": policy.runtime, "reward_id": reward.reward_id,
            "has_rubric": reward.rubric is not None, "reward_server_url": reward.server_url,
            "served_reward": reward.served_model}
    conn.send(("ok", info, 0))
    policies = {0: policy}  # the loaded policy and its siblings, by handle
    handles = itertools.count(1)

    def sibling(handle: int) -> int:
        number = next(handles)
        policies[number] = policies[handle].sibling()
        return number

    while True:
        try:
            target, method, args = conn.recv()
        except (EOFError, OSError):
            return
        chosen = policies.get(target) if isinstance(target, int) else None
        try:
            if method in CANCELLABLE:  # the caller's cancel event arrives as the shared flag
                args = (*args, flag)
            if target == "reward":
                call = {"get_rubric": lambda: reward.rubric,
                        "set_rubric": lambda r: setattr(reward, "rubric", r)}.get(method) or getattr(reward, method)
            elif chosen is None:
                raise RuntimeError(f"no policy {target} in the model process")
            elif method == "sibling":
                call = partial(sibling, target)
            elif method == "release":
                call = partial(policies.pop, target)
            else:
                call = getattr(chosen, method)
            conn.send(("ok", call(*args), _passes(chosen)))
        except StarsError as exc:
            conn.send(("refused", str(exc), _passes(chosen)))
        except Exception as exc:  # noqa: BLE001 - the parent raises it as one line
            conn.send(("failed", error_line(exc), _passes(chosen)))


def _passes(policy: Any) -> int | None:
    """A policy's forward passes for the reply (None for the reward's requests)."""
    return None if policy is None else policy.forward_passes
