"""How a comparison's columns share the model (at once, interleaved, in turn) on the scripted models:
the merged stream and its tags, the same reply per column whatever the schedule, cancel, and a recorder
per column in one session."""

from __future__ import annotations

import json
import threading

import pytest
from fakes import ScriptedPolicy, ScriptedReward, SiblingPolicy

from stars_engine import backends
from stars_engine.backends import Backend
from stars_engine.compare import AT_ONCE, IN_TURN, INTERLEAVED, Comparison, plan, schedule_of, summarize
from stars_engine.compare.recording import ColumnRecorders
from stars_engine.compare.schedule import at_once, check_schedule
from stars_engine.errors import StarsError
from stars_engine.events import RunFinished, RunStarted
from stars_engine.params import Params
from stars_engine.store import open_store
from stars_tui import cli

MESSAGES = [{"role": "user", "content": "hello there"}]
SPECS = "vanilla,bon-2,stars:seg=4"


def comparison(specs: str = SPECS, tokens: int = 12, seed: int = 3) -> Comparison:
    return Comparison(plan(specs, Params(max_new_tokens=tokens), seed), MESSAGES)


def test_the_policy_names_its_schedule_and_one_without_siblings_runs_in_turn():
    assert schedule_of(SiblingPolicy("at once")) == AT_ONCE
    assert schedule_of(SiblingPolicy("interleaved")) == INTERLEAVED
    assert schedule_of(ScriptedPolicy()) == IN_TURN  # no sibling(): one run at a time
    assert check_schedule(SiblingPolicy("at once"), IN_TURN) == IN_TURN  # any policy can go in turn
    with pytest.raises(StarsError, match="cannot run interleaved on scripted-policy: it holds one run at a time"):
        check_schedule(ScriptedPolicy(), INTERLEAVED)
    with pytest.raises(StarsError, match="unknown schedule 'sideways'"):
        check_schedule(SiblingPolicy(), "sideways")


def test_interleaved_columns_move_together_each_event_tagged_by_its_own_run():
    policy = SiblingPolicy("interleaved", eos_after=200)
    compared = comparison()
    tagged = list(compared.events(policy, ScriptedReward(), threading.Event()))
    order = [column.index for column, _ in tagged]
    assert order[:6] == [0, 1, 2, 0, 1, 2]  # one event of each column in turn
    starts = {column.index: event for column, event in tagged if isinstance(event, RunStarted)}
    assert {i: s.seed for i, s in starts.items()} == {0: 3, 1: 4, 2: 5}
    assert {i: s.strategy for i, s in starts.items()} == {0: "vanilla", 1: "best-of-n", 2: "stars"}
    finished = {column.index: event for column, event in tagged if isinstance(event, RunFinished)}
    assert [o.text for o in compared.outcomes] == [finished[i].text for i in range(3)]
    # every column ran on a sibling of its own, each released once the comparison ended
    assert len(policy.siblings) == 3 and all(s.released for s in policy.siblings)
    assert [compared.passes(c) for c in compared.columns] == [
        finished[i].stats.policy_forward_passes for i in range(3)]
    assert compared.passes(compared.columns[0]) == policy.siblings[0].forward_passes
    assert summarize(compared, {}, 3)["schedule"] == "interleaved"


@pytest.mark.parametrize("schedule", [AT_ONCE, INTERLEAVED])
def test_a_seed_gives_each_column_the_same_reply_whatever_the_schedule(schedule):
    in_turn = comparison()
    list(in_turn.events(ScriptedPolicy(eos_after=200), ScriptedReward(), threading.Event()))
    side_by_side = comparison()
    list(side_by_side.events(SiblingPolicy(schedule, eos_after=200), ScriptedReward(), threading.Event()))
    assert side_by_side.schedule == schedule and in_turn.schedule == IN_TURN
    assert [o.text for o in side_by_side.outcomes] == [o.text for o in in_turn.outcomes]
    assert all(o.text for o in in_turn.outcomes)
    assert len({o.text for o in in_turn.outcomes}) == 3  # distinct seeds, distinct replies: a mix-up would show


class MeetingPolicy(SiblingPolicy):
    """Column 0's run cannot finish its first round until column 1's run has started: only columns
    that really run at once get past it."""

    def __init__(self, together: str = AT_ONCE, met: threading.Event | None = None, **options) -> None:
        super().__init__(together, **options)
        self.met = met or threading.Event()

    def sibling(self) -> MeetingPolicy:
        twin = MeetingPolicy(self.together, self.met, **self.options)
        self.siblings.append(twin)
        return twin

    def start(self, messages, seed):
        if seed != 20:  # not column 0
            self.met.set()
        return super().start(messages, seed)

    def sample(self, n, max_tokens, sampling, cancel=None):
        if not self.met.wait(10):
            raise RuntimeError("column 1 never started while column 0 ran")
        return super().sample(n, max_tokens, sampling, cancel)


def test_at_once_runs_every_column_in_its_own_thread_merged_in_one_stream():
    compared = comparison("vanilla,bon-2", seed=20)
    tagged = list(compared.events(MeetingPolicy(eos_after=200), ScriptedReward(), threading.Event()))
    assert compared.schedule == AT_ONCE
    assert all(o.error is None and o.stop_reason for o in compared.outcomes), [o.error for o in compared.outcomes]
    assert tagged[0][0].index == 0 and isinstance(tagged[0][1], RunStarted)  # column 0 starts first
    for column in compared.columns:  # each column's own events in order: started, ..., finished
        own = [event for c, event in tagged if c is column]
        assert isinstance(own[0], RunStarted) and isinstance(own[-1], RunFinished)
        assert own[0].seed == column.seed


def test_a_stream_that_raises_stops_the_others_and_raises_once_they_end():
    cancel = threading.Event()
    seen = []

    def broken():
        yield "a"
        raise OSError("disk full")

    def patient():
        while not cancel.wait(0.01):
            yield "b"
        seen.append("stopped")

    with pytest.raises(OSError, match="disk full"):
        list(at_once([broken, patient], cancel))
    assert cancel.is_set() and seen == ["stopped"]


@pytest.mark.parametrize("schedule", [AT_ONCE, INTERLEAVED])
def test_cancel_stops_every_column_and_each_keeps_its_recorded_run(schedule, tmp_path):
    db = tmp_path / "s.db"
    recorders = ColumnRecorders(db)
    compared = comparison("vanilla,bon-2", tokens=400)
    cancel = threading.Event()
    started: set[int] = set()
    for column, event in compared.events(SiblingPolicy(schedule, delay=0.002), ScriptedReward(), cancel,
                                         recorders.wrap):
        if isinstance(event, RunStarted):
            started.add(column.index)
        elif started == {0, 1}:  # both mid-run
            cancel.set()
    assert [o.stop_reason for o in compared.outcomes] == ["cancelled", "cancelled"]
    assert all(o.error is None for o in compared.outcomes)
    with open_store(db) as store:
        (session,) = store.list_sessions()
        runs = store.runs_of(session.id)
    assert sorted(r.id for r in runs) == sorted(recorders.run_id(c) for c in compared.columns)
    by_id = {r.id: r for r in runs}
    for column, outcome in zip(compared.columns, compared.outcomes):
        run = by_id[recorders.run_id(column)]
        assert (run.status, run.stop_reason, run.final_text) == ("finished", "cancelled", outcome.text)


@pytest.mark.parametrize("schedule", [AT_ONCE, INTERLEAVED])
def test_every_column_records_its_own_run_of_one_turn_in_one_new_session(schedule, tmp_path):
    db = tmp_path / "s.db"
    recorders = ColumnRecorders(db)
    compared = comparison()
    list(compared.events(SiblingPolicy(schedule, eos_after=200), ScriptedReward(), threading.Event(),
                         recorders.wrap))
    run_ids = [recorders.run_id(c) for c in compared.columns]
    assert len(set(run_ids)) == 3 and None not in run_ids
    with open_store(db) as store:
        (session,) = store.list_sessions()
        runs = {r.id: r for r in store.runs_of(session.id)}
    assert recorders.session_id == session.id
    assert [(runs[i].strategy, runs[i].turn, runs[i].final_text) for i in run_ids] == [
        (c.params.strategy, 0, o.text) for c, o in zip(compared.columns, compared.outcomes)]
    assert session.turns == 1 and session.runs == 3  # one prompt, answered by every column


def test_columns_join_a_given_session_as_one_turn(tmp_path):
    db = tmp_path / "s.db"
    first = ColumnRecorders(db)
    list(comparison("vanilla,bon-2").events(SiblingPolicy(), ScriptedReward(), threading.Event(), first.wrap))
    again = ColumnRecorders(db, session_id=first.session_id, turn=5)
    compared = comparison("vanilla,bon-2", seed=9)
    list(compared.events(SiblingPolicy(), ScriptedReward(), threading.Event(), again.wrap))
    with open_store(db) as store:
        (session,) = store.list_sessions()
        runs = {r.id: r for r in store.runs_of(session.id)}
    assert len(runs) == 4 and again.session_id == session.id
    assert [runs[again.run_id(c)].turn for c in compared.columns] == [5, 5]


def test_columns_join_a_given_session_as_its_next_turn_when_none_is_given(tmp_path):
    db = tmp_path / "s.db"
    first = ColumnRecorders(db)
    list(comparison("vanilla,bon-2").events(SiblingPolicy(), ScriptedReward(), threading.Event(), first.wrap))
    again = ColumnRecorders(db, session_id=first.session_id)
    compared = comparison("vanilla,bon-2", seed=9)
    list(compared.events(SiblingPolicy(), ScriptedReward(), threading.Event(), again.wrap))
    with open_store(db) as store:
        runs = {r.id: r.turn for r in store.runs_of(first.session_id)}
    assert sorted(runs.values()) == [0, 0, 1, 1]
    assert [runs[again.run_id(c)] for c in compared.columns] == [1, 1]


def test_a_missing_session_is_refused_before_any_column_runs(tmp_path):
    db = tmp_path / "s.db"
    ColumnRecorders(db)
    with pytest.raises(StarsError, match="no session nosuch"):
        ColumnRecorders(db, session_id="nosuch")


def test_the_command_says_and_records_the_schedule(capsys, tmp_path):
    db = tmp_path / "s.db"
    siblings = Backend("local", lambda spec, count: ([SiblingPolicy(eos_after=200)], ScriptedReward()))
    with backends.registered(siblings):
        try:
            cli.main(["compare", "hello", "--strategies", "vanilla,bon-2", "--seed", "3", "--max-new-tokens", "8",
                      "--judge", "none", "--json", "--db", str(db)])
        except SystemExit as exc:
            assert not exc.code
    out, err = capsys.readouterr()
    *events, summary = [json.loads(line) for line in out.splitlines()]
    assert "the columns run interleaved" in err.splitlines()[0]
    assert [e["column"] for e in events[:4]] == [0, 1, 0, 1]
    assert summary["schedule"] == "interleaved"
    with open_store(db) as store:
        (session,) = store.list_sessions()
        runs = store.runs_of(session.id)
    assert sorted(r.id for r in runs) == sorted(c["run_id"] for c in summary["columns"])
    assert {r.status for r in runs} == {"finished"}
    assert {r.turn for r in runs} == {0} and (session.turns, session.runs) == (1, 2)  # as the compare screen


AT_ONCE_STARS = """
import sys
sys.path.insert(0, {tests!r})
from fakes import ScriptedReward, SiblingPolicy
from stars_engine import backends
from stars_engine.backends import Backend
from stars_tui import cli
backends.register(Backend("local", lambda spec, count: ([SiblingPolicy("at once", delay=0.01)], ScriptedReward())))
cli.main()
"""


def test_ctrl_c_stops_columns_running_at_once_and_keeps_both_runs_as_cancelled(tmp_path):
    """The main thread waits on the columns' threads; Ctrl-C still reaches it and stops them all."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    db = tmp_path / "s.db"
    script = AT_ONCE_STARS.format(tests=str(Path(__file__).resolve().parent))
    proc = subprocess.Popen([sys.executable, "-c", script, "compare", "hi", "--strategies", "vanilla,stars:seg=4",
                             "--json", "--judge", "none", "--max-new-tokens", "400", "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    seen = set()
    while seen != {0, 1}:  # both columns are decoding
        event = json.loads(proc.stdout.readline())
        if event["type"] != "RunStarted":
            seen.add(event["column"])
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["schedule"] == "at once"
    assert [c["stop_reason"] for c in summary["columns"]] == ["cancelled", "cancelled"]
    with open_store(db) as store:
        (session,) = store.list_sessions()
        assert session.statuses == ("cancelled", "cancelled")
