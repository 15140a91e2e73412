"""One run folded from its event stream, for the screens to draw.

The live chat and the replay screen both feed events into a ``RunState`` and
redraw from it, so a replayed run looks exactly like a live one; the exporters
read segments from the same fold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .events import (
    ACCEPTED,
    PRUNED,
    REJECTED,
    AttemptScored,
    Event,
    ParamsChanged,
    RunFailed,
    RunFinished,
    RunStarted,
    SegmentAccepted,
)


@dataclass
class SegmentView:
    """A segment's attempts so far and, once decided, the accepted one."""

    index: int
    attempts: list[AttemptScored] = field(default_factory=list)
    accepted: SegmentAccepted | None = None

    @property
    def rejected(self) -> list[AttemptScored]:
        """Every attempt but the accepted one (rejected and not-needed alike)."""
        return [a for a in self.attempts if a.verdict != ACCEPTED]

    @property
    def threshold(self) -> float | None:
        if self.accepted is not None:
            return self.accepted.threshold
        return self.attempts[-1].threshold if self.attempts else None


@dataclass(frozen=True)
class Part:
    """A piece of the reply as the transcript shows it: text, or a marker."""

    kind: str  # "text", "exhausted", "change"
    text: str


def describe_changes(event: ParamsChanged, labels: dict[str, str] | None = None) -> str:
    """``threshold 0.15→0.3, segment 16→8``: each field by its knob's label in ``labels``
    (``decoding.labels()``; the strategy registry sits above this module, so a caller passes it),
    by its field name where none is given."""
    named = labels or {}
    return ", ".join(f"{named.get(name, name)} {old}→{new}" for name, (old, new) in event.changes.items())


class RunState:
    """Everything the inspector, the transcript and the status line show about one run."""

    def __init__(self) -> None:
        self.started: RunStarted | None = None
        self.segments: list[SegmentView] = []
        self.parts: list[Part] = []
        self.changes: list[ParamsChanged] = []
        self.finished: RunFinished | None = None
        self.failed: RunFailed | None = None
        self.tokens_generated = 0
        self.tokens_accepted = 0
        self.attempts = 0
        self.judged = 0
        self.judged_accepted = 0
        self.compute_ms = 0.0

    @classmethod
    def of(cls, events: list[Event]) -> RunState:
        """The fold of a whole recorded run."""
        state = cls()
        for event in events:
            state.apply(event)
        return state

    def apply(self, event: Event) -> None:
        """Fold one event in; unknown event types are ignored."""
        handler = getattr(self, f"_on_{type(event).__name__}", None)
        if handler is not None:
            handler(event)

    def _on_RunStarted(self, event: RunStarted) -> None:
        self.started = event

    def _on_AttemptScored(self, event: AttemptScored) -> None:
        self.segment(event.segment).attempts.append(event)
        self.attempts += 1
        self.tokens_generated += event.tokens
        self.compute_ms += event.elapsed_ms
        if event.verdict in (ACCEPTED, REJECTED):
            self.judged += 1
            self.judged_accepted += event.verdict == ACCEPTED

    def _on_SegmentAccepted(self, event: SegmentAccepted) -> None:
        self.segment(event.segment).accepted = event
        self.tokens_accepted += event.tokens
        self.parts.append(Part("exhausted" if event.exhausted else "text", event.text))

    def _on_ParamsChanged(self, event: ParamsChanged) -> None:
        self.changes.append(event)
        self.parts.append(Part("change", describe_changes(event)))

    def _on_RunFinished(self, event: RunFinished) -> None:
        self.finished = event

    def _on_RunFailed(self, event: RunFailed) -> None:
        self.failed = event

    def segment(self, index: int) -> SegmentView:
        """The view of segment ``index``, created (with any gap) on first sight."""
        while len(self.segments) <= index:
            self.segments.append(SegmentView(len(self.segments)))
        return self.segments[index]

    @property
    def done(self) -> bool:
        return self.finished is not None or self.failed is not None

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if p.kind != "change")

    @property
    def stopped(self) -> bool:
        return self.finished is not None and self.finished.stop_reason == "cancelled"

    @property
    def reward_calls(self) -> int:
        """Scored replies: every attempt, plus the empty-reply baseline where there is one."""
        if self.finished is not None:
            return self.finished.stats.reward_calls
        baseline = self.started is not None and self.started.baseline_reward is not None
        return self.attempts + int(baseline)

    @property
    def tokens_discarded(self) -> int:
        return self.tokens_generated - self.tokens_accepted

    @property
    def acceptance_rate(self) -> float | None:
        return self.judged_accepted / self.judged if self.judged else None

    def live_per_round(self) -> list[int]:
        """Speculative Rejection: replies still growing at each decision round (empty for other strategies)."""
        rounds = [a.round for view in self.segments for a in view.attempts if a.verdict == PRUNED]
        if self.started is None or not rounds:
            return []
        live = [int(self.started.params.get("initial_n", 0))]
        for r in range(max(rounds) + 1):
            live.append(live[-1] - rounds.count(r))
        return live

    def chart_points(self) -> list[tuple[float, float | None, bool]]:
        """(accepted reward, threshold, exhausted) per decided segment."""
        return [
            (s.accepted.reward, s.accepted.threshold, s.accepted.exhausted)
            for s in self.segments
            if s.accepted is not None
        ]
