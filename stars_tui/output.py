"""Standard output that fails the way a Unix tool does: quietly when the reader left, in one line otherwise.

``stars sessions | head -1`` closes the pipe under a write; ``stars sessions >
/dev/full`` fills the disk. Either surfaces as an ``OSError`` from whichever
print or Rich call happened to write, inside code that cannot tell it from a
database's ``OSError``. ``GuardedStdout`` turns them into two exceptions of
their own, which the entry point ends on (exit 141 quietly, or one line).
"""

from __future__ import annotations

import os
import sys
from typing import Any

EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE, as the shell reports `git log | head` under pipefail


class ReaderGone(Exception):
    """The reader closed standard output's pipe: the command should stop, saying nothing."""


class OutputFailed(Exception):
    """Standard output could not be written (a full disk, a dead terminal): not the input's fault."""


class GuardedStdout:
    """A text stream whose write errors are ``ReaderGone`` or ``OutputFailed``, never a bare ``OSError``
    (which click would turn into a silent exit 1 and anything else into a traceback)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _guarded(self, call: Any, *args: Any) -> Any:
        try:
            return call(*args)
        except BrokenPipeError:
            raise ReaderGone from None
        except OSError as exc:
            raise OutputFailed(exc.strerror or str(exc)) from None

    def write(self, text: str) -> int:
        return self._guarded(self._stream.write, text)

    def flush(self) -> None:
        self._guarded(self._stream.flush)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def stdout_to_devnull() -> None:
    """What is still buffered for standard output (flushed at exit) goes nowhere instead of failing again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
