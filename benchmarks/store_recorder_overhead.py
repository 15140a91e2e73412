"""What recording costs a real run (target: under 2 % of the run's time).

    .venv/bin/python benchmarks/store_recorder_overhead.py [MAX_NEW_TOKENS] [PAIRS]

Loads the default models once, then:

1. Direct: decodes one run without the recorder, then times recording exactly
   that run's events (connection, migrations check, one transaction per
   event) into a fresh database. Overhead = recording time / decoding time.
   This isolates the recorder from the run-to-run noise of a shared CPU.
2. A/B: PAIRS pairs of the same run (same seed, so the same tokens) with and
   without the recorder, alternating; reports the median wall-time ratio. On a
   busy machine this one is noisier than the effect it measures.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from stars_engine.backends.local.load import load_policy, load_reward
from stars_engine.engine import run
from stars_engine.events import AttemptScored
from stars_engine.params import Params
from stars_engine.store import Recorder

MESSAGES = [{"role": "user", "content": "Give me three tips for sleeping well."}]


def timed(events) -> tuple[list, float]:
    started = time.perf_counter()
    out = list(events)
    return out, time.perf_counter() - started


def main(max_new_tokens: int = 48, pairs: int = 2) -> None:
    policy, reward = load_policy(), load_reward()
    params = Params(max_new_tokens=max_new_tokens, seed=11)
    folder = Path(tempfile.mkdtemp())
    events, decode_s = timed(run(policy, reward, MESSAGES, params))
    started = time.perf_counter()
    list(Recorder(folder / "direct.db").record(iter(events)))
    record_s = time.perf_counter() - started
    attempts = sum(isinstance(e, AttemptScored) for e in events)
    print(f"one run: {len(events)} events ({attempts} attempts), decoding {decode_s:.2f} s")
    print(f"direct: recording those events took {record_s * 1000:.1f} ms = {record_s / decode_s:.2%} of the run")
    ratios = []
    for i in range(pairs):
        _, plain_s = timed(run(policy, reward, MESSAGES, params))
        _, rec_s = timed(Recorder(folder / f"ab{i}.db").record(run(policy, reward, MESSAGES, params)))
        ratios.append(rec_s / plain_s)
        print(f"A/B pair {i + 1}: without {plain_s:.2f} s, with {rec_s:.2f} s ({rec_s / plain_s - 1:+.2%})")
    if ratios:
        print(f"A/B median: {statistics.median(ratios) - 1:+.2%} (noise on a shared CPU is larger than this)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
