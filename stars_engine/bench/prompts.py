"""The bench's prompt set: a JSONL file, one ``{"id", "category", "prompt"}`` object a line.

The shipped set (``prompts.jsonl`` next to this module) has five categories:
everyday advice, requests to decline politely, factual questions, creative
tasks and multi-sentence explanations. ``--limit`` takes prompts round-robin
across categories, so a small run still covers every kind of prompt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

from ..bounded_read import MiB, read_lines
from ..errors import StarsError

PROMPT_LINE_BYTES = MiB

SHIPPED = Path(__file__).with_name("prompts.jsonl")


@dataclass(frozen=True)
class BenchPrompt:
    id: str
    category: str
    prompt: str


def _parse_line(path: Path, number: int, line: str) -> BenchPrompt:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise StarsError(f"{path} line {number}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise StarsError(f"{path} line {number}: JSON nested too deeply") from None
    if not isinstance(data, dict) or not isinstance(data.get("prompt"), str) or not data["prompt"].strip():
        raise StarsError(f'{path} line {number}: expected an object with a non-empty "prompt" string')
    return BenchPrompt(
        id=str(data.get("id") or f"line-{number}"),
        category=str(data.get("category") or "other"),
        prompt=data["prompt"].strip(),
    )


def load_prompts(path: Path | None = None) -> list[BenchPrompt]:
    """Read a prompt file (default: the shipped set); a bad or empty file is a StarsError."""
    path = Path(path) if path is not None else SHIPPED
    lines = read_lines(path, "prompt file", PROMPT_LINE_BYTES)  # a FIFO, a device, an endless line: refused
    prompts = [_parse_line(path, n, line) for n, line in lines if line.strip()]
    if not prompts:
        raise StarsError(f"prompt file {path} has no prompts")
    seen: set[str] = set()
    for p in prompts:
        if p.id in seen:
            raise StarsError(f"prompt file {path}: id {p.id!r} appears twice")
        seen.add(p.id)
    return prompts


def take(prompts: list[BenchPrompt], limit: int | None) -> list[BenchPrompt]:
    """The first ``limit`` prompts taken round-robin across categories (all when None)."""
    if limit is None:
        return list(prompts)
    if limit < 1:
        raise StarsError(f"--limit must be at least 1, got {limit}")
    groups: dict[str, list[BenchPrompt]] = {}
    for p in prompts:
        groups.setdefault(p.category, []).append(p)
    interleaved = [p for row in zip_longest(*groups.values()) for p in row if p is not None]
    return interleaved[:limit]
