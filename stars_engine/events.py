"""The one event stream: engine -> recorder -> screen (and replay -> screen).

Every event is a plain dataclass that round-trips through JSON with
``to_dict`` / ``event_from_dict``; the ``type`` key names the class.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

ACCEPTED, REJECTED, NOT_NEEDED, PRUNED = "accepted", "rejected", "not-needed", "pruned"
KEPT, DROPPED = "kept", "dropped"  # a branch that goes on after its round / one that a round let go
VERDICTS = (ACCEPTED, REJECTED, NOT_NEEDED, PRUNED, KEPT, DROPPED)
STOP_REASONS = ("eos", "max_tokens", "cancelled")
IN_PROCESS = "transformers"
SERVED_FIELDS = ("backend", "server_url", "served_model")
SERVED_REWARD_FIELDS = ("reward_server_url", "served_reward")
FAMILY_FIELDS = ("cut_entropy", "round")  # AttemptScored fields only CARDS / the branch strategies set


@dataclass(frozen=True)
class Event:
    def to_dict(self) -> dict[str, Any]:
        return {"type": type(self).__name__, **asdict(self)}


@dataclass(frozen=True)
class RunStarted(Event):
    strategy: str
    params: dict[str, Any]
    messages: list[dict[str, str]]
    policy_id: str
    reward_id: str
    seed: int
    prompt_tokens: int
    baseline_reward: float | None = None
    started_at: str = ""
    runtime: dict[str, Any] = field(default_factory=dict)  # the policy's device, dtype, threads
    backend: str = IN_PROCESS  # or "vllm"; runs recorded before served backends were in-process
    server_url: str = ""
    served_model: str = ""
    reward_server_url: str = ""  # where a served reward scored; "" in-process
    served_reward: str = ""
    rubric: dict[str, Any] = field(default_factory=dict)  # the rubric the reward scored with; {} for none

    def to_dict(self) -> dict[str, Any]:
        """An in-process run leaves out the served fields (the chat model's, the reward's), and a run
        scored by a reward without a rubric leaves out ``rubric``, so its export reads as it did before them."""
        data = super().to_dict()
        if not self.rubric:
            del data["rubric"]
        if (self.backend, self.server_url, self.served_model) == (IN_PROCESS, "", ""):
            for key in SERVED_FIELDS:
                del data[key]
        if (self.reward_server_url, self.served_reward) == ("", ""):
            for key in SERVED_REWARD_FIELDS:
                del data[key]
        return data


@dataclass(frozen=True)
class AttemptScored(Event):
    """One sampled and scored candidate segment.

    ``threshold`` is None where the strategy does not judge (vanilla, best-of-n).
    ``verdict`` is accepted / rejected / not-needed (sampled in a round after
    the accepted one: it cost compute but was never judged) / pruned (a
    Speculative Rejection reply dropped at decision ``round``; ``threshold`` is
    then the lowest score that was kept). ``cut_entropy`` is the next-token
    entropy (nats) that ended a CARDS segment, None where something else ended
    it (the maximum length, EOS, the token budget).
    """

    segment: int
    attempt: int
    text: str
    tokens: int
    reward: float
    threshold: float | None
    verdict: str
    elapsed_ms: float
    eos: bool = False
    cut_entropy: float | None = None
    round: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Leaves out ``cut_entropy`` and ``round`` where unset, so other strategies' exports read as before them."""
        data = super().to_dict()
        for key in FAMILY_FIELDS:
            if data[key] is None:
                del data[key]
        return data


@dataclass(frozen=True)
class SegmentAccepted(Event):
    segment: int
    text: str
    reward: float
    attempts: int
    exhausted: bool
    tokens: int = 0
    threshold: float | None = None


@dataclass(frozen=True)
class ParamsChanged(Event):
    """Params changed before ``segment`` was drawn; ``changes`` is {field: [old, new]}."""

    segment: int
    changes: dict[str, list[Any]]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunStats:
    tokens_generated: int = 0
    tokens_accepted: int = 0
    tokens_discarded: int = 0
    reward_calls: int = 0
    policy_forward_passes: int = 0
    wall_seconds: float = 0.0
    acceptance_rate: float | None = None
    final_reward: float | None = None
    segments: int = 0
    attempts: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunFinished(Event):
    text: str
    stop_reason: str
    stats: RunStats


@dataclass(frozen=True)
class RunFailed(Event):
    message: str


def last_user_message(messages: list[dict[str, str]]) -> str:
    """The newest user turn: what the reward model sees as the prompt, and what a run is titled by."""
    return next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")


def system_message(messages: list[dict[str, str]]) -> str:
    """The system prompt a run was given (its first message when that is a system one), else ""."""
    return messages[0].get("content", "") if messages and messages[0].get("role") == "system" else ""


def rubric_label(rubric: dict[str, Any]) -> str:
    """A rubric as one short line that tells two rubrics apart: a digest of its JSON and its size.

    Two runs scored with the same reward id but edited exemplars or weight get different labels."""
    if not rubric:
        return ""
    digest = hashlib.sha256(json.dumps(rubric, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:8]
    prefer, avoid = rubric.get("prefer") or [], rubric.get("avoid") or []
    weight = rubric.get("relevance_weight")
    weight_text = f", relevance {weight:g}" if isinstance(weight, int | float) else ""
    return f"rubric {digest} ({len(prefer)} prefer, {len(avoid)} avoid{weight_text})"


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (RunStarted, AttemptScored, SegmentAccepted, ParamsChanged, RunFinished, RunFailed)
}


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from ``Event.to_dict()`` output (or its JSON)."""
    data = dict(data)
    cls = EVENT_TYPES.get(data.pop("type", None))
    if cls is None:
        raise ValueError(f"unknown event type in {sorted(data)}")
    known = {f.name for f in fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in known}
    if cls is RunFinished:
        kwargs["stats"] = RunStats(**kwargs["stats"])
    if cls is ParamsChanged:
        kwargs["changes"] = {k: list(v) for k, v in kwargs["changes"].items()}
    return cls(**kwargs)
