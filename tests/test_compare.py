"""``stars compare`` on the scripted models: the table and --json shapes, the seeds, the refusals,
Ctrl-C, and the ranking on the guide reward and a held-out judge."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fakes import ScriptedPolicy, ScriptedReward, scripted_backend

from stars_engine import backends
from stars_engine.bench.judge import RewardJudge
from stars_engine.compare import Comparison, column_seeds, plan, summarize, verdict_lines
from stars_engine.errors import StarsError
from stars_engine.params import Params
from stars_engine.store import open_store
from stars_engine.store.comparisons import comparisons_of
from stars_tui import cli

FAKE_STARS = Path(__file__).resolve().parent / "fake_stars.py"
MESSAGES = [{"role": "user", "content": "hello there"}]


@pytest.fixture
def fake_models():
    with backends.registered(scripted_backend(eos_after=200)):
        yield


def main(capsys, argv: list[str]) -> tuple[int, str, str]:
    try:
        cli.main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_columns_get_seeds_derived_from_the_base_seed():
    columns = plan("vanilla, bon-2 ,stars:seg=4", Params(max_new_tokens=8), 40)
    assert [c.spec.label for c in columns] == ["vanilla", "bon-2", "stars:seg=4"]
    assert [c.seed for c in columns] == [40, 41, 42] == [c.params.seed for c in columns]
    assert [c.params.strategy for c in columns] == ["vanilla", "best-of-n", "stars"]
    assert columns[2].params.segment_tokens == 4 and columns[1].params.best_of_n == 2
    assert column_seeds(2**63 - 1, 2) == [2**63 - 1, 0]  # stays inside the seed range


@pytest.mark.parametrize(("specs", "words"), [
    ("vanilla", "compare takes 2 to 4 strategies, got 1"),
    ("vanilla,bon-2,bon-3,bon-4,bon-5", "compare takes 2 to 4 strategies, got 5"),
    ("vanilla,greedy", "unknown strategy 'greedy'"),
    ("vanilla,vanilla", "listed twice"),
    ("vanilla,stars:seg=0", "strategy 'stars:seg=0'"),
])
def test_plan_refuses_a_bad_list(specs, words):
    with pytest.raises(StarsError, match=words):
        plan(specs, Params(), 0)


def test_the_winners_on_the_guide_reward_and_on_a_judge_with_their_cost():
    policy, reward = ScriptedPolicy(eos_after=200), ScriptedReward()
    comparison = Comparison(plan("vanilla,bon-4,stars:seg=4", Params(max_new_tokens=12), 0), MESSAGES)
    events = list(comparison.events(policy, reward, threading.Event()))
    assert [c.index for c, _ in events][0] == 0 and [c.index for c, _ in events][-1] == 2
    judge = RewardJudge(ScriptedReward())
    summary = summarize(comparison, {"scripted": judge}, 0)
    rewards = {c["spec"]: c["guide_reward"] for c in summary["columns"]}
    best = max(rewards, key=lambda s: rewards[s])
    assert list(rewards.values()).count(rewards[best]) == 1  # seeds 0..2 give one clear leader
    guide = summary["guide"]
    assert guide["spec"] == best
    winner = next(c for c in summary["columns"] if c["spec"] == best)
    assert guide["cost"]["tokens_generated"] == winner["tokens_generated"] > 0
    judged = summary["judges"]["scripted"]
    assert len(judged["pairs"]) == 3  # every pair of three once
    points = judged["result"]["scores"]
    assert sum(points.values()) == 3.0  # one point per pair, split on a tie
    # the scripted judge scores the whole reply as the guide scored it: the same winner
    assert judged["result"]["spec"] == best
    lines = verdict_lines(summary)
    assert lines[0].startswith(f"guide reward: {best} won") and "tokens generated" in lines[0]
    assert lines[1].startswith(f"scripted judge: {best} won")
    tokens = {c["spec"]: c["tokens_generated"] for c in summary["columns"]}
    assert min(tokens, key=lambda s: tokens[s]) == "vanilla" != best  # one sample is cheapest, and lost here
    assert f"at {tokens[best]} tokens generated ({tokens[best] / tokens['vanilla']:.1f}x vanilla's)" in lines[0]


def test_a_failed_column_is_not_ranked_and_the_others_still_run():
    comparison = Comparison(plan("vanilla,bon-2", Params(max_new_tokens=6), 0), MESSAGES)
    list(comparison.events(ScriptedPolicy(eos_after=200), ScriptedReward(fail_after=1), threading.Event()))
    first, second = comparison.outcomes
    assert first.error is None and first.judged
    assert second.error == "reward model exploded" and not second.judged
    summary = summarize(comparison, {"scripted": RewardJudge(ScriptedReward())}, 0)
    assert summary["guide"]["spec"] == "vanilla"
    assert summary["judges"]["scripted"]["result"] is None  # one finished reply: no pair to judge


def test_table_shows_every_column_and_records_each_run_in_one_session(fake_models, capsys, tmp_path):
    db = tmp_path / "s.db"
    code, out, err = main(capsys, ["compare", "hello [bold]x[/bold]", "--strategies", "vanilla,bon-2,stars:seg=4",
                                   "--seed", "7", "--max-new-tokens", "8", "--judge", "none", "--db", str(db)])
    assert code == 0, err
    assert "base seed 7 (columns: vanilla 7, bon-2 8, stars:seg=4 9)" in err
    for label in ("1. vanilla", "2. bon-2", "3. stars:seg=4", "tokens generated", "tokens kept", "reward calls",
                  "forward passes", "wall seconds", "guide reward", "reply"):
        assert label in out
    assert "\nguide reward: " in out  # a winner or the tie for the top (this seed ties bon-2 and stars)
    with open_store(db) as store:
        (session,) = store.list_sessions()
        runs = store.runs_of(session.id)
        (comparison,) = comparisons_of(store, session.id)
    assert [r.strategy for r in runs] == ["vanilla", "best-of-n", "stars"]
    assert all(r.status == "finished" and r.prompt == "hello [bold]x[/bold]" for r in runs)
    assert f"saved comparison {comparison.id} (runs {', '.join(r.id for r in runs)}) in session {session.id}" in err
    # one record links the columns' runs, in column order, with the base seed and the verdict
    assert [(c.index, c.spec, c.run.id) for c in comparison.columns] == [
        (0, "vanilla", runs[0].id), (1, "bon-2", runs[1].id), (2, "stars:seg=4", runs[2].id)]
    assert (comparison.prompt, comparison.base_seed) == ("hello [bold]x[/bold]", 7)
    assert comparison.verdict_lines()[0].startswith("guide reward: ")


def test_json_tags_every_event_by_its_column_and_ends_with_the_summary(fake_models, capsys, tmp_path):
    code, out, err = main(capsys, ["compare", "hello", "--strategies", "bon-2,vanilla", "--seed", "11",
                                   "--max-new-tokens", "6", "--judge", "none", "--json", "--no-save"])
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    *events, summary = lines
    assert {(e["column"], e["spec"]) for e in events} == {(0, "bon-2"), (1, "vanilla")}
    starts = [e for e in events if e["type"] == "RunStarted"]
    assert [(s["column"], s["params"]["seed"]) for s in starts] == [(0, 11), (1, 12)]
    assert [e["type"] for e in events if e["column"] == 1][-1] == "RunFinished"
    assert summary["type"] == "CompareSummary" and summary["base_seed"] == 11
    assert [(c["spec"], c["seed"], c["run_id"]) for c in summary["columns"]] == [("bon-2", 11, None),
                                                                                 ("vanilla", 12, None)]
    finished = {e["column"]: e for e in events if e["type"] == "RunFinished"}
    assert [c["tokens_generated"] for c in summary["columns"]] == [
        finished[i]["stats"]["tokens_generated"] for i in (0, 1)]
    assert summary["guide"]["spec"] in ("bon-2", "vanilla") or summary["guide"]["tied"]


def test_without_seed_a_fresh_base_seed_is_printed_and_used(fake_models, capsys):
    code, out, err = main(capsys, ["compare", "hi", "--strategies", "vanilla,bon-2", "--max-new-tokens", "4",
                                   "--judge", "none", "--json", "--no-save"])
    assert code == 0, err
    summary = json.loads(out.splitlines()[-1])
    base = summary["base_seed"]
    assert f"base seed {base} (columns: vanilla {base}, bon-2 {base + 1})" in err


@pytest.mark.parametrize(("argv", "words"), [
    (["hi", "--strategies", "vanilla"], "compare takes 2 to 4 strategies, got 1"),
    (["hi", "--strategies", "vanilla,bon-2,bon-3,bon-4,bon-5"], "compare takes 2 to 4 strategies, got 5"),
    (["hi", "--strategies", "vanilla,nope"], "unknown strategy 'nope'"),
    (["   ", "--strategies", "vanilla,bon-2"], "the prompt is empty"),
    (["hi", "--strategies", "vanilla,bon-2", "--seed", "-1"], "--seed must be an integer >= 0"),
    (["hi", "--strategies", "vanilla,bon-2", "--max-new-tokens", "0"], "--max-new-tokens"),
    (["hi", "--strategies", "vanilla,bon-2", "--judge", "oracle"], "--judge must be"),
    (["hi", "--strategies", "vanilla,cards", "--server", "http://127.0.0.1:9"], "cards cannot run on the vllm"),
])
def test_bad_input_is_one_line_exit_2_and_touches_nothing(capsys, tmp_path, argv, words):
    loads = scripted_backend(load=lambda spec, count: pytest.fail("the model loaded"))
    db = tmp_path / "s.db"
    with backends.registered(loads):
        code, out, err = main(capsys, ["compare", *argv, "--db", str(db)])
    assert code == 2 and out == ""
    [line] = err.splitlines()
    assert line.startswith("error: ") and words in line
    assert not db.exists()


def test_ctrl_c_stops_keeps_what_was_written_as_cancelled_and_exits_130(tmp_path):
    db = tmp_path / "s.db"
    proc = subprocess.Popen([sys.executable, str(FAKE_STARS), "compare", "hi", "--strategies", "vanilla,bon-2",
                             "--json", "--judge", "none", "--max-new-tokens", "400", "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert json.loads(proc.stdout.readline())["type"] == "RunStarted"
    proc.stdout.readline()  # the first column is decoding
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    *events, summary = [json.loads(line) for line in out.splitlines()]
    assert {e["column"] for e in events} == {0}  # the second column never started
    assert [c["stop_reason"] for c in summary["columns"]] == ["cancelled", None]
    assert summary["columns"][1]["error"] == "not run" and summary["judges"] == {}
    with open_store(db) as store:
        (session,) = store.list_sessions()
        assert session.statuses == ("cancelled",)


def test_a_reply_and_a_spec_are_shown_literally_in_the_table():
    from rich.console import Console

    from stars_tui.commands.compare import compare_table

    column = {"column": 0, "spec": "vanilla", "seed": 1, "stop_reason": "eos", "error": None,
              "text": "[bold red]loud[/bold red]\x1b[2J" + "x" * 400, "tokens_generated": 3, "tokens_kept": 3,
              "reward_calls": 1, "forward_passes": 4, "wall_seconds": 0.25, "guide_reward": 0.5}
    console = Console(width=200, record=True, color_system=None)
    console.print(compare_table({"columns": [column, {**column, "column": 1, "spec": "[i]x"}]}))
    text = console.export_text()
    assert "[bold red]loud[/bold" in text and "red]\\x1b[2J" in text and "\x1b" not in text  # (wrapped)
    assert "2. [i]x" in text and "…" in text  # the reply is cut


def test_a_closed_pipe_cancels_the_column_quietly(tmp_path):
    db = tmp_path / "s.db"
    proc = subprocess.Popen([sys.executable, str(FAKE_STARS), "compare", "hi", "--strategies", "vanilla,bon-2",
                             "--json", "--judge", "none", "--max-new-tokens", "400", "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert json.loads(proc.stdout.readline())["type"] == "RunStarted"
    proc.stdout.close()  # `| head -1`
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141 and err.startswith("base seed ") and err.count("\n") == 1
    with open_store(db) as store:
        (session,) = store.list_sessions()
        (run,) = store.runs_of(session.id)  # the second column never started
    assert (run.status, run.stop_reason) == ("finished", "cancelled")
