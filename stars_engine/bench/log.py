"""Append-only JSONL logs that make the bench resumable.

Each finished cell (and each judge verdict) is one line, written and flushed as
soon as it exists, so a crash or Ctrl-C loses at most the item in flight. A
torn last line (a kill mid-write) is ignored on reading and the next append
starts on a fresh line.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def digest(*parts: Any) -> str:
    """A short stable hash of JSON-able parts: the identity of a cell or a verdict."""
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class JsonlLog:
    """Records keyed by their ``"key"`` field; a later line with the same key wins."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def load(self) -> dict[str, dict[str, Any]]:
        if not self.path.is_file():
            return {}
        records: dict[str, dict[str, Any]] = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "key" in record:
                records[record["key"]] = record
        return records

    def append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        torn = self.path.is_file() and self.path.stat().st_size > 0 and not self._ends_with_newline()
        with self.path.open("a", encoding="utf-8") as f:
            f.write(("\n" if torn else "") + json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as f:
            f.seek(-1, 2)
            return f.read(1) == b"\n"
