"""Which replies the held-out judge compares, and running it resumably.

Every strategy other than vanilla is judged against vanilla on the same prompt
and seed. STARS settings (anything that is neither vanilla nor Best-of-N) are
also judged against the Best-of-N whose mean tokens generated is closest to
theirs: Best-of-N "at similar compute".
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from .judge import PairJudge, compare
from .log import JsonlLog, digest

VS_VANILLA, VS_BON = "vs_vanilla", "vs_bon"


@dataclass(frozen=True)
class Pair:
    role: str
    strategy: str
    opponent: str
    prompt_id: str
    seed: int
    prompt: str
    reply: str
    other: str
    guide_diff: float | None = None  # the guide reward of ``reply`` minus that of ``other``
    length: int = 0  # reply tokens (accepted) of ``reply``
    other_length: int = 0

    def key(self, judge_id: str) -> str:
        return digest(judge_id, self.prompt, self.reply, self.other)


def ok(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if not r.get("error")]


def mean_tokens(records: list[dict[str, Any]]) -> dict[str, float]:
    by_label: dict[str, list[int]] = {}
    for r in ok(records):
        by_label.setdefault(r["strategy"], []).append(r["stats"]["tokens_generated"])
    return {label: fmean(values) for label, values in by_label.items()}


def opponents(records: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """{strategy: {role: opponent label}} for every strategy that gets judged."""
    kinds = {r["strategy"]: r["kind"] for r in ok(records)}
    tokens = mean_tokens(records)
    vanilla = [label for label, kind in kinds.items() if kind == "vanilla"]
    bons = [label for label, kind in kinds.items() if kind == "best-of-n"]
    out: dict[str, dict[str, str]] = {}
    for label, kind in kinds.items():
        roles: dict[str, str] = {}
        if vanilla and kind != "vanilla":
            roles[VS_VANILLA] = vanilla[0]
        if bons and kind not in ("vanilla", "best-of-n"):
            roles[VS_BON] = min(bons, key=lambda b: abs(tokens[b] - tokens[label]))
        if roles:
            out[label] = roles
    return out


def plan_pairs(records: list[dict[str, Any]]) -> list[Pair]:
    """Every comparison to make, for prompts and seeds where both sides finished."""
    cell = {(r["prompt_id"], r["seed"], r["strategy"]): r for r in ok(records)}
    roles = opponents(records)
    pairs = []
    for (prompt_id, seed, label), record in cell.items():
        for role, opponent in roles.get(label, {}).items():
            other = cell.get((prompt_id, seed, opponent))
            if other is not None:
                mine, theirs = record["guide_reward"], other["guide_reward"]
                diff = None if mine is None or theirs is None else mine - theirs
                pairs.append(Pair(role, label, opponent, prompt_id, seed, record["prompt"], record["text"],
                                  other["text"], diff, record["stats"]["tokens_accepted"],
                                  other["stats"]["tokens_accepted"]))
    return pairs


def judge_pairs(
    judges: dict[str, PairJudge],
    pairs: list[Pair],
    log: JsonlLog,
    on_pair: Callable[[Pair, bool], None] | None = None,
    in_flight: int = 1,
) -> dict[str, dict[str, Any]]:
    """Have every judge judge each pair not already in ``log``; return {verdict key: record}.

    A verdict's key is the judge's id and the two replies, never the decoding
    settings, so changing or adding a judge re-judges without re-decoding.
    Pairs with the same prompt and replies share one verdict; its strategy and
    opponent fields name the first pair that asked. A judge that declares
    ``concurrent`` (one on a server: each verdict is requests that wait, not
    work here) judges up to ``in_flight`` pairs at once; the log is written in
    pair order by this thread either way.
    """
    verdicts = log.load()
    for name, judge in judges.items():
        todo: dict[str, Pair] = {}  # the pairs to judge, by verdict key, in the order they are first asked
        for pair in pairs:
            if pair.key(judge.judge_id) not in verdicts:
                todo.setdefault(pair.key(judge.judge_id), pair)
        threads = max(1, in_flight) if getattr(judge, "concurrent", False) else 1
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bench-judge") as executor:
            answers = executor.map(lambda p, j=judge: compare(j, p.prompt, p.reply, p.other), todo.values())
            for pair in pairs:
                key = pair.key(judge.judge_id)
                skipped = key in verdicts
                if not skipped:
                    v = next(answers)  # the answers come in todo's order, which is this loop's order
                    verdicts[key] = {
                        "key": key, "judge": name, "judge_id": judge.judge_id, "tie_margin": judge.tie_margin,
                        "strategy": pair.strategy, "opponent": pair.opponent, "prompt_id": pair.prompt_id,
                        "seed": pair.seed, "outcome": v.outcome, "margin": v.margin, "as_first": v.as_first,
                        "as_second": v.as_second, "position_bias": v.position_bias,
                    }
                    log.append(verdicts[key])
                if on_pair:
                    on_pair(pair, skipped)
    return verdicts
