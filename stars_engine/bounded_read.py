"""Reading a file someone named, with a bound: the one way stars reads a settings, rubric or import file.

``Path.read_text`` on ``/dev/zero`` fills memory, and on a FIFO waits forever
for a writer. Here a file is opened with ``O_NONBLOCK`` (a FIFO opens at once),
anything but a regular file (FIFO, device, directory, socket) is refused by
what it is, and reading stops one byte past the cap, which the refusal names.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import StarsError

KiB = 1024
MiB = 1024 * KiB
SETTINGS_BYTES = MiB  # a settings file or a rubric is a few hundred bytes; a MiB is generous
IMPORT_LINE_BYTES = 64 * MiB  # one line of a JSONL export: one event, a long reply at most
_CHUNK = 64 * KiB


class MissingFile(StarsError):
    """The named file does not exist (a caller may take that as empty)."""


def size_text(limit: int) -> str:
    """``limit`` bytes as a person writes it: 256 KiB, 1 MiB."""
    for unit, size in (("GiB", 1024 * MiB), ("MiB", MiB), ("KiB", KiB)):
        if limit >= size and limit % size == 0:
            return f"{limit // size} {unit}"
    return f"{limit} bytes"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: Path, what: str) -> int:
    """A descriptor open for reading on ``path``, which must be a regular file (checked on the open
    descriptor, so a file swapped in between cannot slip through)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise MissingFile(f"{what} does not exist: {path}") from None
    except OSError as exc:
        raise StarsError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise StarsError(f"{what} {path} is {_kind(mode)}, not a regular file")
    return fd


def check_regular(path: Path, what: str) -> None:
    """Refuse ``path`` now unless it is a regular file that can be opened (before a slow step)."""
    os.close(open_regular(path, what))


def read_bytes(path: Path, what: str, limit: int) -> bytes:
    """The whole of a regular file of at most ``limit`` bytes."""
    fd = open_regular(path, what)
    too_big = StarsError(f"{what} {path} is larger than {size_text(limit)}")
    try:
        if os.fstat(fd).st_size > limit:
            raise too_big
        chunks, total = [], 0
        while total <= limit:  # st_size may be 0 (/proc) or grow while read: the cap holds anyway
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise StarsError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if total > limit:
        raise too_big
    return b"".join(chunks)


def _decoded(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StarsError(f"{where} is not UTF-8 text (byte 0x{data[exc.start]:02x} at {exc.start})") from None


def read_text(path: Path, what: str, limit: int) -> str:
    """A regular file of at most ``limit`` bytes as UTF-8 text."""
    return _decoded(read_bytes(path, what, limit), f"{what} {path}")


def parse_json(text: str, where: str) -> Any:
    """``text`` as JSON; broken or absurdly nested JSON is one line naming ``where``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise StarsError(f"{where}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise StarsError(f"{where}: JSON nested too deeply") from None


def read_json(path: Path, what: str, limit: int = SETTINGS_BYTES) -> Any:
    """A regular file of at most ``limit`` bytes, parsed as JSON."""
    return parse_json(read_text(path, what, limit), f"{what} {path}")


def read_lines(path: Path, what: str, line_limit: int = IMPORT_LINE_BYTES) -> Iterator[tuple[int, str]]:
    """(number, text) for each line of a regular file, split on newlines only, read as it is consumed:
    any file size, but a line longer than ``line_limit`` bytes (``/dev/zero``'s would never end) is
    refused with its number."""
    with os.fdopen(open_regular(path, what), "rb") as file:
        number = 0
        while True:
            try:
                raw = file.readline(line_limit + 1)
            except OSError as exc:
                raise StarsError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
            if not raw:
                return
            number += 1
            if len(raw) > line_limit and not (len(raw) == line_limit + 1 and raw.endswith(b"\n")):
                raise StarsError(f"{what} {path} line {number} is longer than {size_text(line_limit)}")
            yield number, _decoded(raw.rstrip(b"\n"), f"{what} {path} line {number}")
