"""The one place a backend is chosen: which code runs the chat model, given a ``ModelSpec``.

A backend is a named unit (``Backend``). It declares the ``ModelSpec`` options
it reads and the abilities its policies have; ``check`` refuses a bad choice
before any weights load (configs only), ``load`` returns ``(policies, reward)``.
Front ends hand the spec to ``check`` / ``load`` / ``loaders`` and never test
``spec.server`` themselves; tests register their fakes here (``registered``).

    local   in-process transformers (``stars run``, ``stars bench``)
    worker  the same models in a worker process (the workbench: no GIL shared with its event loop)
    vllm    a vLLM server over HTTP (``--server``; CARDS cannot run there)

The reward comes with the load (``backends.reward``): in-process, or on a
vLLM pooling server with ``--reward-server``, whichever backend runs the chat model.
Backend modules are imported only when chosen, so ``stars --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..errors import StarsError
from ..policy.base import Policy
from ..reward.base import Reward
from .spec import ModelSpec

SAMPLE, UNSURE, BRANCHES = "sample", "sample_until_unsure", "branches"  # what a strategy may need of a policy
LOCAL_OPTIONS = frozenset({"model", "device", "allow_download", "dtype", "threads", "weights"})
REWARD_OPTIONS = frozenset({"reward", "rubric", "reward_server", "served_reward"})
NEEDS_SERVER = {"served_model": "--served-model needs --server"}  # options read only by the vllm backend

Loaded = tuple[list[Policy], Reward]


@dataclass(frozen=True)
class Backend:
    """A named way to run the chat model.

    ``lacks`` says, for each ability a strategy may need and this backend has
    not, why (the one line a refused run prints).
    """

    name: str
    load: Callable[[ModelSpec, int], Loaded]
    check: Callable[[ModelSpec], None] = lambda spec: None
    options: frozenset[str] = LOCAL_OPTIONS
    lacks: dict[str, str] = field(default_factory=dict)
    parallel: bool = False  # serves several replies at once (the bench's --concurrency)

    @property
    def abilities(self) -> frozenset[str]:
        return frozenset({SAMPLE, UNSURE, BRANCHES}) - set(self.lacks)


def _check_local(spec: ModelSpec) -> None:
    from .local.load import check_choice

    check_choice(spec.model, spec.reward, spec.rubric, spec.device, spec.allow_download)


def _load_local(spec: ModelSpec, count: int) -> Loaded:
    from .local.load import load_policy
    from .reward import load_reward

    policy = load_policy(spec.model, spec.device, spec.allow_download, spec.dtype, spec.threads, spec.weights)
    return [policy], load_reward(spec)


def _load_worker(spec: ModelSpec, count: int) -> Loaded:
    from .worker.process import start

    policy, reward = start(spec)
    return [policy], reward


def _load_vllm(spec: ModelSpec, count: int) -> Loaded:
    from .reward import load_reward
    from .served.connect import served_policies

    assert spec.server  # chosen only with --server
    policies = served_policies(spec.server, spec.served_model, tokenizer=spec.model,
                               allow_download=spec.allow_download, count=count)
    return list(policies), load_reward(spec)


_REGISTRY: dict[str, Backend] = {}


def register(backend: Backend) -> None:
    """Make ``backend`` choosable by its name (replacing one of that name)."""
    _REGISTRY[backend.name] = backend


@contextmanager
def registered(backend: Backend) -> Iterator[Backend]:
    """``backend`` registered for the duration (a test's fake, under its own name or a built-in one's)."""
    previous = _REGISTRY.get(backend.name)
    register(backend)
    try:
        yield backend
    finally:
        if previous is None:
            del _REGISTRY[backend.name]
        else:
            register(previous)


register(Backend("local", _load_local, _check_local))
register(Backend("worker", _load_worker))  # the worker refuses a bad choice itself, without torch here
register(Backend("vllm", _load_vllm, _check_local, LOCAL_OPTIONS | {"server", "served_model"}, lacks={
    UNSURE: "a vLLM server cannot stop a segment where the next-token entropy is high (leave out --server)",
}, parallel=True))


def choose(spec: ModelSpec, *, app: bool = False) -> Backend:
    """The backend ``spec`` names, else vllm with ``--server``, else worker for the workbench (``app``), else local."""
    name = spec.backend or ("vllm" if spec.server else "worker" if app else "local")
    if name not in _REGISTRY:
        raise StarsError(f"unknown backend {name!r}: use {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def check_strategy(backend: Backend, strategy: str) -> None:
    """Refuse, in one line, a strategy that needs an ability ``backend`` lacks."""
    from ..decoding import get

    for ability in sorted(get(strategy).needs & set(backend.lacks)):
        raise StarsError(f"{strategy} cannot run on the {backend.name} backend: {backend.lacks[ability]}")


def check(spec: ModelSpec, strategies: Iterable[str] = (), *, app: bool = False) -> Backend:
    """The chosen backend, once the options it cannot take, the strategies it cannot run and a bad
    model, reward, rubric or device are refused (cheap: no weights load)."""
    backend = choose(spec, app=app)
    for option, message in NEEDS_SERVER.items():
        if getattr(spec, option) is not None and option not in backend.options:
            raise StarsError(message)
    for strategy in strategies:
        check_strategy(backend, strategy)
    backend.check(spec)
    return backend


def load(spec: ModelSpec, count: int = 1, *, app: bool = False) -> Loaded:
    """``count`` policies (one unless served) and the reward (slow: call once), after ``check``."""
    backend = check(spec, app=app)
    return backend.load(spec, count)


def load_pair(spec: ModelSpec) -> tuple[Policy, Reward]:
    """The workbench's chat model and reward (slow; off the UI thread): at start, and for a model picked in the app."""
    policies, reward = load(spec, app=True)
    return policies[0], reward


def loaders(spec: ModelSpec) -> tuple[Callable[[], Policy], Callable[[], Reward]]:
    """The workbench's two loaders, called in turn off the UI thread: the first loads both."""
    loaded: list = []

    def policy() -> Policy:
        loaded[:] = load_pair(spec)
        return loaded[0]

    return policy, lambda: loaded[1]


__all__ = ["Backend", "ModelSpec", "check", "check_strategy", "choose", "load", "load_pair", "loaders", "register",
           "registered"]
