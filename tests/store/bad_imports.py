"""Bad JSONL imports: each a change to a good export and the words its refusal must contain.

Shared by the import tests and ``benchmarks/bad_inputs.py``.
"""

from __future__ import annotations

from typing import Any

Lines = list[dict[str, Any]]


def _first(lines, kind):
    return next(i for i, line in enumerate(lines) if line["type"] == kind)


def _set(kind, **values):
    def change(lines):
        lines[_first(lines, kind)].update(values)
        return lines
    return change


def _insert_after(kind, event):
    def change(lines):
        lines.insert(_first(lines, kind) + 1, event)
        return lines
    return change


def _deep(levels):
    value = 0
    for _ in range(levels):
        value = [value]
    return value


def _append(event):
    return lambda lines: [*lines, event]


ORPHAN = {"type": "SegmentAccepted", "segment": 0, "text": "x", "reward": 0.5, "attempts": 1, "exhausted": False}
SECOND_START = {"type": "RunStarted", "strategy": "stars", "params": {}, "messages": [{"role": "user", "content": "x"}],
                "policy_id": "p", "reward_id": "r", "seed": 1, "prompt_tokens": 1}
LATE_ATTEMPT = {"type": "AttemptScored", "segment": 0, "attempt": 0, "text": "x", "tokens": 1, "reward": 0.1,
                "threshold": None, "verdict": "accepted", "elapsed_ms": 1.0}

CASES = {
    "reward-is-text": (_set("AttemptScored", reward="abc"), "reward must be float"),
    "segment-is-text": (_set("AttemptScored", segment="x"), "segment must be int"),
    "params-is-a-list": (_set("RunStarted", params=[1, 2]), "params must be"),
    "eos-is-text": (_set("AttemptScored", eos="yes"), "eos must be bool"),
    "messages-is-text": (_set("RunStarted", messages="hello"), "messages must be"),
    "unknown-verdict": (_set("AttemptScored", verdict="maybe"), "unknown verdict"),
    "nan-reward": (_set("AttemptScored", reward=float("nan")), "NaN is not a number"),
    "infinite-reward": (_set("SegmentAccepted", reward=float("inf")), "Infinity is not a number"),
    "surrogate-title": (_set("session", title="\ud800 title"), "surrogate"),
    "surrogate-reply": (_set("RunFinished", text="bad \udcff"), "surrogate"),
    "invalid-params": (_set("RunStarted", params={"segment_tokens": 0}), "segment_tokens"),
    "stats-of-text": (_set("RunFinished", stats={"tokens_generated": "many"}), "stats.tokens_generated must be int"),
    "unknown-stop-reason": (_set("RunFinished", stop_reason="tired"), "unknown stop_reason"),
    "missing-field": (_set("AttemptScored", verdict=None), "verdict must be str"),
    "accepted-without-attempts": (_insert_after("RunStarted", ORPHAN), "has no attempts"),
    "a-second-run-start": (_insert_after("AttemptScored", SECOND_START), "second RunStarted"),
    "events-after-the-end": (_append(LATE_ATTEMPT), "after the run finished"),
    "odd-run-id": (_set("run", id="../../x"), "needs an id"),
    "unknown-run-status": (_set("run", status="sleeping"), "unknown run status"),
    "html-created-at": (_set("session", created_at='<img src=x onerror="alert(1)">'), "created_at must be a timestamp"),
    "impossible-date": (_set("session", updated_at="2026-13-45T00:00:00"), "updated_at is not a valid timestamp"),
    "script-finished-at": (_set("run", finished_at="<script>"), "finished_at must be a timestamp"),
    "text-started-at": (_set("RunStarted", started_at="yesterday"), "started_at must be a timestamp"),
    "int-beyond-sqlite": (_set("AttemptScored", tokens=2**63), "beyond SQLite's 64-bit integer range"),
    "int-beyond-sqlite-in-params": (_set("RunStarted", runtime={"x": -(2**64)}), "beyond SQLite's 64-bit"),
    "deep-nesting": (_set("RunStarted", runtime={"x": _deep(40)}), "nested deeper"),
    "status-contradicts-events": (_set("run", status="interrupted"), "status interrupted but its events end with"),
}


def apply(case: str, lines: Lines) -> Lines:
    """A good export's lines (parsed) with ``case``'s change made."""
    return CASES[case][0]([dict(line) for line in lines])
