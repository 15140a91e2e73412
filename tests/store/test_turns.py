"""Taking turns out of a conversation: runs marked, never deleted; reopening skips them; numbers never reused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fakes import ScriptedPolicy, ScriptedReward

from stars_engine.engine import run
from stars_engine.errors import StarsError
from stars_engine.params import Params
from stars_engine.store import Recorder, open_store
from stars_engine.store.turns import next_turn, remove_turns, removed_runs
from stars_tui.saved_session import load_session

PARAMS = Params(segment_tokens=3, max_new_tokens=9, max_attempts=3, seed=7)


def record_turn(db: Path, session: str | None, turn: int, prompt: str, history: list[dict[str, str]]) -> Recorder:
    recorder = Recorder(db, session_id=session, turn=turn)
    messages = [*history, {"role": "user", "content": prompt}]
    list(recorder.record(run(ScriptedPolicy(eos_after=6), ScriptedReward(), messages, PARAMS)))
    return recorder


def three_turns(db: Path) -> tuple[str, list[str]]:
    """A session of three turns; the middle one answered twice (a regenerate)."""
    first = record_turn(db, None, 0, "rivers", [])
    session = first.session_id
    runs = [first.run_id]
    for turn, prompt in ((1, "lakes"), (1, "lakes"), (2, "seas")):
        runs.append(record_turn(db, session, turn, prompt, []).run_id)
    return session, runs


def test_deleting_a_turn_marks_its_runs_and_reopening_skips_them(tmp_path):
    db = tmp_path / "s.db"
    session, runs = three_turns(db)
    with open_store(db) as store:
        assert remove_turns(store, session, [1], "deleted") == 2
        assert removed_runs(store, session) == {runs[1]: "deleted", runs[2]: "deleted"}
        assert len(store.runs_of(session)) == 4  # nothing deleted from the database
        saved = load_session(store, session)
        counts = store.session(session).counts
    assert [t["content"] for t in saved.turns if t["role"] == "user"] == ["rivers", "seas"]
    assert saved.numbers == [0, 2] and saved.next_number == 3
    assert saved.last_run_id == runs[3]
    assert (counts.turns, counts.runs, counts.removed) == (2, 2, 2)


def test_a_removed_run_keeps_its_first_mark_and_the_last_turn_number_is_not_reused(tmp_path):
    db = tmp_path / "s.db"
    session, runs = three_turns(db)
    with open_store(db) as store:
        remove_turns(store, session, [2], "edited")
        assert remove_turns(store, session, [1, 2], "deleted") == 2  # only turn 1's runs are new marks
        assert removed_runs(store, session)[runs[3]] == "edited"
        assert next_turn(store, session) == 3  # turn 2 is gone from the conversation, its number is not free
        saved = load_session(store, session)
    assert [t["content"] for t in saved.turns] == ["rivers", saved.turns[1]["content"]]
    assert saved.next_number == 3


def test_removing_is_refused_for_an_unknown_mark_or_session(tmp_path):
    db = tmp_path / "s.db"
    session, _ = three_turns(db)
    with open_store(db) as store:
        with pytest.raises(StarsError, match="deleted, edited"):
            remove_turns(store, session, [0], "gone")
        with pytest.raises(StarsError, match="no session"):
            remove_turns(store, "nope", [0], "deleted")
        with pytest.raises(StarsError, match="no session"):
            store.session("nope")
        assert removed_runs(store, session) == {}


def test_a_turn_with_a_run_still_recording_is_not_removed(tmp_path):
    db = tmp_path / "s.db"
    session, runs = three_turns(db)
    with open_store(db) as store:
        with store.db.conn:
            store.db.execute("UPDATE runs SET status = 'running', host = 'elsewhere' WHERE id = ?", [runs[0]])
        with pytest.raises(StarsError, match="still recording"):
            remove_turns(store, session, [0], "deleted")
        assert removed_runs(store, session) == {}


def test_the_system_prompt_is_in_the_counts(tmp_path):
    db = tmp_path / "s.db"
    session, _ = three_turns(db)
    with open_store(db) as store:
        with store.db.conn:
            store.db.execute("UPDATE sessions SET system_prompt = ? WHERE id = ?", ["Be brief.", session])
        info = store.session(session)
    assert info.system_prompt == "Be brief." and (info.turns, info.runs, info.removed_runs) == (3, 4, 0)
    assert info.counts.text() == "3 turn(s), 4 run(s)"


def test_every_view_counts_only_the_turns_and_runs_still_in_the_conversation(tmp_path, capsys):
    """Turn 2 (two runs) deleted, turn 3 edited and sent again as that turn: ``sessions list|show`` (and
    ``--json``), the sessions screen's lines and the md / html export headers all say the same counts, the
    removed runs apart; an export imported back says them again, byte for byte."""
    import json

    from stars_engine.store import export_session, import_jsonl
    from stars_tui.screens.sessions import _row, session_detail

    from .helpers import cli

    db = tmp_path / "s.db"
    session, _ = three_turns(db)
    with open_store(db) as store:
        assert remove_turns(store, session, [1], "deleted") == 2
        assert remove_turns(store, session, [2], "edited") == 1
    record_turn(db, session, 2, "oceans", [])  # the edited turn, sent again: a live run of turn 3
    said = "2 turn(s), 2 run(s) (+3 removed)"
    code, out, _ = cli(["sessions", "show", session, "--db", str(db)], capsys)
    assert code == 0 and f"session {session} · " in out and said in " ".join(out.split())
    code, out, _ = cli(["sessions", "list", "--db", str(db)], capsys)
    row = next(line for line in out.splitlines() if session in line)
    assert code == 0 and re.search(r" 2 +2 \+3 removed +finished ", row), row
    code, out, _ = cli(["sessions", "list", "--json", "--db", str(db)], capsys)
    (listed,) = json.loads(out)
    assert (listed["turns"], listed["runs"], listed["removed_runs"]) == (2, 2, 3)
    with open_store(db) as store:
        assert session_detail(store.session(session), "").plain.startswith(said + " · system prompt")
        assert _row(store.session(session), "")[2] == "2 +3 removed"
        for fmt in ("md", "html", "jsonl"):
            export_session(store, session, fmt, tmp_path / f"s.{fmt}")
    assert f"· {said}\n" in (tmp_path / "s.md").read_text()
    assert f"· {said}</p>" in (tmp_path / "s.html").read_text()
    with open_store(tmp_path / "b.db") as store:
        assert import_jsonl(store, tmp_path / "s.jsonl") == [session]
        assert store.session(session).counts.text() == said
        export_session(store, session, "md", tmp_path / "again.md")
    assert (tmp_path / "again.md").read_bytes() == (tmp_path / "s.md").read_bytes()


def test_sessions_show_marks_the_runs_taken_out(tmp_path, capsys):
    import json

    from .helpers import cli

    db = tmp_path / "s.db"
    session, runs = three_turns(db)
    with open_store(db) as store:
        remove_turns(store, session, [1], "deleted")
        with store.db.conn:  # a hand-edited mark is shown as text, never read as markup
            store.db.execute("UPDATE runs SET removed = '[red]x' WHERE id = ?", [runs[3]])
    code, out, _ = cli(["sessions", "show", session, "--db", str(db)], capsys)
    assert code == 0
    text = " ".join(out.split())  # the console may wrap a long line
    assert text.count("(out of the conversation)") == 3
    assert text.count("· deleted (out of the conversation)") == 2 and "· [red]x (out of the conversation)" in text
    code, out, _ = cli(["sessions", "show", session, "--json", "--db", str(db)], capsys)
    assert [r["removed"] for r in json.loads(out)["runs"]] == ["", "deleted", "deleted", "[red]x"]


def test_the_status_column_leaves_out_a_removed_runs_status(tmp_path):
    """A turn whose run was cut short, then deleted: the session's status is its live runs' (finished)."""
    db = tmp_path / "s.db"
    session = record_turn(db, None, 0, "rivers", []).session_id
    recorder = Recorder(db, session_id=session, turn=1)
    partial = recorder.record(run(ScriptedPolicy(), ScriptedReward(), [{"role": "user", "content": "cut"}], PARAMS))
    next(partial), next(partial)
    partial.close()  # the stream stopped: the run reads as interrupted
    with open_store(db) as store:
        assert store.session(session).status_summary() == "1 finished, 1 interrupted"
        assert remove_turns(store, session, [1], "deleted") == 1
        assert store.session(session).status_summary() == "finished"
