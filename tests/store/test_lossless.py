"""Issue 22, the lossless export: export -> import -> export is byte-identical for any text and any
value the importer accepts (a property test), and what the importer cannot store back is refused."""

from __future__ import annotations

import json
from datetime import UTC

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stars_engine import decoding
from stars_engine.events import (
    STOP_REASONS,
    VERDICTS,
    AttemptScored,
    ParamsChanged,
    RunFailed,
    RunFinished,
    RunStarted,
    RunStats,
    SegmentAccepted,
)
from stars_engine.params import Params
from stars_engine.store import export_session, import_jsonl, open_store

from .helpers import cli, record_events
from .test_bad_input import assert_refused

BREAKS = "\u2028\u2029\x85\r\n\x0b\x0c\x1c\x1d\x1e"  # every line break str.splitlines knows
text = st.text(st.one_of(st.characters(exclude_categories=["Cs"]), st.sampled_from([*BREAKS, "\x00", "\x1b", "\x9b"])),
               max_size=20)
int64 = st.integers(-(2**63), 2**63 - 1)
natural = st.integers(0, 2**63 - 1)
real = st.floats(allow_nan=False, allow_infinity=False)
maybe_real = st.none() | real
json_value = st.recursive(st.none() | st.booleans() | int64 | real | text,
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                          max_leaves=8)
ident = st.from_regex(r"[0-9a-z][0-9a-z_-]{0,12}", fullmatch=True)
stamp = st.just("") | st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat(timespec="seconds"))
params = st.builds(lambda extra: {**Params().to_dict(), **extra}, st.dictionaries(st.sampled_from(["note", "x-tool"]),
                                                                                   json_value, max_size=1))


@st.composite
def run_events(draw):
    events = [RunStarted(
        strategy=draw(st.sampled_from(decoding.names())), params=draw(params),
        messages=draw(st.lists(st.builds(lambda r, c: {"role": r, "content": c},
                                         st.sampled_from(["system", "user", "assistant"]), text),
                               min_size=1, max_size=3)),
        policy_id=draw(text), reward_id=draw(text), seed=draw(int64), prompt_tokens=draw(int64),
        baseline_reward=draw(maybe_real), started_at=draw(stamp), runtime=draw(st.dictionaries(text, json_value,
                                                                                              max_size=3)),
        backend=draw(text), server_url=draw(text), served_model=draw(text),
        reward_server_url=draw(text), served_reward=draw(text))]
    for segment in range(draw(st.integers(0, 3))):
        for attempt in range(draw(st.integers(1, 3))):
            events.append(AttemptScored(
                segment=segment, attempt=attempt, text=draw(text), tokens=draw(natural), reward=draw(real),
                threshold=draw(maybe_real), verdict=draw(st.sampled_from(VERDICTS)),
                elapsed_ms=draw(st.floats(0, 1e300)), eos=draw(st.booleans()), cut_entropy=draw(maybe_real),
                round=draw(st.none() | int64)))
        events.append(SegmentAccepted(segment=segment, text=draw(text), reward=draw(real),
                                      attempts=draw(st.integers(1, 2**63 - 1)), exhausted=draw(st.booleans()),
                                      tokens=draw(natural), threshold=draw(maybe_real)))
        if draw(st.booleans()):
            events.append(ParamsChanged(segment=segment + 1, changes={"threshold": [draw(json_value), 0.3]},
                                        params=draw(st.just({}) | params)))
    ending = draw(st.sampled_from(["finished", "failed", "interrupted"]))
    if ending == "finished":
        stats = RunStats(*(draw(int64) for _ in range(5)), draw(real), draw(maybe_real), draw(maybe_real),
                         draw(int64), draw(int64))
        events.append(RunFinished(text=draw(text), stop_reason=draw(st.sampled_from(STOP_REASONS)), stats=stats))
    elif ending == "failed":
        events.append(RunFailed(message=draw(text)))
    return ending, events


@st.composite
def export_files(draw):
    """The lines of a session export as another tool (or a hand) might write them."""
    title = draw(text.filter(str.strip))
    lines = [{"type": "session", "format": "stars-session", "version": 1, "id": draw(ident), "title": title,
              "created_at": draw(stamp), "updated_at": draw(stamp)}]
    run_ids = draw(st.lists(ident, min_size=1, max_size=3, unique=True))
    for run_id in run_ids:
        status, events = draw(run_events())
        turn = draw(st.none() | st.integers(0, 2**31 - 1))  # absent: numbered by its place, as before turns
        lines.append({"type": "run", "id": run_id, "status": status, "finished_at": draw(st.none() | stamp),
                      **({} if turn is None else {"turn": turn})})
        lines += [event.to_dict() for event in events]
    return lines


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=export_files())
def test_export_import_export_is_byte_identical_for_anything_the_importer_accepts(tmp_path_factory, lines):
    folder = tmp_path_factory.mktemp("roundtrip")
    given_file = folder / "given.jsonl"
    given_file.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    session_id = lines[0]["id"]
    with open_store(folder / "a.db") as store:
        assert import_jsonl(store, given_file) == [session_id]
        export_session(store, session_id, "jsonl", folder / "a.jsonl")
    with open_store(folder / "b.db") as store:
        assert import_jsonl(store, folder / "a.jsonl") == [session_id]
        export_session(store, session_id, "jsonl", folder / "b.jsonl")
    first = (folder / "a.jsonl").read_bytes()
    assert (folder / "b.jsonl").read_bytes() == first
    exported = first.decode("utf-8")
    assert not any(c in exported for c in "\u2028\u2029\x85")  # only \n ends a line
    # each run's events back as given (the runs come back in turn order, which a given turn can change)
    assert _events_by_run(map(json.loads, exported.split("\n")[:-1])) == _events_by_run(lines)


def _events_by_run(lines) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {}
    for line in lines:
        if line["type"] == "run":
            current = runs.setdefault(line["id"], [])
        elif line["type"] != "session":
            current.append(line)
    return runs


def hostile_events(reply: str) -> list:
    return [
        RunStarted(strategy="stars", params={}, messages=[{"role": "user", "content": "a\u2028b"}],
                   policy_id="p", reward_id="r", seed=1, prompt_tokens=3),
        AttemptScored(segment=0, attempt=0, text=reply, tokens=2, reward=1e308, threshold=None,
                      verdict="accepted", elapsed_ms=1.0),
        SegmentAccepted(segment=0, text=reply, reward=1e308, attempts=1, exhausted=False),
        RunFinished(text=reply, stop_reason="eos", stats=RunStats(tokens_generated=2)),
    ]


def test_a_reply_holding_line_separators_reads_back_through_the_cli(tmp_path, capsys):
    db = tmp_path / "s.db"
    recorder = record_events(db, hostile_events("one\u2028two\u2029three\x85four"))
    out = tmp_path / "a.jsonl"
    assert cli(["export", recorder.session_id, "-o", str(out), "--db", str(db)], capsys)[0] == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 6  # session, run, four events
    assert cli(["import", str(out), "--db", str(tmp_path / "b.db")], capsys)[0] == 0
    with open_store(tmp_path / "b.db") as store:
        assert store.run_events(recorder.run_id) == hostile_events("one\u2028two\u2029three\x85four")


def _good_lines(tmp_path, capsys) -> list[str]:
    db = tmp_path / "s.db"
    recorder = record_events(db, hostile_events("fine"))
    out = tmp_path / "good.jsonl"
    assert cli(["export", recorder.session_id, "-o", str(out), "--db", str(db)], capsys)[0] == 0
    return out.read_text().splitlines()


def test_numbers_the_database_cannot_hold_back_are_refused_in_one_line(tmp_path, capsys):
    lines = _good_lines(tmp_path, capsys)
    for old, raw, words in (("1e+308", "1e309", "reward: number out of range"), ("1e+308", "-1e309", "reward"),
                            ('"tokens": 2,', '"tokens": 18446744073709551616,', "beyond SQLite's 64-bit")):
        bad = tmp_path / "bad.jsonl"
        bad.write_text("\n".join(lines).replace(old, raw, 1) + "\n")
        assert raw in bad.read_text()
        assert_refused(["import", str(bad), "--db", str(tmp_path / "new.db")], capsys, "line 4", words)
    assert not (tmp_path / "new.db").exists()


def test_deeply_nested_json_is_refused_in_one_line(tmp_path, capsys):
    lines = _good_lines(tmp_path, capsys)
    for depth in (40, 100_000):
        started = json.loads(lines[2])
        bad = tmp_path / "deep.jsonl"
        nested = "[" * depth + "]" * depth
        bad.write_text("\n".join([*lines[:2], json.dumps(started)[:-1] + f', "runtime": {{"x": {nested}}}}}',
                                  *lines[3:]]) + "\n")
        assert_refused(["import", str(bad), "--db", str(tmp_path / "new.db")], capsys, "line 3", "nested deeper")
