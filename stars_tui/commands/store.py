"""``stars sessions list|show|search|rename|delete``, ``stars replay``, ``stars export``, ``stars import``.

Thin shells over ``stars_engine.store``: every id argument takes a unique
prefix, every command takes ``--db`` (else ``$STARS_DB``, else
``./sessions/stars.db``), and a problem is one ``error:`` line on stderr.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from stars_engine.decoding import labels
from stars_engine.display.controls import json_text, visible_controls, visible_fields
from stars_engine.display.format import shorten
from stars_engine.errors import StarsError
from stars_engine.events import (
    ACCEPTED,
    REJECTED,
    AttemptScored,
    Event,
    ParamsChanged,
    RunFailed,
    RunFinished,
    RunStarted,
    SegmentAccepted,
    last_user_message,
    rubric_label,
    system_message,
)
from stars_engine.run_state import describe_changes
from stars_engine.store import (
    Store,
    export_run,
    export_session,
    format_for,
    open_store,
    pace,
)
from stars_engine.store.comparisons import (
    Comparison,
    comparison_events,
    comparisons_of,
    load_comparison,
    pace_together,
)
from stars_engine.store.export import CHOICES, PAIRS, is_stdout
from stars_engine.store.importer import check, import_checked, parse
from stars_engine.store.pairs import export_pairs
from stars_engine.store.store import MARK_END, MARK_START
from stars_engine.store.turns import removed_runs

from .database import DB_HELP, db_path

console = Console(highlight=False)
sessions_app = typer.Typer(
    help="Browse, search, rename and delete recorded sessions.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


DbOption = Annotated[Path | None, typer.Option("--db", help=DB_HELP)]
SessionArg = Annotated[str, typer.Argument(metavar="SESSION", help="Session id (a unique prefix is enough).")]


def _store(db: Path | None, verify: bool = False) -> Store:
    return open_store(db_path(db), verify)


def _print_json(data: object) -> None:
    print(json_text(data, indent=2))


# -- sessions --------------------------------------------------------------
@sessions_app.command("list")
def list_command(
    db: DbOption = None,
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="Most sessions to show."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Sessions, most recently active first."""
    with _store(db) as store:
        sessions = store.list_sessions(limit)
    if as_json:
        _print_json([asdict(s) for s in sessions])
        return
    if not sessions:
        console.print("no sessions yet: `stars run PROMPT` or `stars chat` records one")
        return
    compared = any(s.comparisons for s in sessions)  # the column only when it says something: titles keep the room
    table = Table("id", "title", "turns", "runs", *(["compared"] if compared else []), "status", "last active",
                  box=None)
    for s in sessions:
        s = visible_fields(s)
        last = s.updated_at[:16].replace("T", " ")  # to the minute: the title keeps the room (--json has it all)
        title = Text(s.title) + (Text(f"\nsystem: {shorten(s.system_prompt, 40)}", "dim") if s.system_prompt else "")
        table.add_row(s.id, title, str(s.turns), s.counts.runs_cell(), *([str(s.comparisons)] if compared else []),
                      s.status_summary(), last)
    console.print(table)


@sessions_app.command("show")
def show_command(
    session: SessionArg,
    db: DbOption = None,
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """A session's turns: each prompt, reply, and how the run went."""
    with _store(db) as store:
        info = store.session(store.session_id(session))
        runs = store.runs_of(info.id)
        removed = removed_runs(store, info.id)  # runs whose turn was deleted or edited in the app
        comparisons = comparisons_of(store, info.id)
    if as_json:
        _print_json({**asdict(info), "runs": [{**asdict(r), "removed": removed.get(r.id, "")} for r in runs],
                     "comparisons": [_comparison_json(c) for c in comparisons]})
        return
    info, runs = visible_fields(info), [visible_fields(r) for r in runs]
    console.print(f"[bold]{escape(info.title)}[/]  session {info.id} · {info.created_at} · "
                  f"{info.counts.text()}")
    if info.system_prompt:
        console.print(Text("system prompt: ", style="magenta") + Text(info.system_prompt))
    for run in runs:
        how = removed.get(run.id)
        mark = f" · [yellow]{escape(visible_controls(how))}[/] (out of the conversation)" if how else ""
        console.print(f"\n[bold]turn {run.turn + 1}[/] · run {run.id} · {run.strategy} · {_outcome(run)}{mark}")
        console.print(Text(f"{run.policy_id} · reward {run.reward_label}", "dim"))
        if run.system_prompt != info.system_prompt:  # given another one than the session has now
            console.print(Text("system: ", style="magenta") + Text(run.system_prompt or "(none)"))
        console.print(Text("user: ", style="cyan") + Text(run.prompt))
        if run.final_text is not None:
            console.print(Text("assistant: ", style="green") + Text(run.final_text))
        if run.stats:
            st = run.stats
            console.print(
                f"[dim]{run.attempts} attempts · {st['tokens_accepted']} tokens kept, "
                f"{st['tokens_discarded']} discarded · {st['wall_seconds']} s[/]"
            )
        else:  # interrupted, failed or still running: what was recorded before it stopped
            console.print(f"[dim]{run.attempts} attempts recorded[/]")
    for comparison in comparisons:
        _show_comparison(comparison)


def _comparison_json(comparison: Comparison) -> dict:
    """A comparison for ``--json``: its columns name their runs by id (the runs are listed beside it)."""
    data = asdict(comparison)
    data["columns"] = [{"column": c.index, "spec": c.spec, "run_id": c.run.id if c.run else None}
                       for c in comparison.columns]
    data["winners"] = [{"what": what, "column": column} for what, column in comparison.winners()]
    return data


def _show_comparison(comparison: Comparison) -> None:
    """One comparison: its prompt (literally), then a line per column: spec, run, tokens, guide reward, what it won."""
    c = visible_fields(comparison)  # the prompt and the summary's text; each spec below
    turn = f"turn {c.turn + 1}" if c.turn >= 0 else "no turn recorded"
    console.print(Text(f"\ncomparison {c.id} · {turn} · base seed {c.base_seed} · {len(c.columns)} columns",
                       "bold"))
    console.print(Text("user: ", style="cyan") + Text(c.prompt))
    won = c.winners()
    for column in c.columns:
        run = column.run
        stats = (run.stats or {}) if run else {}
        tokens = stats.get("tokens_generated")
        guide = stats.get("final_reward")
        what = ", ".join(w for w, index in won if index == column.index)
        line = Text(f"  {column.index + 1}. ", "bold") + Text(visible_controls(column.spec)) + Text(
            f" · run {run.id} · {'–' if tokens is None else tokens} tok · guide "
            f"{'–' if guide is None else f'{guide:.3f}'}" if run else " · not recorded")
        if run is not None and run.status != "finished":
            line.append(f" · {run.status}", "yellow")
        if what:
            line.append(f" · won: {what}", "green")
        console.print(line)
    for verdict in c.verdict_lines():
        console.print(Text(f"  {verdict}", "dim"))


def _outcome(run) -> str:
    if run.status == "finished":
        return f"finished ({run.stop_reason})"
    if run.status == "failed":
        return f"[red]failed: {escape(run.error or '')}[/]"
    return f"[yellow]{run.status}[/]"


@sessions_app.command("search")
def search_command(
    query: str = typer.Argument(..., metavar="WORDS", help="Words to find in prompts and replies (all must appear)."),
    db: DbOption = None,
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="Most matches to show."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Full-text search over every recorded prompt and reply."""
    with _store(db) as store:
        hits = store.search(query, limit)
    if as_json:
        _print_json([asdict(h) for h in hits])
        return
    if not hits:
        console.print(Text(f"nothing matches {visible_controls(repr(query))}"))
        raise typer.Exit(1)
    for hit in map(visible_fields, hits):
        line = Text(f"{hit.session_id} {hit.role:>9}: ")
        line.append_text(_marked(hit.snippet))
        console.print(line + Text(f"  ({hit.title})", "dim"))


def _marked(snippet: str) -> Text:
    """The snippet with the matched words (between « and ») in bold."""
    text = Text()
    for i, part in enumerate(snippet.replace(MARK_END, MARK_START).split(MARK_START)):
        text.append(part, "bold yellow" if i % 2 else "")
    return text


@sessions_app.command("rename")
def rename_command(
    session: SessionArg,
    title: str = typer.Argument(..., metavar="TITLE", help="The new title."),
    db: DbOption = None,
) -> None:
    """Give a session a new title."""
    with _store(db) as store:
        session_id = store.session_id(session)
        store.rename_session(session_id, title)
    console.print(f"renamed session {session_id}")


@sessions_app.command("delete")
def delete_command(
    session: SessionArg,
    db: DbOption = None,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
) -> None:
    """Delete a session with all its runs and attempts (asks first unless --yes)."""
    with _store(db) as store:
        info = store.session(store.session_id(session))
        if not yes:
            if not sys.stdin.isatty():
                raise StarsError("not deleting without confirmation; pass --yes")
            title = visible_controls(info.title)
            typer.confirm(f"Delete session {info.id} “{title}” ({info.runs + info.removed_runs} runs)?", abort=True)
        store.delete_session(info.id)
    console.print(f"deleted session {info.id}")


# -- replay ----------------------------------------------------------------
def _verdict_style(verdict: str) -> str:
    return {ACCEPTED: "green", REJECTED: "red"}.get(verdict, "dim")


def render(event: Event) -> Text | str | None:
    """One line (or block) of plain replay for an event."""
    if isinstance(event, RunStarted):
        prompt = last_user_message(event.messages)
        system = system_message(event.messages)
        rubric = rubric_label(event.rubric)
        return (
            Text(f"{event.strategy} · {event.policy_id} · reward {event.reward_id}", "bold")
            + Text(f" · {rubric}" if rubric else "", "bold")
            + Text(f" · seed {event.seed}\n", "bold")
            + (Text("system: ", "magenta") + Text(system + "\n") if system else Text(""))
            + Text("user: ", "cyan")
            + Text(prompt)
        )
    if isinstance(event, AttemptScored):
        tau = "" if event.threshold is None else f" / τ {event.threshold:.3f}"
        where = f"  seg {event.segment + 1} try {event.attempt + 1} {event.verdict:<10} "
        head = Text(where, _verdict_style(event.verdict))
        return head + Text(f"{event.reward:+.3f}{tau}  ") + Text(repr(event.text), "dim")
    if isinstance(event, SegmentAccepted):
        note = " (exhausted: best taken)" if event.exhausted else ""
        return Text(f"✓ segment {event.segment + 1}{note}: ", "green bold") + Text(event.text)
    if isinstance(event, ParamsChanged):
        return Text(f"params changed before segment {event.segment + 1}: {describe_changes(event, labels())}", "yellow")
    if isinstance(event, RunFinished):
        from .run import summary

        return Text("assistant: ", "green") + Text(event.text) + Text("\n" + summary(event), "dim")
    if isinstance(event, RunFailed):
        return Text(f"run failed: {event.message}", "red")
    return None


def _parsed(path: Path):
    """The sessions of a JSONL export; a line nested past Python's recursion limit is one line too."""
    try:
        return parse(path)
    except RecursionError:
        raise StarsError(f"{path}: a line holds JSON nested too deeply") from None


Compared = tuple[Comparison, list[list[Event]]]  # a comparison and each column's events


def _load_replay(store_or_file: str, db: Path | None) -> list[tuple[str, list[Event]]] | Compared:
    """(title, events) per run: a run id in the database, or every run of a JSONL export;
    or a comparison with its columns' events."""
    path = Path(store_or_file)
    if path.suffix == ".jsonl" and path.is_file():
        return [
            (f"run {run.header['id']} · {session.header['title']}", run.events)
            for session in _parsed(path)
            for run in session.runs
        ]
    with _store(db) as store:
        kind, ident = store.resolve(store_or_file, ("run", "session", "comparison"))
        if kind == "comparison":
            comparison = load_comparison(store, ident)
            return comparison, comparison_events(store, comparison)
        run_ids = [ident] if kind == "run" else [r.id for r in store.runs_of(ident)]
        return [(f"run {r}", store.run_events(r)) for r in run_ids]


MIN_SPEED, MAX_SPEED = 0.01, 1000.0  # a hundredth of the recorded pace to a thousand times it


def _checked_speed(speed: float) -> float:
    if speed != 0 and not MIN_SPEED <= speed <= MAX_SPEED:  # nan fails both comparisons
        raise typer.BadParameter(f"{speed:g} is not 0 (at once) or between {MIN_SPEED:g} and {MAX_SPEED:g}")
    return speed


def replay_command(
    run: str = typer.Argument(
        ..., metavar="RUN|SESSION|COMPARISON|FILE",
        help="Run, session or comparison id (a unique prefix), or a JSONL export file. A comparison "
             "(its id is in `stars sessions show`) replays its columns side by side, all at once, each "
             "event at its recorded time.",
    ),
    db: DbOption = None,
    plain: bool = typer.Option(False, "--plain", help="Print in the terminal (the default when not on a terminal)."),
    speed: float = typer.Option(
        0.0, "--speed", callback=_checked_speed,
        help=f"With --plain: 1 = the recorded pace, 2 = twice as fast ({MIN_SPEED:g} to {MAX_SPEED:g}), 0 = at once.",
    ),
) -> None:
    """Show a recorded run again, attempt by attempt (no model needed); a comparison's columns side by side."""
    runs = _load_replay(run, db)
    if isinstance(runs, tuple):
        replay_comparison(*runs, plain=plain or not sys.stdout.isatty(), speed=speed)
        return
    if not plain and sys.stdout.isatty():
        replay_app(runs).run()
        return
    for title, events in runs:
        console.rule(escape(visible_controls(title)))
        for event in pace(events, speed or None):
            line = render(visible_fields(event))
            if line is not None:
                console.print(line)


def replay_comparison(comparison: Comparison, columns: list[list[Event]], plain: bool, speed: float) -> None:
    """The columns together: side by side on the replay screen, or with --plain one line per event, each
    tagged with its column, in the order of their recorded times."""
    if not plain:
        from ..screens.compare_replay import CompareReplayApp

        CompareReplayApp(comparison, columns).run()
        return
    tags = [f"[{c.index + 1} {visible_controls(c.spec)}] " for c in comparison.columns]
    console.rule(escape(f"comparison {comparison.id} · {len(tags)} columns"))
    for position, event in pace_together(columns, speed or None):
        line = render(visible_fields(event))
        if line is not None:
            console.print(Text(tags[position], "bold") + (line if isinstance(line, Text) else Text(line)))


def replay_app(runs: list[tuple[str, list[Event]]]):
    """The workbench's replay screen alone, no model loaded; a session shows its last run,
    whose history holds the earlier turns (speed: + and - on the screen)."""
    from ..replay_app import ReplayApp

    title, events = runs[-1]
    return ReplayApp(events, title)


# -- export / import -----------------------------------------------------
def export_command(
    ident: Annotated[
        str | None, typer.Argument(metavar="RUN|SESSION", help="Run or session id (a unique prefix).")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write ('-': standard output).")] = None,
    fmt: str | None = typer.Option(
        None, "--format", "-f", help=f"{', '.join(CHOICES)} (default: from the file's extension)."
    ),
    every: bool = typer.Option(False, "--all", help="Every session (with --format pairs)."),
    min_gap: float | None = typer.Option(
        None, "--min-gap", help="With --format pairs: only pairs whose reward gap is at least this."
    ),
    force: bool = typer.Option(
        False, "--force", help="Overwrite an existing regular file; write a --format that differs from the extension."
    ),
    db: DbOption = None,
) -> None:
    """Export a run or a whole session: md (transcript), jsonl (lossless), html (one page), csv (attempts),
    pairs (preference pairs for DPO: passed against failed segments at one prefix, best against worst reply;
    runs whose turn was deleted or edited in the chat are left out of pairs, and kept, marked, in the others)."""
    if output is None:
        raise typer.BadParameter("say where to write ('-' for standard output)", param_hint="'--output' / '-o'")
    if (ident is None) == (not every):
        raise typer.BadParameter("name one, or pass --all (with --format pairs), not both", param_hint="RUN|SESSION")
    chosen = format_for(output, fmt, force)  # a wrong --format costs no database read
    if chosen != PAIRS and (every or min_gap is not None):
        raise typer.BadParameter("goes with --format pairs", param_hint="'--all'" if every else "'--min-gap'")
    if min_gap is not None and not math.isfinite(min_gap):
        raise StarsError(f"--min-gap must be a number, got {min_gap}")
    with _store(db, verify=True) as store:
        kind, full = store.resolve(ident) if ident is not None else ("every session", "")
        if chosen == PAIRS:
            count, left_out = export_pairs(store, None if every else kind, full, output, force, min_gap)
            written, what = output, f"{count} pair{'s' if count != 1 else ''} from {kind} {full}".rstrip()
            if left_out:
                what += f" ({left_out} removed run{'s' if left_out != 1 else ''} left out)"
        else:
            exporter = export_run if kind == "run" else export_session
            written, what = exporter(store, full, fmt, output, force), f"{kind} {full}"
    to_stdout = is_stdout(written)
    report = Console(stderr=True, highlight=False) if to_stdout else console
    report.print(f"wrote {what} to {escape('standard output' if to_stdout else str(written))}")


def import_command(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="A JSONL file written by `stars export --format jsonl`.")
    ],
    db: DbOption = None,
) -> None:
    """Add the sessions of a JSONL export to the database (ids are kept)."""
    checked = check(file)  # checked whole before the database is opened: a bad file changes nothing
    with _store(db, verify=True) as store:
        ids = import_checked(store, checked)
        path = store.path
    for session_id in ids:
        console.print(f"imported session {session_id} into {escape(str(path))}")


def register(app: typer.Typer) -> None:
    app.add_typer(sessions_app, name="sessions")
    app.command("replay")(replay_command)
    app.command("export")(export_command)
    app.command("import")(import_command)
