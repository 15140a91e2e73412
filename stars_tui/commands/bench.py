"""``stars bench``: STARS, CARDS, Speculative Rejection, Best-of-N and vanilla at equal compute.

The machinery is headless (``stars_engine.bench``); this module parses the
options, loads the models once, draws the progress bar and the Rich table.
Every option is checked before a model is loaded, so a typo costs nothing.
With ``--tui`` the checked options go, as given, to this same command in a child
process (``--jsonl-progress``: its progress as JSON lines on stdout) and the
live view in ``stars_tui.screens.bench`` follows it: decoding holds the GIL, so
in the view's own process it would stall the keys.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from stars_engine import backends
from stars_engine.errors import StarsError

from .options import SYSTEM_HELP, ModelChoice, read_system, with_model_options

try:  # newer Typer carries its own copy of click; older ones use click itself
    from typer._click.core import ParameterSource
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover - depends on the installed Typer
    from click.core import ParameterSource
    from click.globals import get_current_context

DEFAULT_OUT = Path("bench-results")
CHILD_COMMAND = [sys.executable, "-m", "stars_tui"]  # ``stars`` in the child; tests put a model-free one here
CHILD_FLAG = "--jsonl-progress"


def results_table(summary: dict[str, Any]):
    """The terminal table: one row per strategy, every headline number."""
    from rich.table import Table

    from stars_engine.bench.report import BASE_COLUMNS, columns, judge_names, row

    table = Table(title="stars bench (means per reply)")
    for name in columns(summary):
        left = name == "strategy" or name not in BASE_COLUMNS
        table.add_column(name, justify="left" if left else "right")
    for s in summary["strategies"]:
        table.add_row(*row(s, judge_names(summary)))
    return table


def goal_lines(goal: dict[str, Any]) -> list[str]:
    lines = []
    for b in goal["budgets"]:
        who = ", ".join(b["reached_by"]) or "no STARS setting"
        lines.append(f"{b['bon']} (reward {b['guide_reward']:.3f} at {b['tokens_generated']:.0f} tokens): "
                     f"reached with fewer tokens by {who}")
    met = "met" if goal["frontier_goal_met"] else "not met"
    reached = f"{goal['budgets_reached']}/{len(goal['budgets'])}"
    lines.append(f"frontier goal (>= 3 of 4 budgets): {met} ({reached})")
    for name, met in goal["judge_goal_met"].items():
        lines.append(f"judge goal, {name} judge (a STARS setting wins more than it loses vs vanilla): "
                     + ("met" if met else "not met"))
    return lines


def _progress_hooks(progress, cells_task, pairs_task):
    from stars_engine.bench import Hooks

    def cell_done(cell, record, skipped):
        note = "resumed" if skipped else ("failed" if record.get("error") else "done")
        progress.update(cells_task, advance=1, description=f"{cell.prompt.id} · {cell.spec.label} ({note})")

    return Hooks(
        cells_total=lambda n: progress.update(cells_task, total=n),
        cell_done=cell_done,
        pairs_total=lambda n: progress.update(pairs_task, total=n, visible=True),
        pair_done=lambda pair, skipped: progress.update(pairs_task, advance=1),
    )


def _recorder(db: Path | None):
    if db is None:
        return None
    from stars_engine.store import Recorder

    recorder = Recorder(db, title="stars bench")
    return recorder.record


def bench_command(
    prompts: Annotated[Path | None, typer.Option(
        "--prompts", help="Prompt file, JSONL with a 'prompt' per line (default: shipped set).")] = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", help="Use the first N prompts, taken round-robin across categories.")] = None,
    strategies: Annotated[str | None, typer.Option(
        "--strategies",
        help="Comma-separated: vanilla, bon-N, stars[:key=value…] (keys: seg, tau, mode, k, attempts, "
             "rule or any Params field), cards[:…] (also H, min, max, alpha), specrej[:…] (also n, prune, "
             "every). Default: vanilla, bon-2/4/8/16 and three STARS settings.")] = None,
    seeds: Annotated[str, typer.Option(
        "--seeds", help="Comma-separated seeds; every cell runs once per seed.")] = "0",
    max_new_tokens: Annotated[int, typer.Option(
        "--max-new-tokens", help="Most tokens per reply, for every strategy.")] = 48,
    out: Annotated[Path, typer.Option(
        "--out", help="Output folder; run again with the same folder to resume.")] = DEFAULT_OUT,
    judge: Annotated[str, typer.Option(
        "--judge", help="Held-out judges, comma-separated: chat (the chat model, pairwise, debiased over "
                        "both orders; on --server the served model's log-probabilities), rubric (a held-out "
                        "embedding rubric, no relevance credit on decline prompts), harm (a trained "
                        "offensive-language classifier: the less offensive reply wins), rm:REF (a one-logit "
                        "sequence-classification reward model, a local folder, in-process), rm:URL (such a "
                        "model on a vLLM pooling server), or none.")] = "chat,rubric",
    db: Annotated[Path | None, typer.Option(
        "--db", help="Also record every run into this session database.")] = None,
    concurrency: Annotated[int, typer.Option(
        "--concurrency", help="Cells in flight at once, spread over the --server replicas (needs --server).")] = 1,
    system: Annotated[str | None, typer.Option("--system", help=SYSTEM_HELP)] = None,
    tui: Annotated[bool, typer.Option(
        "--tui", help="Watch it live: cells as they land, progress and ETA, the frontier and the per-budget "
                      "leaders; q stops after the cells in flight (run again to resume).")] = False,
    jsonl_progress: Annotated[bool, typer.Option(
        CHILD_FLAG, hidden=True,
        help="Progress as JSON lines on stdout instead of the bar and the table; stop after the cells in "
             "flight when stdin closes (the --tui view runs the bench so).")] = False,
    **model_kwargs: Any,
) -> None:
    """Run strategies over a prompt set and compare reward against compute (resumable)."""
    from stars_engine.bench import DEFAULT_STRATEGIES, BenchPlan, load_prompts, parse_seeds, parse_specs, take
    from stars_engine.bench.heldout import build_judges, check_judges, parse_judges
    from stars_engine.bench.strategies import bench_base

    from .run import load_models

    judge_list = parse_judges(judge)
    system_prompt = read_system(system)
    models = ModelChoice(**model_kwargs)
    if concurrency < 1:
        raise StarsError("--concurrency must be at least 1")
    if concurrency > 1 and not backends.choose(models).parallel:
        raise StarsError("--concurrency above 1 needs --server: the in-process model runs one reply at a time")
    if out.exists() and not out.is_dir():
        raise StarsError(f"--out {out} exists and is not a folder")
    try:
        base = bench_base(max_new_tokens=max_new_tokens)
    except StarsError as exc:
        raise StarsError(f"--max-new-tokens: {exc}") from None
    chosen = take(load_prompts(prompts), limit)
    specs = parse_specs(strategies or DEFAULT_STRATEGIES, base)
    backends.check(models, [s.strategy for s in specs])  # before the database or the output folder is touched
    check_judges(judge_list, models.allow_download)
    given = ["--tui" if arg == CHILD_FLAG else arg for arg in sys.argv[1:]]  # the child of --tui: what was typed
    config = {"prompt_file": str(prompts or "shipped"), "command": " ".join(["stars", *given]),
              **({"system": system_prompt} if system_prompt else {})}
    plan = BenchPlan(chosen, specs, parse_seeds(seeds), base, out, config=config, system=system_prompt)
    wrap = _recorder(db)
    if tui:
        from ..screens.bench import BenchChild

        argv = [*CHILD_COMMAND, "bench", *given_options(drop={"tui"}), CHILD_FLAG]
        print_results(_watch(BenchChild(argv, out, db, concurrency)), out)
        return
    (policy, *workers), reward = load_models(models, concurrency, tuple(s.strategy for s in specs))
    held_out = build_judges(judge_list, policy, reward, chosen, models.device, models.allow_download)
    if jsonl_progress:
        _stream_progress(policy, reward, held_out, plan, wrap, workers)
        return
    print_results(_with_progress(policy, reward, held_out, plan, wrap, workers, out), out)


def given_options(drop: set[str]) -> list[str]:
    """The running command's options as they were given (defaults left out, so the child takes its own),
    less those named in ``drop``: each as ``--name=value``, so no value is read as an option."""
    ctx = get_current_context()
    args: list[str] = []
    for param in ctx.command.params:
        name = param.name or ""
        if name in drop or ctx.get_parameter_source(name) in (None, ParameterSource.DEFAULT):
            continue
        flag, value = max(param.opts, key=len), ctx.params[name]
        if getattr(param, "is_flag", False):
            args += [flag] if value else []
        else:
            args += [f"{flag}={v}" for v in (value if param.multiple else [value])]
    return args


def _progress_stream() -> IO[bytes]:
    """Standard output for the progress lines alone: whatever else would print there (a library's
    notice) goes to standard error instead of into the stream."""
    stream = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    return stream


def _stop_at_eof(stop: Any) -> None:
    """Read stdin (the raw descriptor: a buffered reader's lock would trouble the exit) until it closes."""
    while os.read(0, 4096):
        pass
    stop()


def _stream_progress(policy, reward, held_out, plan, wrap, workers) -> None:
    """The bench with its progress as JSON lines (``stars_engine.bench.progress``), for ``--tui``'s child.

    When stdin closes (the view asked, or it is gone) the bench stops after the cells in flight and
    says so (exit 130). A failure is one line on stderr, whatever raised it. The models run at a lower
    priority than the view, as the workbench's worker does."""
    import sqlite3

    from stars_engine.backends.priority import BACKGROUND_NICENESS, lower_priority
    from stars_engine.bench import run_bench
    from stars_engine.bench.drain import Drain, StopAsked
    from stars_engine.bench.progress import Finished, ProgressWriter, Stopped
    from stars_engine.display.controls import error_line

    lower_priority(BACKGROUND_NICENESS)
    writer = ProgressWriter(_progress_stream())
    cancel = threading.Event()
    drain = Drain(cancel, wrap)
    threading.Thread(target=_stop_at_eof, args=(drain.stop,), name="bench-stop", daemon=True).start()
    try:
        summary = run_bench(policy, reward, held_out, plan, writer.hooks(drain.hooks()), drain.wrap, cancel, workers)
    except StopAsked:
        writer.write(Stopped())
        raise typer.Exit(130) from None
    except (StarsError, sqlite3.DatabaseError):
        raise  # one line from the entry point, as the headless bench has them
    except Exception as exc:  # noqa: BLE001 - the view shows this line; a traceback it could not
        print(f"error: the bench failed: {error_line(exc)}", file=sys.stderr)
        raise typer.Exit(1) from None
    writer.write(Finished(summary))


def _with_progress(policy, reward, held_out, plan, wrap, workers, out: Path) -> dict[str, Any]:
    """The bench with a progress bar on stderr; Ctrl-C keeps the finished cells (exit 130)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from stars_engine.bench import run_bench

    console = Console(stderr=True)
    cancel = threading.Event()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console) as progress:
            cells_task = progress.add_task("cells", total=None)
            pairs_task = progress.add_task("judge", total=None, visible=False)
            hooks = _progress_hooks(progress, cells_task, pairs_task)
            return run_bench(policy, reward, held_out, plan, hooks, wrap, cancel, workers)
    except KeyboardInterrupt:
        print(f"interrupted: finished cells are kept in {out}; run the same command to resume",
              file=sys.stderr)
        raise typer.Exit(130) from None


def show_view(app: Any) -> None:
    """Run the bench view in this terminal (tests drive it with Textual's pilot instead)."""
    app.run()


def _watch(child: Any) -> dict[str, Any]:
    """The bench in the live view, run by a child process: its summary when it finished; a stopped
    bench exits 130, a failed one with the child's error as one line and its exit status."""
    from ..screens.bench import STOPPED, BenchApp

    app = BenchApp(child)
    try:
        show_view(app)
    finally:
        app.bench.end_child()  # however the view ended, the child does not outlive it
    failure = app.bench.failure
    if failure is not None:
        print(f"error: {failure.line}", file=sys.stderr)
        raise typer.Exit(failure.code)
    if app.bench.phase != "done" or app.bench.summary is None or not app.bench.final:
        print(STOPPED, file=sys.stderr)
        raise typer.Exit(130)
    return app.bench.summary


def print_results(summary: dict[str, Any], out: Path) -> None:
    """The table and the summary lines, after the bench (from the progress bar or the view)."""
    from rich.console import Console

    from stars_engine.bench.report import budget_lines, judge_lines

    Console(width=None if sys.stdout.isatty() else 220).print(results_table(summary))
    for line in [*budget_lines(summary), *judge_lines(summary), *goal_lines(summary["goal"])]:
        print(line)
    print(f"wrote {out / 'summary.json'}, " + ", ".join(summary["plots"]))


def register(app: typer.Typer) -> None:
    app.command("bench")(with_model_options(bench_command))
