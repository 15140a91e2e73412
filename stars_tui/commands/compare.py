"""``stars compare PROMPT --strategies A,B,…``: 2-4 strategies on one prompt, side by side, headless.

The columns run side by side on the models loaded once: at once on a served
model (a thread each; the server batches them), interleaved in-process (one
event of each in turn), as the policy allows (``stars_engine.compare.schedule``);
each is recorded as an ordinary run, by a recorder of its own, and the columns
are the runs of one turn of a new session, as the workbench's compare screen
records them (``stars_engine.compare.recording``).
The engine side is ``stars_engine.compare``; this module parses the options,
prints the stream or the table, and names the winners.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from stars_engine import backends
from stars_engine.display.controls import error_line, json_text, one_line
from stars_engine.errors import StarsError
from stars_engine.events import Event

from ..output import EXIT_PIPE_CLOSED, ReaderGone, stdout_to_devnull
from .database import db_path
from .options import SYSTEM_HELP, ModelChoice, read_system, with_model_options
from .run import EXIT_CANCELLED, ctrl_c_cancels, load_models, read_prompt

REPLY_CHARS = 240  # of each reply in the table; --json carries it whole

ROWS = (  # (label, key in a column's summary, format)
    ("seed", "seed", "{}"),
    ("stop", "stop_reason", "{}"),
    ("tokens generated", "tokens_generated", "{}"),
    ("tokens kept", "tokens_kept", "{}"),
    ("reward calls", "reward_calls", "{}"),
    ("forward passes", "forward_passes", "{}"),
    ("wall seconds", "wall_seconds", "{:.1f}"),
    ("guide reward", "guide_reward", "{:.3f}"),
)


def _cell(column: dict[str, Any], key: str, form: str):
    from rich.text import Text

    value = column[key]
    return Text("-" if value is None else one_line(form.format(value)))


def compare_table(summary: dict[str, Any]):
    """One table column per strategy column: its spec, tally, guide reward and reply (cut). Every
    text is a ``Text``, so a reply or a spec is shown literally, never read as markup."""
    from rich.table import Table
    from rich.text import Text

    schedule = summary.get("schedule")
    table = Table(title=Text(f"stars compare ({schedule})" if schedule else "stars compare"), show_lines=True)
    table.add_column(Text(""), justify="left", no_wrap=True)
    for column in summary["columns"]:
        table.add_column(Text(f"{column['column'] + 1}. {one_line(column['spec'])}"), justify="left")
    for label, key, form in ROWS:
        table.add_row(Text(label), *(_cell(c, key, form) for c in summary["columns"]))
    replies = []
    for c in summary["columns"]:
        text = one_line(c["error"] and f"({c['error']})" or c["text"])
        replies.append(Text(text if len(text) <= REPLY_CHARS else text[:REPLY_CHARS] + "…"))
    table.add_row(Text("reply"), *replies)
    return table


def tagged(column: int, spec: str, event: Event) -> str:
    """One ``--json`` line: the event, tagged by its column."""
    return json_text({"column": column, "spec": spec, **event.to_dict()})


def compare_command(
    prompt: Annotated[str, typer.Argument(metavar="PROMPT", help="The user message ('-' reads standard input).")],
    strategies: Annotated[str, typer.Option(
        "--strategies",
        help="2 to 4 comma-separated specs, as stars bench takes them: vanilla, bon-N, stars[:key=value…], "
             "cards[:…], specrej[:…], smc[:…], beam[:…].")],
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Base seed; column i runs with seed base+i (default: a fresh one, printed).")] = None,
    max_new_tokens: Annotated[int, typer.Option(
        "--max-new-tokens", help="Most tokens per reply, for every column.")] = 128,
    judge: Annotated[str, typer.Option(
        "--judge", help="Held-out judges that rank the replies, comma-separated: chat (the chat model, "
                        "pairwise, debiased over both orders), rubric (a held-out embedding rubric), or none.")
    ] = "chat,rubric",
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print every event as one JSON line tagged by its column, then a CompareSummary line.")
    ] = False,
    db: Annotated[Path | None, typer.Option(
        "--db", help="Session database (default: $STARS_DB or ./sessions/stars.db).")] = None,
    no_save: Annotated[bool, typer.Option("--no-save", help="Do not record the runs.")] = False,
    system: Annotated[str | None, typer.Option("--system", help=SYSTEM_HELP)] = None,
    **model_kwargs: Any,
) -> None:
    """Run 2-4 strategies on one prompt and compare them: tally, guide reward, held-out judges.

    The columns run side by side on the models loaded once (at once on --server, interleaved
    in-process), each recorded as a run of one turn of a new session (the comparison is that turn);
    Ctrl-C stops every column (what was written is kept, as cancelled).
    """
    from stars_engine.bench.heldout import build_judges, parse_judges
    from stars_engine.compare import Comparison, Outcome, plan, random_seed, schedule_of, summarize, verdict_lines
    from stars_engine.params import Params

    judge_list = parse_judges(judge)
    system_prompt = read_system(system)  # before standard input is read: a bad file costs nothing
    text = read_prompt(prompt)
    if seed is not None and seed < 0:
        raise StarsError(f"--seed must be an integer >= 0, got {seed}")
    try:
        base = Params(max_new_tokens=max_new_tokens)
    except StarsError as exc:
        raise StarsError(f"--max-new-tokens: {exc}") from None
    base_seed = random_seed() if seed is None else seed
    columns = plan(strategies, base, base_seed)
    models = ModelChoice(**model_kwargs)
    kinds = tuple(c.spec.strategy for c in columns)
    backends.check(models, kinds)  # before the database is touched: a bad option changes nothing
    recorders = None
    if not no_save:  # opened first, so a bad --db fails before the slow model load
        from stars_engine.compare.recording import ColumnRecorders

        recorders = ColumnRecorders(db_path(db))
    [policy], reward = load_models(models, 1, kinds)
    messages = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [
        {"role": "user", "content": text}]
    policy.check_prompt(messages, max_new_tokens)
    held_out = build_judges(judge_list, policy, reward)
    seeds = ", ".join(f"{one_line(c.spec.label)} {c.seed}" for c in columns)
    print(f"base seed {base_seed} (columns: {seeds}); the columns run {schedule_of(policy)}", file=sys.stderr)

    comparison = Comparison(columns, messages)
    cancel = threading.Event()

    def column_done(outcome: Outcome) -> None:
        if recorders is not None:
            outcome.run_id = recorders.run_id(outcome.column)
        if not as_json:  # the table waits for every column: say each one as it ends
            c = outcome.column
            stats = outcome.stats
            how = outcome.error or (f"{outcome.stop_reason}, {stats.wall_seconds:.1f} s" if stats else "")
            print(f"column {c.index + 1}/{len(columns)} {one_line(c.spec.label)}: {one_line(how)}", file=sys.stderr)

    reader_stayed = True
    with ctrl_c_cancels(cancel):
        wrap = recorders.wrap if recorders else None
        for column, event in comparison.events(policy, reward, cancel, wrap, column_done):
            if not as_json or not reader_stayed:
                continue
            try:
                print(tagged(column.index, column.spec.label, event), flush=True)
            except (BrokenPipeError, ReaderGone):  # `| head`: the run ends as cancelled, nothing more is said
                reader_stayed = False
                stdout_to_devnull()
                cancel.set()
    if not reader_stayed:
        raise typer.Exit(EXIT_PIPE_CLOSED)
    summary = summarize(comparison, {} if cancel.is_set() else held_out, base_seed)
    if as_json:
        print(json_text(summary), flush=True)
    else:
        from rich.console import Console

        Console(width=None if sys.stdout.isatty() else 200).print(compare_table(summary))
        if not cancel.is_set():
            for line in verdict_lines(summary):
                print(one_line(line))
    linked = True
    if recorders is not None and recorders.session_id:
        runs = ", ".join(o.run_id for o in comparison.outcomes if o.run_id)
        try:
            comparison_id = recorders.link(comparison, summary)
            print(f"saved comparison {comparison_id} (runs {runs}) in session {recorders.session_id}",
                  file=sys.stderr)
        except StarsError as exc:  # the runs are saved; only the link between them is missing
            linked = False
            print(f"saved runs {runs} in session {recorders.session_id}", file=sys.stderr)
            print(f"error: the comparison was not recorded: {error_line(exc)}", file=sys.stderr)
    for outcome in comparison.outcomes:
        if outcome.error and outcome.error != "not run":
            print(f"error: column {outcome.column.index + 1} ({one_line(outcome.column.spec.label)}): "
                  f"{one_line(outcome.error)}", file=sys.stderr)
    if cancel.is_set():
        raise typer.Exit(EXIT_CANCELLED)
    if any(o.error for o in comparison.outcomes) or not linked:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("compare")(with_model_options(compare_command))
