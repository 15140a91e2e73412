"""Export a run or a whole session: Markdown, JSONL (lossless), HTML, CSV.

Each format is one function from a ``Bundle`` (a session and some of its
runs, with their events) to text, registered in ``FORMATS``; writing the file
(refusing to overwrite without ``force``, never leaving half a file) is shared.

Each format has ONE escape, and every field it writes goes through it, ids,
timestamps and numbers included (an imported file may hold anything the
importer let through): ``_md`` / ``_md_inline`` (every character that can start
markup backslash-escaped, so no HTML, link or emphasis survives), ``_html``,
``_cell`` (CSV: formula-like text neutralised) and ``_json_line``
(JSONL: the line breaks ``str.splitlines`` knows escaped, numbers finite).
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import stat
import sys
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..decoding import labels
from ..display.controls import visible_controls
from ..errors import StarsError
from ..events import AttemptScored, Event, ParamsChanged, rubric_label
from ..run_state import RunState, SegmentView, describe_changes
from .comparisons import Comparison, comparisons_of, to_line
from .counts import count_turns
from .store import RunInfo, SessionInfo, Store
from .turns import removed_runs

JSONL_FORMAT = "stars-session"
JSONL_VERSION = 2  # the newest this code reads: 2 adds comparison lines
PLAIN_VERSION = 1  # what a session without comparisons is written as, so an older stars still reads it


@dataclass(frozen=True)
class Bundle:
    session: SessionInfo
    runs: list[tuple[RunInfo, list[Event]]]
    comparisons: list[Comparison] = field(default_factory=list)  # a session's; a run's export has none
    removed: dict[str, str] = field(default_factory=dict)  # run id -> "deleted" or "edited" (turns.py)

    def linked(self, run: RunInfo) -> bool:
        """Whether the run is a column of a comparison this bundle holds (its link is exported with it)."""
        return any(c.id == run.comparison_id for c in self.comparisons)

    def events_of(self, run_id: str) -> list[Event]:
        return next((events for run, events in self.runs if run.id == run_id), [])

    def placed(self) -> list[tuple[RunInfo | None, Comparison | None]]:
        """The runs in order, each comparison just before the first of its runs (one with no run in the
        bundle at the end): where the md and html exports show it side by side."""
        out: list[tuple[RunInfo | None, Comparison | None]] = []
        shown: set[str] = set()
        for run, _ in self.runs:
            if self.linked(run) and run.comparison_id not in shown:
                shown.add(run.comparison_id)
                out.append((None, next(c for c in self.comparisons if c.id == run.comparison_id)))
            out.append((run, None))
        return out + [(None, c) for c in self.comparisons if c.id not in shown]


def segments_of(events: list[Event]) -> list[SegmentView]:
    """The decided and undecided segments of one run, in order."""
    return [view for view in RunState.of(events).segments if view.attempts or view.accepted]


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def reply_of(run: RunInfo, events: list[Event]) -> str:
    """The run's reply: its final text, else the segments it had accepted when it stopped."""
    return run.final_text or "".join(v.accepted.text for v in segments_of(events) if v.accepted)


def removal_note(how: str) -> str:
    """Why a run is no longer part of the conversation, in words; it stays in the export as the record."""
    said = {"deleted": "deleted from the conversation", "edited": "edited out of the conversation"}
    return f"{said.get(how, f'taken out of the conversation ({how})')}; kept for the record"


def _outcome(run: RunInfo) -> str:
    if run.status == "finished":
        return f"finished ({run.stop_reason})"
    return f"failed: {run.error}" if run.status == "failed" else run.status


# -- JSONL -----------------------------------------------------------------
_JSON_RAW = re.compile("[\x7f-\x9f\u2028\u2029]")  # left raw by json.dumps; line breaks to str.splitlines


def _json_line(data: dict[str, object]) -> str:
    """One JSON object on one line, whatever its text holds: only ``\n`` ends it, and never a NaN or Infinity."""
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise StarsError(f"cannot export a value JSON cannot hold ({exc})") from None
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"


def to_jsonl(bundle: Bundle) -> str:
    """A session line, then per run a run line and its events, one JSON object a line.

    A run line names its turn only when the import would number it otherwise (it
    numbers a run by the runs before it in the file: the n-th is turn n-1), i.e.
    when a turn has several runs (a redo, a comparison's columns) or is one run
    of a session exported alone; a file of one run per turn reads as before."""
    s = bundle.session
    lines = [
        {
            "type": "session",
            "format": JSONL_FORMAT,
            "version": JSONL_VERSION if bundle.comparisons else PLAIN_VERSION,
            "id": s.id,
            "title": s.title,
            "created_at": s.created_at,
            "updated_at": s.updated_at,
            **({"system_prompt": s.system_prompt} if s.system_prompt else {}),  # absent: none, as before it
        }
    ]
    for position, (run, events) in enumerate(bundle.runs):
        link = {"comparison_id": run.comparison_id, "comparison_column": run.comparison_column}
        lines.append({"type": "run", "id": run.id, "status": run.status, "finished_at": run.finished_at,
                      **(link if bundle.linked(run) else {}),  # absent: not a column, as before comparisons
                      **({"removed": bundle.removed[run.id]} if run.id in bundle.removed else {}),  # absent: kept
                      **({"turn": run.turn} if run.turn != position else {})})  # absent: the import numbers it so
        lines += [event.to_dict() for event in events]
    lines += [to_line(c) for c in bundle.comparisons]  # after the runs they link
    return "".join(_json_line(line) for line in lines)


# -- Markdown ----------------------------------------------------------------
_MD_SPECIAL = re.compile(r"[\\`*_\[\]<>&#|~]")  # markup anywhere: code, emphasis, links, HTML, entities, tables
_MD_LINE_START = re.compile(r"^(?:[-+=]|\d+[.)])")  # markup at a line's start: lists, setext underlines
_MD_INDENT = re.compile(r"^[ \t]+")


def _md(text: object) -> str:
    """One line of text as Markdown shows it literally: no HTML, link, emphasis, list or heading survives.

    Only the characters that can start markup are escaped (a backslash before
    each), so a transcript's plain prose stays readable in the raw file too.
    """
    line = _MD_SPECIAL.sub(r"\\\g<0>", visible_controls(str(text)))
    line = _MD_LINE_START.sub(lambda m: m.group()[:-1] + "\\" + m.group()[-1], line)
    return _MD_INDENT.sub(lambda m: "".join(f"&#{ord(c)};" for c in m.group()), line)  # no code block


def _md_inline(text: object) -> str:
    """A field inside a line (a title, an id, an error): its line breaks become spaces, then ``_md``."""
    return _md(" ".join(str(text).split()))


def _quote(text: str) -> str:
    return "\n".join("> " + _md(line) for line in (text or " ").splitlines() or [" "])


def _md_segment(view: SegmentView) -> list[str]:
    taken = view.accepted
    head = f"**Segment {view.index + 1}**"
    if taken is not None:
        head += f" · reward {_md(_num(taken.reward))} · threshold {_md(_num(taken.threshold))}"
        head += f" · {taken.attempts} attempt(s)"
        head += " · exhausted, best taken" if taken.exhausted else ""
    out = [head, "", _quote(taken.text if taken else "(not finished)"), ""]
    if view.rejected:
        out.append(f"<details><summary>{len(view.rejected)} other attempt(s)</summary>\n")
        out += [
            f"- {_md_inline(a.verdict)}, reward {_md(_num(a.reward))} vs {_md(_num(a.threshold))}: "
            f"<code>{_md_inline(a.text)}</code>"
            for a in view.rejected
        ]
        out += ["", "</details>", ""]
    return out


def _md_cell(text: str) -> str:
    """Text inside a Markdown table cell: each line through ``_md`` (which escapes ``|``), joined by ``<br>``."""
    return "<br>".join(_md(line) for line in text.splitlines()) or " "


def _columns_row(label: str, cells: list[str]) -> str:
    return f"| {label} | " + " | ".join(cells) + " |"


def _stat(run: RunInfo | None, key: str) -> object:
    return "–" if run is None or not run.stats or run.stats.get(key) is None else run.stats[key]


def _won(comparison: Comparison, index: int) -> str:
    """What the column won, ``guide reward, rubric judge``, or ""."""
    return ", ".join(what for what, winner in comparison.winners() if winner == index)


def _md_comparison(bundle: Bundle, c: Comparison) -> list[str]:
    """A comparison's replies side by side: one table column per strategy."""
    turn = f"turn {c.turn + 1}" if c.turn >= 0 else "no turn recorded"
    out = [f"## Comparison {_md_inline(c.id)} · {turn} · base seed {_md_inline(c.base_seed)}", "",
           "**User**", "", _quote(c.prompt), ""]
    cols = c.columns
    out.append(_columns_row(" ", [_md_inline(f"{col.index + 1}. {col.spec}") for col in cols]))
    out.append(_columns_row("---", ["---"] * len(cols)))
    out.append(_columns_row("run", [_md_inline(col.run.id) if col.run else "(not recorded)" for col in cols]))
    out.append(_columns_row("outcome", [_md_inline(_outcome(col.run)) if col.run else "–" for col in cols]))
    for label, key, form in (("tokens generated", "tokens_generated", "{}"), ("reward calls", "reward_calls", "{}"),
                             ("wall seconds", "wall_seconds", "{:.1f}"), ("guide reward", "final_reward", "{:.3f}")):
        values = [_stat(col.run, key) for col in cols]
        out.append(_columns_row(label, [_md(v if v == "–" else form.format(v)) for v in values]))
    out.append(_columns_row("won", [_md_inline(_won(c, col.index) or "–") for col in cols]))
    out.append(_columns_row("reply", [_md_cell(reply_of(col.run, bundle.events_of(col.run.id)))
                                      if col.run else " " for col in cols]))
    out.append("")
    out += [f"_{_md_inline(line)}_\n" for line in c.verdict_lines()]
    return out


def counts(bundle: Bundle) -> str:
    """``2 turn(s), 3 run(s)``: the prompts answered, and the runs that answered them (a redo is a run); the runs
    taken out of the conversation, exported as the record, said apart (``counts.py``)."""
    return count_turns((run.turn, bundle.removed.get(run.id, "")) for run, _ in bundle.runs).text()


def _md_change(change: ParamsChanged, named: dict[str, str]) -> str:
    """A mid-run parameter change, each field by the label the app shows for it."""
    return f"_params changed before segment {change.segment + 1}: {_md_inline(describe_changes(change, named))}_\n"


def to_markdown(bundle: Bundle) -> str:
    s = bundle.session
    named = labels()
    out = [f"# {_md_inline(s.title)}", "",
           f"Session {_md_inline(s.id)} · {_md_inline(s.created_at)} · {counts(bundle)}", ""]
    if s.system_prompt:
        out += ["**System prompt**", "", _quote(s.system_prompt), ""]
    for run, comparison in bundle.placed():
        if comparison is not None:
            out += _md_comparison(bundle, comparison)
            continue
        assert run is not None
        events = bundle.events_of(run.id)
        out += [f"## Turn {run.turn + 1} · run {_md_inline(run.id)} · {_md_inline(run.strategy)} · "
                f"{_md_inline(_outcome(run))}", ""]
        if run.id in bundle.removed:  # the turn was deleted or edited: the chat no longer holds this reply
            out += [f"*({_md_inline(removal_note(bundle.removed[run.id]))})*", ""]
        out += [f"_{_md_inline(run.policy_id)} · reward {_md_inline(run.reward_label)}_", ""]
        if run.system_prompt != s.system_prompt:  # the run was given another one than the session has now
            out += ["**System**", "", _quote(run.system_prompt or "(none)"), ""]
        out += ["**User**", "", _quote(run.prompt), "", "**Assistant**", ""]
        out += [_quote(reply_of(run, events)), ""]
        if run.stats:
            st = run.stats
            out += [
                f"_{_md(st['tokens_accepted'])} tokens kept of {_md(st['tokens_generated'])} generated · "
                f"{_md(st['reward_calls'])} reward calls · {_md(st['wall_seconds'])} s_",
                "",
            ]
        out += ["### Segments", ""]
        changes = [e for e in events if isinstance(e, ParamsChanged)]
        for view in segments_of(events):
            out += [_md_change(c, named) for c in changes if c.segment == view.index]
            out += _md_segment(view)
        drawn = {view.index for view in segments_of(events)}
        out += [_md_change(c, named) for c in changes if c.segment not in drawn]  # the run ended before it was drawn
    return "\n".join(out).rstrip() + "\n"


# -- HTML --------------------------------------------------------------------
HTML_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
.system{background:#f4f4f4;padding:.6rem;border-radius:6px;white-space:pre-wrap;color:#555}
.user{background:#eef2ff;padding:.6rem;border-radius:6px;white-space:pre-wrap}
.reply{padding:.6rem;border:1px solid #ddd;border-radius:6px;white-space:pre-wrap}
.accepted{background:#d9f7d9}.rejected{background:#fbdcdc}.not-needed{background:#eee;color:#777}
.seg{border-bottom:2px solid #3a3}.seg.exhausted{border-bottom-color:#c80}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.4rem 0 1rem}
td,th{border:1px solid #ddd;padding:.2rem .4rem;text-align:left;vertical-align:top}
td.text{white-space:pre-wrap;font-family:monospace}.meta{color:#666;font-size:.9rem}
sup.r{color:#3a3;font-size:.7rem;margin:0 .2rem}
"""
COMPARE_STYLE = """.compare{display:flex;gap:.6rem;align-items:stretch}
.compare>.column{flex:1;min-width:0;border:1px solid #ddd;border-radius:6px;padding:.4rem}
.compare>.column.winner{border-color:#3a3}.compare h3{margin:.2rem 0;font-size:1rem}
"""  # only in a page with a comparison, so a page without one reads as before them
REMOVED_STYLE = """.removed{color:#777}p.removed{font-style:italic}
"""  # only in a page with a run taken out of the conversation, likewise


def _html(text: object) -> str:
    """Any field as HTML text or an attribute value: markup escaped, control characters made visible."""
    return html.escape(visible_controls(str(text)))


REMOVED_CLASS = ' class="removed"'


def _html_run(run: RunInfo, events: list[Event], removed: str | None = None) -> list[str]:
    """One run; ``removed`` (how its turn left the conversation) marks its heading and says so under it."""
    e = _html
    views = segments_of(events)
    spans = "".join(
        f'<span class="seg{" exhausted" if v.accepted.exhausted else ""}" '
        f'title="segment {v.index + 1}: reward {e(_num(v.accepted.reward))}">{e(v.accepted.text)}</span>'
        f'<sup class="r">{e(_num(v.accepted.reward))}</sup>'
        for v in views
        if v.accepted
    )
    out = [
        f"<h2{REMOVED_CLASS if removed is not None else ''}>Turn {run.turn + 1} · run <code>{e(run.id)}</code>"
        f" · {e(run.strategy)} · {e(_outcome(run))}</h2>",
        *([f'<p class="removed">({e(removal_note(removed))})</p>'] if removed is not None else []),
        *([f'<div class="system">system: {e(run.system_prompt)}</div>'] if run.system_prompt else []),
        f'<div class="user">{e(run.prompt)}</div>',
        f'<p class="meta">{e(run.policy_id)} · reward {e(run.reward_label)}</p>',
        f'<div class="reply">{spans}</div>',
        "<table><tr><th>segment</th><th>attempt</th><th>verdict</th><th>reward</th>"
        "<th>threshold</th><th>tokens</th><th>text</th></tr>",
    ]
    out += [
        f'<tr class="{e(a.verdict)}"><td>{v.index + 1}</td><td>{a.attempt + 1}</td><td>{e(a.verdict)}</td>'
        f"<td>{e(_num(a.reward))}</td><td>{e(_num(a.threshold))}</td><td>{e(a.tokens)}</td>"
        f'<td class="text">{e(a.text)}</td></tr>'
        for v in views
        for a in v.attempts
    ]
    return out + ["</table>"]


def _html_comparison(bundle: Bundle, c: Comparison) -> list[str]:
    """A comparison's replies side by side: a flex row, one column per strategy."""
    e = _html
    turn = f"turn {c.turn + 1}" if c.turn >= 0 else "no turn recorded"
    out = [f"<h2>Comparison <code>{e(c.id)}</code> · {turn} · base seed {e(c.base_seed)}</h2>",
           f'<div class="user">{e(c.prompt)}</div>', '<div class="compare">']
    for col in c.columns:
        won = _won(c, col.index)
        run = col.run
        meta = "not recorded" if run is None else (
            f"run <code>{e(run.id)}</code> · {e(_outcome(run))} · {e(_stat(run, 'tokens_generated'))} tokens "
            f"generated · guide reward {e(_num(run.stats.get('final_reward')) if run.stats else '–')}")
        out += [f'<div class="column{" winner" if won else ""}"><h3>{e(col.index + 1)}. {e(col.spec)}</h3>',
                f'<p class="meta">{meta}{" · won: " + e(won) if won else ""}</p>',
                f'<div class="reply">{e(reply_of(run, bundle.events_of(run.id))) if run else ""}</div></div>']
    out.append("</div>")
    return out + [f'<p class="meta">{e(line)}</p>' for line in c.verdict_lines()]


def to_html(bundle: Bundle) -> str:
    s = bundle.session
    style = HTML_STYLE + (COMPARE_STYLE if bundle.comparisons else "") + (REMOVED_STYLE if bundle.removed else "")
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_html(s.title)}</title><style>{style}</style></head><body>",
        f"<h1>{_html(s.title)}</h1>",
        f'<p class="meta">session <code>{_html(s.id)}</code> · {_html(s.created_at)} · {_html(counts(bundle))}</p>',
        *([f'<div class="system">system prompt: {_html(s.system_prompt)}</div>'] if s.system_prompt else []),
    ]
    for run, comparison in bundle.placed():
        out += _html_comparison(bundle, comparison) if comparison is not None else _html_run(
            run, bundle.events_of(run.id), bundle.removed.get(run.id)) if run is not None else []
    return "\n".join(out + ["</body></html>"]) + "\n"


# -- CSV ---------------------------------------------------------------------
CSV_COLUMNS = (
    "session_id",
    "run_id",
    "turn",
    "strategy",
    "segment",
    "attempt",
    "verdict",
    "reward",
    "threshold",
    "tokens",
    "elapsed_ms",
    "eos",
    "cut_entropy",
    "round",
    "text",
    "system_prompt",
    "rubric",
    "comparison_id",
    "comparison_column",
    "removed",  # "deleted" or "edited": the turn left the conversation (the row stays, as the record)
)  # a new column goes at the end, so a reader that counts columns keeps working


FORMULA_STARTS = ("=", "+", "-", "@")
HIDING = ("Zs", "Cc", "Cf")  # spaces, control and invisible format characters a spreadsheet may skip


def _formula_like(text: str) -> bool:
    """Whether a spreadsheet could read ``text`` as a formula: it starts with a tab or CR, or with
    = + - @ once leading spaces and invisible characters are skipped and full-width or small forms
    (＝, ﹢) are folded to ASCII (NFKC)."""
    if text.startswith(("\t", "\r", "\n")):
        return True
    skipped = 0
    while skipped < len(text) and unicodedata.category(text[skipped]) in HIDING:
        skipped += 1
    return unicodedata.normalize("NFKC", text[skipped:skipped + 8]).startswith(FORMULA_STARTS)


def _cell(value: object) -> object:
    """OWASP's defence against CSV injection, for every cell: formula-like text gets a leading ``'``.
    Numbers stay numbers; None is an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    text = str(value)
    return f"'{text}" if _formula_like(text) else text


def to_csv(bundle: Bundle) -> str:
    """One row per scored attempt, every run of the bundle (formula-like text neutralised)."""
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180; a CR inside a cell is then quoted
    out.writerow(CSV_COLUMNS)
    for run, events in bundle.runs:
        for a in (e for e in events if isinstance(e, AttemptScored)):
            out.writerow(
                map(_cell, [
                    bundle.session.id,
                    run.id,
                    run.turn + 1,  # numbered from 1, as everywhere a person reads them
                    run.strategy,
                    a.segment + 1,
                    a.attempt + 1,
                    a.verdict,
                    a.reward,
                    a.threshold,
                    a.tokens,
                    a.elapsed_ms,
                    a.eos,
                    a.cut_entropy,
                    a.round,
                    a.text,
                    run.system_prompt,
                    rubric_label(run.rubric),
                    run.comparison_id,
                    run.comparison_column + 1 if run.comparison_id else None,  # from 1; empty: not a column
                    bundle.removed.get(run.id),  # empty: still in the conversation
                ])
            )
    return buffer.getvalue()


FORMATS: dict[str, Callable[[Bundle], str]] = {
    "md": to_markdown,
    "jsonl": to_jsonl,
    "html": to_html,
    "csv": to_csv,
}
PAIRS = "pairs"  # preference pairs (store/pairs.py): JSON lines of their own, written to a .jsonl file
CHOICES = (*FORMATS, PAIRS)
SUFFIXES = {".md": "md", ".markdown": "md", ".jsonl": "jsonl", ".html": "html", ".htm": "html", ".csv": "csv"}


STDOUT = "-"


def is_stdout(path: Path | str) -> bool:
    """``-o -``: write to standard output."""
    return str(path) == STDOUT


def format_for(path: Path, fmt: str | None = None, force: bool = False) -> str:
    """The format asked for, else the one the file's extension names.

    A ``fmt`` that contradicts the extension (``-f csv -o notes.md``) is
    refused unless ``force``: it is more often a slip than a wish.
    """
    named = None if is_stdout(path) else SUFFIXES.get(Path(path).suffix.lower())
    if fmt is None and named is None:
        where = "standard output (-o -)" if is_stdout(path) else repr(Path(path).name)
        raise StarsError(f"cannot tell the format for {where}; pass --format {'|'.join(CHOICES)}")
    chosen = fmt or named
    if chosen not in CHOICES:
        raise StarsError(f"unknown format {chosen!r}; choose one of {', '.join(CHOICES)}")
    if named is not None and chosen != named and (chosen, named) != (PAIRS, "jsonl") and not force:
        raise StarsError(f"--format {chosen} does not match the extension of {Path(path).name} ({named}); "
                         "pass --force to write it anyway")
    return chosen


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _refuse_to_replace(path: Path, force: bool) -> None:
    """Only a regular file is ever replaced, and only with ``force``: never a device, FIFO or link."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        raise StarsError(f"{path} is a folder")
    if not stat.S_ISREG(mode):
        raise StarsError(f"{path} exists and is not a regular file; stars only replaces regular files")
    if not force:
        raise StarsError(f"{path} already exists; use --force to overwrite it")


def write_text(path: Path, text: str, force: bool = False) -> None:
    """Write all of ``text`` or nothing: a temporary file renamed into place.

    The file gets the permissions any new file of the user's gets (the umask),
    not the temporary file's 0600.
    """
    if is_stdout(path):
        sys.stdout.write(visible_controls(text) if sys.stdout.isatty() else text)
        sys.stdout.flush()
        return
    path = Path(path)
    _refuse_to_replace(path, force)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise StarsError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise StarsError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_bundle(store: Store, run_id: str) -> Bundle:
    run = store.get_run(run_id)
    removed = {k: v for k, v in removed_runs(store, run.session_id).items() if k == run.id}
    return Bundle(store.session(run.session_id), [(run, store.run_events(run.id))], removed=removed)


def session_bundle(store: Store, session_id: str) -> Bundle:
    runs = store.runs_of(session_id)
    return Bundle(store.session(session_id), [(run, store.run_events(run.id)) for run in runs],
                  comparisons_of(store, session_id), removed_runs(store, session_id))


def export_run(store: Store, run_id: str, fmt: str | None, path: Path, force: bool = False) -> Path:
    """Write one run (with its session's header) to ``path``; ``fmt`` None follows the extension."""
    chosen = format_for(path, fmt, force)
    write_text(path, FORMATS[chosen](run_bundle(store, run_id)), force)
    return Path(path)


def export_session(store: Store, session_id: str, fmt: str | None, path: Path, force: bool = False) -> Path:
    """Write every run of a session to ``path``."""
    chosen = format_for(path, fmt, force)
    write_text(path, FORMATS[chosen](session_bundle(store, session_id)), force)
    return Path(path)
