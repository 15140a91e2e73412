"""Open new databases in step with other processes: ``open_worker.py FOLDER COUNT START``.

Each process opens ``FOLDER/dN.db`` at ``START + N * 0.08`` seconds, so the
processes open each new file at the same moment. Prints how many opens failed,
with each failure's message on stderr.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from stars_engine.errors import StarsError
from stars_engine.store.connect import connect


def main(folder: Path, count: int, start: float) -> int:
    failed = 0
    for i in range(count):
        while time.time() < start + i * 0.08:
            time.sleep(0.0005)
        try:
            connect(folder / f"d{i}.db").conn.close()
        except StarsError as exc:
            failed += 1
            print(exc, file=sys.stderr)
    return failed


if __name__ == "__main__":
    print(main(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
