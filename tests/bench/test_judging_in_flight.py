"""A judge on a server judges several pairs at once; the log keeps pair order, and a resume re-asks nothing."""

import threading
import time

from stars_engine.bench.judging import Pair, judge_pairs
from stars_engine.bench.log import JsonlLog


class SlowJudge:
    """Waits as a server would; counts how many verdicts were asked at the same time."""

    tie_margin = 0.0

    def __init__(self, concurrent: bool):
        self.concurrent = concurrent
        self.judge_id = f"slow {concurrent}"
        self.lock = threading.Lock()
        self.now = self.most = self.asked = 0

    def prefer(self, prompt: str, first: str, second: str) -> float:
        with self.lock:
            self.now += 1
            self.asked += 1
            self.most = max(self.most, self.now)
        time.sleep(0.02)
        with self.lock:
            self.now -= 1
        return float(len(first) - len(second))


def pairs(count: int) -> list[Pair]:
    made = [Pair("vs vanilla", "bon-2", "vanilla", f"p{i}", 0, "q", "long" * (i + 1), "x") for i in range(count)]
    return made + made[:3]  # the same replies asked again share one verdict


def test_a_concurrent_judge_keeps_verdicts_in_flight_and_the_log_in_pair_order(tmp_path):
    judge, log = SlowJudge(concurrent=True), JsonlLog(tmp_path / "v.jsonl")
    seen = []
    verdicts = judge_pairs({"slow": judge}, pairs(12), log, lambda p, skipped: seen.append(skipped), in_flight=4)
    assert judge.most > 1 and judge.asked == 2 * 12  # both orders of each distinct pair
    written = [r["prompt_id"] for r in log.load().values()]
    assert written == [f"p{i}" for i in range(12)] and len(verdicts) == 12
    assert seen == [False] * 12 + [True] * 3
    again = SlowJudge(concurrent=True)
    again.judge_id = judge.judge_id
    judge_pairs({"slow": again}, pairs(12), log, in_flight=4)
    assert again.asked == 0


def test_a_judge_that_is_not_concurrent_is_asked_one_pair_at_a_time(tmp_path):
    judge = SlowJudge(concurrent=False)
    judge_pairs({"slow": judge}, pairs(6), JsonlLog(tmp_path / "v.jsonl"), in_flight=4)
    assert judge.most == 1 and judge.asked == 2 * 6
