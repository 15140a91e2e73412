"""Exports mark the runs of a turn taken out of the conversation, and name changed knobs by their labels.

A real SQLite file, runs recorded with the scripted fakes, turns deleted and
edited through ``store/turns.py``: every format keeps the removed runs (they
are the record) and says they left the chat; JSONL still imports back to the
same bytes.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import pytest
from fakes import ScriptedPolicy, ScriptedReward

from stars_engine.decoding import labels
from stars_engine.engine import run
from stars_engine.errors import StarsError
from stars_engine.events import ParamsChanged
from stars_engine.params import Params
from stars_engine.run_state import describe_changes
from stars_engine.store import Recorder, export_run, export_session, import_jsonl, open_store
from stars_engine.store.turns import remove_turns, removed_runs

DELETED = "*(deleted from the conversation; kept for the record)*"
EDITED = "*(edited out of the conversation; kept for the record)*"


def record_turn(db: Path, session: str | None, turn: int, prompt: str, change_segment: bool = False) -> Recorder:
    """One scripted run of ``turn``; ``change_segment``: segment_tokens goes 3 → 2 after the first segment."""
    calls: list[int] = []

    def source() -> Params:
        calls.append(1)
        segment = 2 if change_segment and len(calls) > 2 else 3  # the first two reads: the start, segment 1
        return Params(segment_tokens=segment, max_new_tokens=9, max_attempts=3, seed=7)

    recorder = Recorder(db, session_id=session, turn=turn)
    list(recorder.record(run(ScriptedPolicy(eos_after=6), ScriptedReward(), [{"role": "user", "content": prompt}],
                             source)))
    return recorder


def session_with_removed_turns(db: Path) -> tuple[str, dict[str, str]]:
    """Four turns: "rivers" kept, "lakes" deleted, "seas" edited, "oceans" kept with a knob changed mid-run.
    Returns the session and each prompt's run id."""
    first = record_turn(db, None, 0, "rivers")
    session = first.session_id
    runs = {"rivers": first.run_id}
    for turn, prompt in ((1, "lakes"), (2, "seas"), (3, "oceans")):
        runs[prompt] = record_turn(db, session, turn, prompt, change_segment=prompt == "oceans").run_id
    with open_store(db) as store:
        assert remove_turns(store, session, [1], "deleted") == 1
        assert remove_turns(store, session, [2], "edited") == 1
    return session, runs


def export(db: Path, session: str, fmt: str, out: Path) -> str:
    with open_store(db) as store:
        return export_session(store, session, fmt, out / f"s.{fmt}").read_bytes().decode()


def turn_blocks(markdown: str) -> dict[str, str]:
    """Each run's Markdown block (from its ``## Turn`` heading to the next heading of that level), by prompt."""
    blocks = markdown.split("\n## ")[1:]
    return {prompt: next(b for b in blocks if f"> {prompt}" in b) for prompt in ("rivers", "lakes", "seas", "oceans")}


def test_markdown_marks_each_removed_run_under_its_heading_and_only_those(tmp_path):
    db = tmp_path / "s.db"
    session, _ = session_with_removed_turns(db)
    blocks = turn_blocks(export(db, session, "md", tmp_path))
    assert blocks["lakes"].splitlines()[2] == DELETED  # heading, blank line, the mark
    assert blocks["seas"].splitlines()[2] == EDITED
    assert "kept for the record" not in blocks["rivers"] + blocks["oceans"]
    assert "**Assistant**" in blocks["lakes"]  # the removed reply stays in the export, marked


def test_a_removed_run_exported_alone_is_marked_too(tmp_path):
    db = tmp_path / "s.db"
    _, runs = session_with_removed_turns(db)
    with open_store(db) as store:
        lakes = export_run(store, runs["lakes"], "md", tmp_path / "lakes.md").read_text()
        rivers = export_run(store, runs["rivers"], "md", tmp_path / "rivers.md").read_text()
    assert DELETED in lakes
    assert "kept for the record" not in rivers


def test_html_marks_removed_runs_with_a_class_and_the_same_words(tmp_path):
    db = tmp_path / "s.db"
    session, runs = session_with_removed_turns(db)
    page = export(db, session, "html", tmp_path)
    assert page.count('<h2 class="removed">') == 2
    assert '<p class="removed">(deleted from the conversation; kept for the record)</p>' in page
    assert '<p class="removed">(edited out of the conversation; kept for the record)</p>' in page
    assert ".removed{" in page  # the class is styled
    for kept in ("rivers", "oceans"):
        assert f"<h2>Turn {1 if kept == 'rivers' else 4} · run <code>{runs[kept]}</code>" in page
    with open_store(db) as store:  # a page with no removed run has neither the class nor its style
        alone = export_run(store, runs["rivers"], "html", tmp_path / "rivers.html").read_text()
    assert "removed" not in alone


def test_csv_carries_how_each_run_was_removed(tmp_path):
    db = tmp_path / "s.db"
    session, runs = session_with_removed_turns(db)
    rows = list(csv.DictReader(io.StringIO(export(db, session, "csv", tmp_path))))
    removed = {row["run_id"]: row["removed"] for row in rows}
    assert removed == {runs["rivers"]: "", runs["lakes"]: "deleted", runs["seas"]: "edited", runs["oceans"]: ""}


def test_jsonl_with_removed_runs_imports_back_to_the_same_bytes(tmp_path):
    db = tmp_path / "s.db"
    session, _ = session_with_removed_turns(db)
    first = export(db, session, "jsonl", tmp_path)
    again_db = tmp_path / "again.db"
    with open_store(again_db) as store:
        [imported] = import_jsonl(store, tmp_path / "s.jsonl")
        again = export_session(store, imported, "jsonl", tmp_path / "again.jsonl").read_bytes().decode()
    assert again == first
    assert sum('"type": "run"' in line for line in first.splitlines()) == 4  # removed runs are exported
    with open_store(db) as store, open_store(again_db) as imported_store:
        assert removed_runs(imported_store, imported) == removed_runs(store, session) != {}


def test_an_unknown_removal_in_a_jsonl_run_line_is_refused_and_adds_nothing(tmp_path):
    db = tmp_path / "s.db"
    session, runs = session_with_removed_turns(db)
    text = export(db, session, "jsonl", tmp_path).replace('"removed": "deleted"', '"removed": "vanished"')
    (tmp_path / "bad.jsonl").write_text(text)
    with open_store(tmp_path / "fresh.db") as store:
        with pytest.raises(StarsError, match="unknown removal 'vanished'"):
            import_jsonl(store, tmp_path / "bad.jsonl")
        assert store.list_sessions() == []


def test_a_hand_edited_removal_is_shown_literally(tmp_path):
    db = tmp_path / "s.db"
    session, runs = session_with_removed_turns(db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE runs SET removed = ? WHERE id = ?", ["<b>*x*</b>", runs["rivers"]])
    conn.close()
    markdown = export(db, session, "md", tmp_path)
    assert "taken out of the conversation (\\<b\\>\\*x\\*\\</b\\>); kept for the record" in markdown
    assert "(taken out of the conversation (&lt;b&gt;*x*&lt;/b&gt;); kept for the record)" in export(
        db, session, "html", tmp_path)


def test_markdown_names_a_changed_knob_by_its_label(tmp_path):
    db = tmp_path / "s.db"
    session, _ = session_with_removed_turns(db)
    oceans = turn_blocks(export(db, session, "md", tmp_path))["oceans"]
    assert "_params changed before segment 2: segment 3→2_" in oceans
    assert "segment\\_tokens" not in oceans and "segment_tokens" not in oceans


def test_describe_changes_keeps_the_field_name_only_where_no_knob_has_a_label():
    change = ParamsChanged(segment=1, changes={"segment_tokens": [16, 8], "top_p": [1.0, 0.9], "mystery": [1, 2]})
    assert describe_changes(change, labels()) == "segment 16→8, top-p 1.0→0.9, mystery 1→2"
    assert describe_changes(change) == "segment_tokens 16→8, top_p 1.0→0.9, mystery 1→2"  # no labels given
