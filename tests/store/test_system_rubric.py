"""A session's system prompt, the rubric each run was scored with, turn and run counts, the seed mode,
and mid-run parameter changes: recorded in a real SQLite file, shown, exported, imported back."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from fakes import ScriptedPolicy, ScriptedReward

from stars_engine.engine import run
from stars_engine.events import ParamsChanged, RunStarted, rubric_label
from stars_engine.params import Params
from stars_engine.store import Recorder, export_session, import_jsonl, open_store
from stars_tui.saved_session import load_session

from .helpers import cli, record_fake

SETTINGS = {"segment_tokens": 3, "max_new_tokens": 12, "max_attempts": 4, "seed": 7}


@dataclass(frozen=True)
class FakeRubric:
    prefer: list[str] = field(default_factory=lambda: ["be kind"])
    avoid: list[str] = field(default_factory=lambda: ["be rude"])
    relevance_weight: float = 0.5

    def to_dict(self) -> dict:
        return {"prefer": list(self.prefer), "avoid": list(self.avoid), "relevance_weight": self.relevance_weight}


class RubricReward(ScriptedReward):
    """The scripted reward, with an editable rubric as the default embedding reward has."""

    reward_id = "rubric-reward"

    def __init__(self, rubric: FakeRubric) -> None:
        super().__init__()
        self.rubric = rubric


def record(db: Path, messages: list[dict[str, str]], reward=None, session_id: str | None = None,
           turn: int | None = None, **params) -> Recorder:
    recorder = Recorder(db, session_id=session_id, turn=turn)
    source = Params(**{**SETTINGS, **params})
    for _ in recorder.record(run(ScriptedPolicy(eos_after=10), reward or ScriptedReward(), messages, source)):
        pass
    return recorder


def system(text: str) -> dict[str, str]:
    return {"role": "system", "content": text}


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def test_the_system_prompt_is_the_sessions_not_a_turn(tmp_path, capsys):
    db = tmp_path / "s.db"
    first = record(db, [system("Answer in French."), user("be kind")])
    with open_store(db) as store:
        assert store.session_system_prompt(first.session_id) == "Answer in French."
        [reply] = [m.content for m in store.messages_of(first.session_id) if m.role == "assistant"]
    history = [system("Answer in French."), user("be kind"), {"role": "assistant", "content": reply}]
    record(db, [*history, user("be clear")], session_id=first.session_id)
    with open_store(db) as store:
        messages = store.messages_of(first.session_id)
        assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]  # no system row
        assert [r.system_prompt for r in store.runs_of(first.session_id)] == ["Answer in French."] * 2
        store.set_system_prompt(first.session_id, "Answer in German.")
        assert store.session(first.session_id).system_prompt == "Answer in German."
        assert store.runs_of(first.session_id)[0].system_prompt == "Answer in French."  # as the run was given it
    code, out, _ = cli(["sessions", "list", "--db", str(db)], capsys)
    assert code == 0 and "system: Answer in German." in out


def test_system_prompt_and_rubric_survive_export_and_import(tmp_path, capsys):
    db = tmp_path / "a.db"
    first = record(db, [system("Be <b>brief</b>."), user("be kind")], RubricReward(FakeRubric()))
    record(db, [system("Be <b>brief</b>."), user("be kind"), {"role": "assistant", "content": "ok"},
                user("be clear")], RubricReward(FakeRubric(relevance_weight=2.0)), session_id=first.session_id)
    with open_store(db) as store:
        runs = store.runs_of(first.session_id)
        labels = [rubric_label(r.rubric) for r in runs]
        assert runs[0].rubric == FakeRubric().to_dict() and runs[1].rubric["relevance_weight"] == 2.0
        assert labels[0] != labels[1] and all(label.startswith("rubric ") for label in labels)
        for fmt in ("jsonl", "md", "html", "csv"):
            export_session(store, first.session_id, fmt, tmp_path / f"a.{fmt}")
    md = (tmp_path / "a.md").read_text()
    assert "**System prompt**" in md and r"Be \<b\>brief\</b\>." in md  # literal, escaped once
    assert all(label in md for label in labels)
    html = (tmp_path / "a.html").read_text()
    assert "Be &lt;b&gt;brief&lt;/b&gt;." in html and all(label in html for label in labels)
    csv_text = (tmp_path / "a.csv").read_text()
    header = csv_text.splitlines()[0]
    assert header.endswith(",text,system_prompt,rubric,comparison_id,comparison_column,removed")
    assert labels[1] in csv_text
    with open_store(tmp_path / "b.db") as store:
        import_jsonl(store, tmp_path / "a.jsonl")
        assert store.session_system_prompt(first.session_id) == "Be <b>brief</b>."
        assert [r.rubric for r in store.runs_of(first.session_id)] == [r.rubric for r in runs]
        export_session(store, first.session_id, "jsonl", tmp_path / "b.jsonl")
    assert (tmp_path / "b.jsonl").read_bytes() == (tmp_path / "a.jsonl").read_bytes()
    code, out, _ = cli(["sessions", "show", first.session_id, "--db", str(tmp_path / "b.db")], capsys)
    digests = [label.split()[1] for label in labels]  # the console wraps the rest at its width
    assert code == 0 and "system prompt: Be <b>brief</b>." in out and all(d in out for d in digests)
    code, out, _ = cli(["replay", first.session_id, "--plain", "--db", str(tmp_path / "b.db")], capsys)
    assert code == 0 and out.count("system: Be <b>brief</b>.") == 2 and all(d in out for d in digests)


def test_a_reward_without_a_rubric_exports_as_before(tmp_path):
    recorder, events = record_fake(tmp_path / "s.db")
    assert isinstance(events[0], RunStarted) and events[0].rubric == {}
    assert "rubric" not in events[0].to_dict()
    with sqlite3.connect(tmp_path / "s.db") as conn:
        assert conn.execute("SELECT rubric FROM runs").fetchone() == ("",)


def test_an_imported_rubric_of_the_wrong_shape_is_one_line(tmp_path, capsys):
    db = tmp_path / "a.db"
    recorder = record(db, [user("be kind")], RubricReward(FakeRubric()))
    with open_store(db) as store:
        export_session(store, recorder.session_id, "jsonl", tmp_path / "a.jsonl")
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    started = json.loads(lines[2])
    started["rubric"] = {"prefer": "be kind", "avoid": [], "relevance_weight": 0.5}
    lines[2] = json.dumps(started)
    (tmp_path / "bad.jsonl").write_text("\n".join(lines) + "\n")
    code, out, err = cli(["import", str(tmp_path / "bad.jsonl"), "--db", str(tmp_path / "b.db")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "line 3" in err and "rubric" in err and "prefer" in err


def test_turns_and_runs_are_counted_apart(tmp_path, capsys):
    db = tmp_path / "s.db"
    first = record(db, [user("be kind")])
    record(db, [user("be kind")], session_id=first.session_id, turn=0)  # the same turn again (F5)
    record(db, [user("be kind"), {"role": "assistant", "content": "ok"}, user("be clear")],
           session_id=first.session_id)
    with open_store(db) as store:
        info = store.session(first.session_id)
        assert (info.turns, info.runs) == (2, 3)
        export_session(store, first.session_id, "md", tmp_path / "s.md")
    assert "· 2 turn(s), 3 run(s)" in (tmp_path / "s.md").read_text()
    code, out, _ = cli(["sessions", "list", "--db", str(db)], capsys)
    header, row = out.splitlines()[:2]
    assert header.split()[2:4] == ["turns", "runs"] and row.split()[3:5] == ["2", "3"]  # after the id and "be kind"
    code, out, _ = cli(["sessions", "list", "--json", "--db", str(db)], capsys)
    assert [(s["turns"], s["runs"]) for s in json.loads(out)] == [(2, 3)]


def test_the_markdown_export_lists_parameter_changes_where_they_landed(tmp_path):
    db = tmp_path / "s.db"
    reads = []

    def source() -> Params:  # the bar's value, read at each segment: the threshold moves before segment 2
        reads.append(1)
        return Params(**{**SETTINGS, "threshold": 0.1 if len(reads) <= 2 else 0.3})

    recorder = Recorder(db)
    events = list(recorder.record(run(ScriptedPolicy(eos_after=10), ScriptedReward(), [user("be kind")], source)))
    [change] = [e for e in events if isinstance(e, ParamsChanged)]
    with open_store(db) as store:
        export_session(store, recorder.session_id, "md", tmp_path / "s.md")
    md = (tmp_path / "s.md").read_text()
    note = f"_params changed before segment {change.segment + 1}: threshold 0.1→0.3_"
    assert md.count(note) == 1
    assert md.index(f"**Segment {change.segment}**") < md.index(note) < md.index(f"**Segment {change.segment + 1}**")


def test_a_random_seed_is_still_random_when_the_session_is_reopened(tmp_path):
    db = tmp_path / "s.db"
    fixed = record(db, [user("be kind")], seed=11)
    drawn = record(db, [user("be clear")], seed=None)
    with open_store(db) as store:
        assert load_session(store, fixed.session_id).params.seed == 11
        saved = load_session(store, drawn.session_id)
        started = store.run_events(drawn.run_id)[0]
    assert saved.params is not None and saved.params.seed is None  # "random", as it was set
    assert isinstance(started, RunStarted) and started.seed >= 0 and started.params["seed"] is None


def test_a_reopened_session_keeps_its_system_prompt(tmp_path):
    db = tmp_path / "s.db"
    recorder = record(db, [system("Answer in haiku."), user("be kind")])
    with open_store(db) as store:
        saved = load_session(store, recorder.session_id)
    assert saved.system_prompt == "Answer in haiku."
    assert saved.conversation()[0] == user("be kind")  # the prompt is not a turn
