"""Preference pairs out of recorded runs, in the conversational format TRL's DPO trainer reads.

A STARS or CARDS run decides each segment by reward: at one accepted prefix, the
attempt that passed and the attempts that failed were sampled from the same
state, so each (passed, failed) couple is a pair at the same prefix. An attempt
sampled in a round that had already passed (``not-needed``) counts as failed
when it scored under that round's bar. A
whole-reply strategy (Best-of-N, Speculative Rejection) gives one pair per run:
its best finished reply against its worst (replies pruned part-way are not
whole replies, so they are left out).

Each line holds ``prompt`` (the conversation's messages, ending with the user's),
``chosen`` and ``rejected`` (one assistant message each: the accepted prefix
followed by the segment). The prefix is in both completions rather than in the
prompt: TRL renders ``prompt + chosen`` with the chat template, which would
close a partial assistant message in the prompt and open a second one. The
shared prefix costs DPO nothing: its log-probabilities cancel in the
chosen-minus-rejected difference. ``prefix`` says where the segment starts.

A run the user took out of its conversation (its turn deleted or edited in the
chat: ``runs.removed``) gives no pairs: the user rejected that exchange, so it
is not preference data. The other exports keep such runs, marked, as the
record; pairs have no mark to carry, so they leave them out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..events import ACCEPTED, NOT_NEEDED, REJECTED, AttemptScored, Event
from ..run_state import RunState
from .export import PAIRS, Bundle, _json_line, format_for, run_bundle, session_bundle, write_text
from .store import RunInfo, Store


def _pair(
    run: RunInfo, state: RunState, segment: int, prefix: str,
    chosen: AttemptScored, rejected: AttemptScored,
) -> dict[str, Any]:
    messages = state.started.messages if state.started is not None else []
    return {
        "prompt": [{"role": m["role"], "content": m["content"]} for m in messages],
        "chosen": [{"role": "assistant", "content": prefix + chosen.text}],
        "rejected": [{"role": "assistant", "content": prefix + rejected.text}],
        "prefix": prefix,
        "chosen_reward": chosen.reward,
        "rejected_reward": rejected.reward,
        "run": run.id,
        "session": run.session_id,
        "segment": segment,
        "strategy": run.strategy,
    }


def _failed(attempt: AttemptScored) -> bool:
    """Rejected, or sampled in a round that had already passed and scoring under the bar, so it would have failed."""
    if attempt.verdict == REJECTED:
        return True
    return attempt.verdict == NOT_NEEDED and attempt.threshold is not None and attempt.reward < attempt.threshold


def pairs_of(run: RunInfo, events: list[Event]) -> Iterator[dict[str, Any]]:
    """Every (chosen, rejected) pair one run holds, in segment order."""
    state = RunState.of(events)
    prefix = ""
    for view in state.segments:
        judged = [a for a in view.attempts if a.verdict in (ACCEPTED, REJECTED)]
        passed = [a for a in judged if a.verdict == ACCEPTED]
        failed = [a for a in view.attempts if _failed(a)]
        if passed and failed:
            if all(a.threshold is None for a in judged):  # a whole-reply choice: best against worst
                best = max(judged, key=lambda a: a.reward)
                worst = min(judged, key=lambda a: a.reward)
                if best is not worst:
                    yield _pair(run, state, view.index, prefix, best, worst)
            else:
                for loser in failed:
                    yield _pair(run, state, view.index, prefix, passed[0], loser)
        if view.accepted is not None:
            prefix += view.accepted.text


def to_pairs(bundles: Iterable[Bundle], min_gap: float | None = None) -> str:
    """One JSON line per pair (with ``min_gap``, only those whose reward gap is at least that), escaped as the
    JSONL export is; runs taken out of their conversation give none. With soft acceptance a passed segment can
    score below a failed one: kept unless a gap is asked."""
    return "".join(
        _json_line(pair)
        for bundle in bundles
        for run, events in bundle.runs
        if run.id not in bundle.removed
        for pair in pairs_of(run, events)
        if min_gap is None or pair["chosen_reward"] - pair["rejected_reward"] >= min_gap
    )


def removed_count(bundles: Iterable[Bundle]) -> int:
    """How many of the bundles' runs ``to_pairs`` leaves out as taken out of their conversation."""
    return sum(run.id in bundle.removed for bundle in bundles for run, _ in bundle.runs)


def export_pairs(
    store: Store, kind: str | None, ident: str | None, path: Path,
    force: bool = False, min_gap: float | None = None,
) -> tuple[int, int]:
    """Write the pairs of one run, one session or (``kind`` None) every session to ``path``; how many pairs
    were written, and how many removed runs were left out."""
    format_for(path, PAIRS, force)
    if kind is None:
        bundles = [session_bundle(store, s.id) for s in store.list_sessions()]
    else:
        bundles = [run_bundle(store, ident or "") if kind == "run" else session_bundle(store, ident or "")]
    text = to_pairs(bundles, min_gap)
    write_text(path, text, force)
    return text.count("\n"), removed_count(bundles)
