"""A comparison as one record linking its runs, on a real SQLite file: recorded, read back in column
order, counted with its session, refused when it cannot be right, kept by a schema-6 file's upgrade,
exported side by side and imported back, listed by ``stars sessions`` and replayed by ``stars replay``."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sqlite3

import pytest
from fakes import ScriptedPolicy, ScriptedReward
from sqlite_utils import Database

from stars_engine.engine import run
from stars_engine.errors import StarsError
from stars_engine.events import AttemptScored, RunFinished, RunStarted
from stars_engine.params import Params
from stars_engine.store import export_session, import_jsonl, open_store
from stars_engine.store.comparisons import (
    comparison_events,
    comparisons_of,
    load_comparison,
    offsets,
    pace_together,
    record_comparison,
    timeline,
)
from stars_engine.store.recorder import RunWriter
from stars_engine.store.schema import SCHEMA_VERSION, migrations

from .helpers import cli, record_compared, record_fake

PROMPT = "be kind | and <b>clear</b>\x1b[31m"


@pytest.fixture
def compared(tmp_path):
    """A real file holding one comparison of three columns (vanilla, bon-2, stars) on the scripted models."""
    db = tmp_path / "c.db"
    comparison_id, session_id, engine_side = record_compared(
        db, ScriptedPolicy(eos_after=10), ScriptedReward(), "vanilla,bon-2,stars:seg=3:k=4", PROMPT, base_seed=11)
    return db, comparison_id, session_id, engine_side


def test_a_recorded_comparison_reads_back_in_column_order_with_its_runs(compared):
    db, comparison_id, session_id, engine_side = compared
    with open_store(db) as store:
        c = load_comparison(store, comparison_id)
        assert comparisons_of(store, session_id) == [c]
        runs = store.runs_of(session_id)
        assert store.session(session_id).comparisons == 1
        assert [s.comparisons for s in store.list_sessions()] == [1]
    assert (c.session_id, c.prompt, c.base_seed) == (session_id, PROMPT, 11)
    assert [(col.index, col.spec) for col in c.columns] == [(0, "vanilla"), (1, "bon-2"), (2, "stars:seg=3:k=4")]
    assert [col.run.id for col in c.columns] == [o.run_id for o in engine_side.outcomes]
    assert [col.run.final_text for col in c.columns] == [o.text for o in engine_side.outcomes]
    # stars compare records the columns as the runs of one turn, as the compare screen does: the comparison's
    assert c.turn == 0 and [r.turn for r in runs] == [0] * len(c.columns)
    assert {(r.id, r.comparison_id, r.comparison_column) for r in runs} == {
        (col.run.id, comparison_id, col.index) for col in c.columns}
    guide = engine_side.outcomes[c.winners()[0][1]].stats.final_reward
    assert c.winners()[0][0] == "guide reward"
    assert guide == max(o.stats.final_reward for o in engine_side.outcomes)
    assert c.verdict_lines()[0].startswith("guide reward: ")


def test_a_column_that_never_ran_and_a_given_turn_are_kept(tmp_path):
    db = tmp_path / "c.db"
    first, _ = record_fake(db, "hello")
    comparison_id = record_comparison(db, first.session_id, 4, "hello", 0,
                                      [(1, "bon-4", None), (0, "stars", first.run_id)], None)
    with open_store(db) as store:
        c = load_comparison(store, comparison_id)
        assert comparison_events(store, c)[1] == []
    assert (c.turn, c.summary, c.winners(), c.verdict_lines()) == (4, {}, [], [])
    assert [(col.index, col.spec, col.run and col.run.id) for col in c.columns] == [
        (0, "stars", first.run_id), (1, "bon-4", None)]


def _link_state(db):
    with sqlite3.connect(db) as conn:
        return (conn.execute("SELECT count(*) FROM comparisons").fetchone()[0],
                conn.execute("SELECT id, comparison_id, comparison_column FROM runs ORDER BY id").fetchall())


@pytest.mark.parametrize("case, words", [
    ("no session", "no session"),
    ("run of another session", "is in session"),
    ("run already compared", "already column 0 of comparison"),
    ("repeated column", "distinct"),
    ("same run twice", "cannot be two columns"),
    ("nan in the summary", "summary"),
    ("negative seed", "base seed"),
    ("no such run", "no run"),
])
def test_a_comparison_that_cannot_be_right_is_one_line_and_writes_nothing(tmp_path, case, words):
    db = tmp_path / "c.db"
    a, _ = record_fake(db, "one")
    b, _ = record_fake(db, "two", session_id=a.session_id)
    other, _ = record_fake(db, "elsewhere")
    if case == "run already compared":
        record_comparison(db, a.session_id, None, "one", 1, [(0, "x", a.run_id), (1, "y", None)], None)
    before = _link_state(db)
    session, seed, summary = a.session_id, 1, None
    columns = [(0, "vanilla", a.run_id), (1, "bon-2", b.run_id)]
    if case == "no session":
        session = "feedface"
    elif case == "run of another session":
        columns[1] = (1, "bon-2", other.run_id)
    elif case == "repeated column":
        columns[1] = (0, "bon-2", b.run_id)
    elif case == "same run twice":
        columns[1] = (1, "bon-2", a.run_id)
    elif case == "nan in the summary":
        summary = {"guide": {"scores": {"0": math.nan}}}
    elif case == "negative seed":
        seed = -1
    elif case == "no such run":
        columns[1] = (1, "bon-2", "0badc0de")
    with pytest.raises(StarsError) as caught:
        record_comparison(db, session, None, "one", seed, columns, summary)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert _link_state(db) == before


def test_a_schema_6_file_upgrades_keeping_every_row(tmp_path):
    db_path = tmp_path / "six.db"
    db = Database(db_path)
    migrations.apply(db, stop_before="0007_comparisons")
    db.execute("PRAGMA user_version = 6")
    messages = [{"role": "user", "content": "an old question"}]
    writer = RunWriter(db)
    for event in run(ScriptedPolicy(eos_after=10), ScriptedReward(), messages,
                     Params(segment_tokens=3, max_new_tokens=12, max_attempts=4, seed=7)):
        writer.write(event)
    db.conn.commit()
    tables = ("sessions", "runs", "messages", "attempts", "segments", "param_changes")
    before = {t: [dict(r) for r in db[t].rows] for t in tables}
    db.close()
    assert before["attempts"] and before["runs"]

    with open_store(db_path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 7
        after = {t: [dict(r) for r in store.db[t].rows] for t in tables}
        assert store.db["comparisons"].count == 0
        (info,) = store.runs_of(writer.session_id)
    added = {"comparison_id": "", "comparison_column": -1}
    assert after["runs"] == [{**row, **added} for row in before["runs"]]
    assert {t: rows for t, rows in after.items() if t != "runs"} == {t: r for t, r in before.items() if t != "runs"}
    assert (info.comparison_id, info.comparison_column) == ("", -1)


def test_offsets_add_up_each_attempts_time_and_columns_start_together(compared):
    db, comparison_id, _, _ = compared
    with open_store(db) as store:
        columns = comparison_events(store, load_comparison(store, comparison_id))
    merged = timeline(columns)
    assert [at for at, _, _ in merged] == sorted(at for at, _, _ in merged)
    assert sorted((p, id(e)) for _, p, e in merged) == sorted((p, id(e)) for p, es in enumerate(columns) for e in es)
    assert [type(e) for _, p, e in merged[:3]] == [RunStarted] * 3  # every column starts at 0
    for events in columns:
        times = offsets(events)
        attempts = [e.elapsed_ms / 1000 for e in events if isinstance(e, AttemptScored)]
        assert times[-1] == pytest.approx(sum(attempts))
    slept: list[float] = []
    paced = list(pace_together(columns, 2.0, slept.append))
    assert [e for _, e in paced] == [e for _, _, e in merged]
    assert sum(slept) == pytest.approx(merged[-1][0] / 2.0)


def test_exports_show_the_columns_side_by_side_and_import_brings_the_comparison_back(compared, tmp_path):
    db, comparison_id, session_id, engine_side = compared
    files = {fmt: tmp_path / f"s.{fmt}" for fmt in ("md", "html", "csv", "jsonl")}
    with open_store(db) as store:
        original = load_comparison(store, comparison_id)
        for fmt, path in files.items():
            export_session(store, session_id, fmt, path)
    md = files["md"].read_text()
    assert "| 1\\. vanilla | 2\\. bon-2 | 3\\. stars:seg=3:k=4 |" in md
    reply_row = next(line for line in md.splitlines() if line.startswith("| reply |"))
    assert reply_row.count(" | ") == 3  # one cell per column
    assert "> be kind \\| and \\<b\\>clear\\</b\\>\\\\x1b\\[31m" in md and "\x1b" not in md
    html = files["html"].read_text()
    assert html.count('<div class="column') == 3 and 'class="compare"' in html
    assert "<b>clear" not in html and "&lt;b&gt;clear" in html and "\x1b" not in html
    rows = list(csv.DictReader(io.StringIO(files["csv"].read_text())))
    assert {(r["run_id"], r["comparison_id"], r["comparison_column"]) for r in rows} == {
        (col.run.id, comparison_id, str(col.index + 1)) for col in original.columns}
    lines = [json.loads(line) for line in files["jsonl"].read_text().splitlines()]
    assert lines[0]["version"] == 2 and lines[-1]["type"] == "comparison"
    assert [(line["comparison_id"], line["comparison_column"]) for line in lines if line["type"] == "run"] == [
        (comparison_id, i) for i in range(3)]

    with open_store(tmp_path / "b.db") as store:
        assert import_jsonl(store, files["jsonl"]) == [session_id]
        assert load_comparison(store, comparison_id) == original
        assert store.session(session_id).comparisons == 1
        assert [r.turn for r in store.runs_of(session_id)] == [0, 0, 0]  # still one turn: the line names it
        for fmt in files:
            export_session(store, session_id, fmt, tmp_path / f"again.{fmt}")
        with pytest.raises(StarsError, match="already in"):
            import_jsonl(store, files["jsonl"])
    for fmt, path in files.items():
        assert (tmp_path / f"again.{fmt}").read_bytes() == path.read_bytes(), fmt


def _rewrite(path, change):
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    lines = change(lines)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


@pytest.mark.parametrize("how, words", [
    ("drop the comparison line", "which no comparison line"),
    ("wrong column on a run line", "line names comparison"),
    ("comparison before its runs", "no run"),
    ("a run line with a column and no comparison", "comparison_column without"),
    ("summary nested too deep", "nested"),
])
def test_an_import_whose_comparison_does_not_hold_together_is_refused_whole(compared, tmp_path, how, words):
    db, _, session_id, _ = compared
    path = tmp_path / "s.jsonl"
    with open_store(db) as store:
        export_session(store, session_id, "jsonl", path)

    def change(lines):
        runs = [line for line in lines if line["type"] == "run"]
        if how == "drop the comparison line":
            return lines[:-1]
        if how == "wrong column on a run line":
            runs[0]["comparison_column"] = 2
        elif how == "comparison before its runs":
            return [lines[0], lines[-1], *lines[1:-1]]
        elif how == "a run line with a column and no comparison":
            runs[0].pop("comparison_id")
        elif how == "summary nested too deep":
            deep: dict = {}
            for _ in range(40):
                deep = {"x": deep}
            lines[-1]["summary"] = deep
        return lines

    _rewrite(path, change)
    with open_store(tmp_path / "b.db") as store:
        with pytest.raises(StarsError) as caught:
            import_jsonl(store, path)
        assert store.list_sessions() == []
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_reopened_in_the_app_a_comparison_is_one_turn_answered_by_its_newest_column(compared):
    """As ``stars compare`` records it now (the compare screen's way), the session reopens as one exchange,
    not one copy of the prompt per column: the columns are runs of that turn, the newest one shown."""
    from stars_tui.saved_session import load_session

    db, _, session_id, engine_side = compared
    with open_store(db) as store:
        runs = store.runs_of(session_id)
        saved = load_session(store, session_id)
    assert [r.id for r in runs] == [o.run_id for o in engine_side.outcomes]  # column order
    assert [t["role"] for t in saved.turns] == ["user", "assistant"] and saved.turns[0]["content"] == PROMPT
    assert (saved.turns[1]["content"], saved.last_run_id) == (runs[-1].final_text, runs[-1].id)
    assert (saved.numbers, saved.next_number) == ([0], 1)


def test_deleting_the_session_deletes_its_comparison(compared):
    db, comparison_id, session_id, _ = compared
    with open_store(db) as store:
        store.delete_session(session_id)
        assert store.db["comparisons"].count == 0
        with pytest.raises(StarsError, match="no comparison"):
            load_comparison(store, comparison_id)


def test_sessions_list_and_show_name_the_comparison_and_its_columns(compared, capsys):
    db, comparison_id, session_id, engine_side = compared
    code, out, _ = cli(["sessions", "list", "--db", str(db)], capsys)
    assert code == 0 and "compared" in out
    row = next(line for line in out.splitlines() if session_id in line)
    assert re.search(r" 1 +3 +1 +finished ", row), row  # one turn, its three columns' runs, one comparison

    code, out, err = cli(["sessions", "show", session_id, "--db", str(db)], capsys)
    assert code == 0, err
    assert f"comparison {comparison_id} · turn 1 · base seed 11 · 3 columns" in out
    assert "user: be kind | and <b>clear</b>\\x1b[31m" in out and "\x1b" not in out
    for outcome in engine_side.outcomes:
        c = outcome.column
        line = next(x for x in out.splitlines() if x.startswith(f"  {c.index + 1}. {c.spec.label} · "))
        assert f"run {outcome.run_id} · {outcome.stats.tokens_generated} tok · guide " \
               f"{outcome.stats.final_reward:.3f}" in line
    with open_store(db) as store:
        what, winner = load_comparison(store, comparison_id).winners()[0]
    winning = next(x for x in out.splitlines() if x.startswith(f"  {winner + 1}. "))
    assert winning.endswith("won: guide reward")

    code, out, _ = cli(["sessions", "show", session_id, "--json", "--db", str(db)], capsys)
    data = json.loads(out)
    (shown,) = data["comparisons"]
    assert shown["id"] == comparison_id and shown["prompt"] == PROMPT
    assert [c["run_id"] for c in shown["columns"]] == [o.run_id for o in engine_side.outcomes]
    assert shown["winners"][0] == {"what": "guide reward", "column": winner}
    assert {(r["id"], r["comparison_column"]) for r in data["runs"]} == {
        (o.run_id, o.column.index) for o in engine_side.outcomes}


def test_replay_of_a_comparison_id_plays_every_column_tagged_by_its_column(compared, capsys):
    db, comparison_id, _, engine_side = compared
    code, out, err = cli(["replay", comparison_id[:6], "--plain", "--db", str(db)], capsys)
    assert code == 0, err
    assert f"comparison {comparison_id} · 3 columns" in out
    for outcome in engine_side.outcomes:
        tag = f"[{outcome.column.index + 1} {outcome.column.spec.label}] "
        finished = [line for line in out.splitlines() if line.startswith(tag + "assistant: ")]
        assert len(finished) == 1 and outcome.text.split()[0] in finished[0]
        assert sum(line.startswith(tag + "  seg ") for line in out.splitlines()) == sum(
            isinstance(e, AttemptScored) for e in _events(db, outcome.run_id))
    code, out, _ = cli(["replay", "--help"], capsys)
    assert "COMPARISON" in out and "side by side" in out


def _events(db, run_id):
    with open_store(db) as store:
        events = store.run_events(run_id)
    assert isinstance(events[-1], RunFinished)
    return events


@pytest.mark.parametrize("column, value", [("columns", "not json"), ("columns", '[[0, 5]]'), ("summary", "[1, 2]")])
def test_a_hand_edited_comparison_row_is_one_line_in_show_and_replay(compared, capsys, column, value):
    db, comparison_id, session_id, _ = compared
    with sqlite3.connect(db) as conn:
        conn.execute(f"UPDATE comparisons SET {column} = ?", [value])
    for argv in (["sessions", "show", session_id], ["replay", comparison_id, "--plain"]):
        code, out, err = cli([*argv, "--db", str(db)], capsys)
        assert code != 0 and "holds a row stars did not write" in err and f"comparison '{comparison_id}'" in err
        assert err.count("\n") == 1 and "Traceback" not in err
