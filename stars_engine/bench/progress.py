"""A bench's progress as JSON lines, for a watcher in another process (``stars bench --tui``).

The output folder's logs hold the finished cells but not what a live view also
needs: how many cells the run has, which cells it reused from an earlier run,
how far the judging is, the summary with its plots, and whether the run was
stopped. ``ProgressWriter`` turns a run's ``Hooks`` into one line per fact;
``read_line`` validates a line on the watcher's side (the child is another
process: a line that is not one of these shapes is refused, not trusted).
"""

from __future__ import annotations

import threading
from typing import IO, Any

import msgspec

from .suite import Hooks

MAX_LINE = 16 * 1024 * 1024  # a cell is a few KiB and the summary some tens; more is not a progress line


class Stats(msgspec.Struct):
    """What the view and the summary read of a cell's run statistics."""

    tokens_generated: int
    wall_seconds: float


class CellRecord(msgspec.Struct):
    """The fields of a ``cells.jsonl`` record a watcher reads (the record itself carries more)."""

    key: str
    prompt_id: str
    prompt: str
    strategy: str
    seed: int
    policy_id: str
    reward_id: str
    error: str | None
    text: str | None = None
    guide_reward: float | None = None
    stats: Stats | None = None
    system: str = ""


class Total(msgspec.Struct, tag="total", forbid_unknown_fields=True):
    cells: int


class CellDone(msgspec.Struct, tag="cell", forbid_unknown_fields=True):
    record: dict[str, Any]
    reused: bool


class Pairs(msgspec.Struct, tag="pairs", forbid_unknown_fields=True):
    done: int
    total: int


class Finished(msgspec.Struct, tag="finished", forbid_unknown_fields=True):
    summary: dict[str, Any]


class Stopped(msgspec.Struct, tag="stopped", forbid_unknown_fields=True):
    """The run was asked to stop and did, after the cells in flight."""


Progress = Total | CellDone | Pairs | Finished | Stopped
_DECODER = msgspec.json.Decoder(Progress)


def read_line(line: bytes) -> Progress:
    """One progress line, validated (a cell's record too); ``msgspec.ValidationError``/``DecodeError`` if not."""
    message = _DECODER.decode(line)
    if isinstance(message, CellDone):
        msgspec.convert(message.record, CellRecord)
    return message


class ProgressWriter:
    """Writes each progress fact as one flushed line; the hooks may be called from several threads."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self._lock = threading.Lock()
        self._pairs = [0, 0]

    def write(self, message: Progress) -> None:
        line = msgspec.json.encode(message) + b"\n"
        with self._lock:
            self.stream.write(line)
            self.stream.flush()

    def _pairs_total(self, n: int) -> None:
        with self._lock:
            self._pairs = [0, n]
        self.write(Pairs(0, n))

    def _pair_done(self) -> None:
        with self._lock:
            self._pairs[0] += 1
            done, total = self._pairs
        self.write(Pairs(done, total))

    def hooks(self, inner: Hooks | None = None) -> Hooks:
        """Hooks that write the progress, then call ``inner``'s (a stop check, say)."""
        inner = inner or Hooks()

        def cells_total(n: int) -> None:
            self.write(Total(n))
            inner.cells_total(n)

        def cell_done(cell: Any, record: dict[str, Any], reused: bool) -> None:
            self.write(CellDone(record, reused))
            inner.cell_done(cell, record, reused)

        def pairs_total(n: int) -> None:
            inner.pairs_total(n)
            self._pairs_total(n)

        def pair_done(pair: Any, reused: bool) -> None:
            self._pair_done()
            inner.pair_done(pair, reused)

        return Hooks(cells_total, cell_done, pairs_total, pair_done)
