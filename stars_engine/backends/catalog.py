"""What the workbench can switch to: the bundled models, the local Hugging Face cache, the servers given.

Why here and not in the app: ``stars models --list`` prints the same catalog,
and the engine never imports Textual. A choice is a change to a ``ModelSpec``
(the fields it sets), so loading a picked model is the same load as at start.

The cache is read, never run: each ``config.json`` goes through the bounded
reader and only its ``architectures`` (and a classifier's label count) are
looked at. A model is offered by the snapshot folder it lives in, so picking
it needs neither the network nor the variable that located the cache.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import msgspec

from ..bounded_read import read_json, read_text
from ..display.controls import one_line
from ..errors import StarsError
from .spec import ModelSpec

CHAT, REWARD = "chat", "reward"
BUNDLED_CHAT = "SmolLM2-135M-Instruct"
BUNDLED_REWARD = "embedding rubric (all-MiniLM-L6-v2)"
REF_BYTES = 1024  # refs/main holds one commit hash


@dataclass(frozen=True, eq=False)
class Choice:
    """One model the workbench can switch to: ``changes`` are the ``ModelSpec`` fields picking it sets."""

    kind: str  # CHAT or REWARD
    label: str  # what a person reads (a hub id, a served name)
    source: str  # bundled, cache, server, or given (the one the app was started with)
    changes: dict[str, Any] = field(default_factory=dict)

    def apply(self, spec: ModelSpec) -> ModelSpec:
        """``spec`` with this model in place of the current chat model (or reward)."""
        return replace(spec, **self.changes)

    def current(self, spec: ModelSpec) -> bool:
        return all(getattr(spec, name) == value for name, value in self.changes.items())

    def to_dict(self, spec: ModelSpec) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "source": self.source, "current": self.current(spec),
                "changes": {k: str(v) if isinstance(v, Path) else v for k, v in self.changes.items()}}


@dataclass
class Catalog:
    """Both lists, and one line for each thing that could not be read (a server down, a broken config)."""

    chat: list[Choice]
    reward: list[Choice]
    problems: list[str]


class _Config(msgspec.Struct):
    """The two fields of a cached ``config.json`` the catalog reads; anything else is ignored."""

    architectures: list[str] | None = None
    id2label: dict[str, Any] | None = None
    num_labels: int | None = None


def hub_cache() -> Path:
    """The Hugging Face hub cache, as huggingface_hub finds it (read now, so a changed variable counts)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "huggingface" / "hub"


def _snapshot(repo: Path) -> Path | None:
    """The snapshot ``refs/main`` names, else the newest one holding a config.json (of any kind: the
    bounded reader refuses what is not a regular file, in one line)."""
    try:
        commit = read_text(repo / "refs" / "main", "refs/main", REF_BYTES).strip()
    except StarsError:
        commit = ""
    if commit and "/" not in commit and (repo / "snapshots" / commit / "config.json").exists():
        return repo / "snapshots" / commit
    snapshots = [s for s in (repo / "snapshots").glob("*") if (s / "config.json").exists()]
    return max(snapshots, key=lambda s: s.stat().st_mtime, default=None)


def _kind(config: _Config) -> str | None:
    """CHAT for a causal LM, REWARD for a one-output sequence classifier, else None."""
    architectures = config.architectures or []
    if any(a.endswith("ForCausalLM") for a in architectures):
        return CHAT
    if any(a.endswith("ForSequenceClassification") for a in architectures):
        labels = len(config.id2label) if config.id2label is not None else config.num_labels
        return REWARD if labels in (None, 1) else None
    return None


def cached_models(cache: Path | None = None) -> Iterator[tuple[str, str, Path] | str]:
    """(kind, hub id, snapshot folder) for each chat model or reward model in the cache, in name order;
    a config that cannot be read is one line instead."""
    cache = cache or hub_cache()
    if not cache.is_dir():
        return
    for repo in sorted(cache.glob("models--*")):
        repo_id = repo.name.removeprefix("models--").replace("--", "/", 1)
        snapshot = _snapshot(repo)
        if snapshot is None:
            continue
        try:
            config = msgspec.convert(read_json(snapshot / "config.json", "config.json"), _Config)
        except (StarsError, msgspec.ValidationError) as exc:
            yield one_line(f"{repo_id}: {exc}")
            continue
        kind = _kind(config)
        if kind is not None:
            yield kind, repo_id, snapshot


def _served(url: str) -> list[str]:
    """The names a server answers to, asked briefly: the picker waits on it."""
    from .served.client import ServerClient

    return ServerClient(url, timeout=10.0, retries=1).served_models()


def catalog(spec: ModelSpec, cache: Path | None = None, *, strict: bool = False) -> Catalog:
    """Every chat model and reward ``spec``'s app could switch to (reads the cache; asks each server).

    ``spec`` is the one the app started with: a served model keeps its
    tokenizer (``--model``) and a bundled reward its rubric from there. With
    ``strict`` a server that cannot be asked raises instead of becoming a problem line.
    """
    local_chat = {"server": None, "served_model": None}
    local_reward = {"reward_server": None, "served_reward": None}
    chat = [Choice(CHAT, BUNDLED_CHAT, "bundled", {"model": None, **local_chat})]
    reward = [Choice(REWARD, BUNDLED_REWARD, "bundled", {"reward": None, "rubric": spec.rubric, **local_reward})]
    problems: list[str] = []
    for found in cached_models(cache):
        if isinstance(found, str):
            problems.append(found)
            continue
        kind, repo_id, folder = found
        if kind == CHAT:
            chat.append(Choice(CHAT, repo_id, "cache", {"model": str(folder), **local_chat}))
        else:
            reward.append(Choice(REWARD, repo_id, "cache", {"reward": str(folder), "rubric": None, **local_reward}))
    servers = [(CHAT, url) for url in (spec.server or [])[:1]] + [(REWARD, url) for url in [spec.reward_server] if url]
    for kind, url in servers:
        try:
            names = _served(url)
        except StarsError as exc:
            if strict:
                raise
            problems.append(str(exc))
            continue
        given = spec.served_model if kind == CHAT else spec.served_reward
        for name in names:
            # left out at start, the name is the server's only one: keep it left out, so it shows as current
            served = None if given is None and len(names) == 1 else name
            if kind == CHAT:
                chat.append(Choice(CHAT, f"{name} on {url}", "server",
                                   {"server": list(spec.server or []), "served_model": served, "model": spec.model}))
            else:
                reward.append(Choice(REWARD, f"{name} on {url}", "server", {
                    "reward_server": url, "served_reward": served, "reward": spec.reward, "rubric": spec.rubric}))
    return Catalog(_with_given(chat, spec, CHAT), _with_given(reward, spec, REWARD), problems)


def _with_given(choices: list[Choice], spec: ModelSpec, kind: str) -> list[Choice]:
    """The list, plus the model ``spec`` runs when it is none of them (a ``--model PATH`` given at start)."""
    if any(choice.current(spec) for choice in choices):
        return choices
    changes: dict[str, Any]
    if kind == CHAT:
        label = spec.model if spec.server is None else f"{spec.served_model or 'served model'} on {spec.server[0]}"
        changes = {"model": spec.model, "server": spec.server, "served_model": spec.served_model}
    else:
        label = spec.reward if spec.reward_server is None else f"{spec.served_reward or 'served reward'} on " \
                                                                f"{spec.reward_server}"
        changes = {"reward": spec.reward, "rubric": spec.rubric, "reward_server": spec.reward_server,
                   "served_reward": spec.served_reward}
    return [*choices, Choice(kind, str(label), "given", changes)]
