"""``stars bench`` refuses bad options with one line and exit code 2, before loading a model."""

from __future__ import annotations

import pytest

from stars_tui import cli


def run_cli(monkeypatch, capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", *args])
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategies", "vanilla,sampling"], "error: unknown strategy 'sampling'"),
        (["--strategies", "bon-0"], "error: strategy 'bon-0': N must be at least 1"),
        (["--limit", "0"], "error: --limit must be at least 1"),
        (["--seeds", "a,b"], "error: --seeds must be comma-separated integers"),
        (["--max-new-tokens", "0"], "error: --max-new-tokens: max_new_tokens: must be between"),
        (["--judge", "oracle"], "error: --judge must be a comma list of chat, rubric"),
        (["--judge", "chat,none"], "error: --judge must be a comma list of chat, rubric"),
        (["--judge", "rubric,rubric"], "error: --judge lists a judge twice"),
        (["--judge", "rm:"], "error: --judge must be a comma list of chat, rubric or rm:REF"),
        (["--judge", "rubric,rm:/nonexistent/rm"], "error: judge reward model path does not exist: /nonexistent/rm"),
        (["--server", "http://127.0.0.1:9", "--strategies", "vanilla,cards"],
         "error: cards cannot run on the vllm backend: a vLLM server cannot stop a segment"),
    ],
)
def test_bad_options(monkeypatch, capsys, args, message):
    code, err = run_cli(monkeypatch, capsys, *args)
    assert code == 2
    assert err.strip().startswith(message)
    assert len(err.strip().splitlines()) == 1


def test_empty_prompt_file(monkeypatch, capsys, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    code, err = run_cli(monkeypatch, capsys, "--prompts", str(empty))
    assert code == 2 and "has no prompts" in err


def test_out_must_be_a_folder(monkeypatch, capsys, tmp_path):
    clash = tmp_path / "file"
    clash.write_text("keep me")
    code, err = run_cli(monkeypatch, capsys, "--out", str(clash))
    assert code == 2 and "not a folder" in err
    assert clash.read_text() == "keep me"


def test_terminal_table_and_goal_lines_show_every_strategy(tmp_path):
    from fakes import ScriptedPolicy, ScriptedReward
    from rich.console import Console

    from stars_engine.bench import BenchPlan, parse_specs, run_bench
    from stars_engine.bench.prompts import BenchPrompt
    from stars_engine.params import Params
    from stars_tui.commands.bench import goal_lines, results_table

    base = Params(max_new_tokens=4)
    specs = parse_specs("vanilla,bon-2,stars:seg=2:k=1", base)
    summary = run_bench(ScriptedPolicy(), ScriptedReward(), None,
                        BenchPlan([BenchPrompt("a", "x", "hello")], specs, [0], base, tmp_path))
    console = Console(record=True, width=250)
    console.print(results_table(summary))
    text = console.export_text()
    assert all(spec.label in text for spec in specs)
    assert goal_lines(summary["goal"])[0].startswith("bon-2 (reward")


def test_help_shows_every_bench_option_with_its_text(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "Held-out judges, comma-separated" in out and "Output folder; run again" in out
