"""Hostile inputs, round two (issue 22): served paths, settings, exports and the store under load.

    .venv/bin/python benchmarks/hostile_inputs.py [--only CLASS] [-k TEXT] [--jobs N] [--json FILE]
                                                  [--round-one] [--list]

Each case runs ``python -m stars_tui ARGS`` in a fresh process, in a fresh
folder (a good database holding the demo session, its JSONL export, and what
the case needs), against ``fake_vllm.py``: a fault-injecting fake vLLM server
started here. Every process runs under a 3 GiB address-space limit (an
unbounded read ends in MemoryError instead of taking the machine) and a
wall-clock limit (past it, the case is a hang). ``stars chat`` cases run on
Textual's headless driver: still running at the limit means the workbench
opened.

A case is **clean** when a bad input gets one ``error:`` line and a non-zero
exit (2, or 1 for a run a server broke mid-way), with every database
byte-identical; or, for an input that is legal (the rubric object in
``STARS_RUBRIC``), when it is accepted. Otherwise, from worst down:

* security hole: the model folder's own Python ran (its ``RAN`` file appeared),
  raw control or bidi characters reached the terminal (stderr, or stdout on a
  pty), or an export holds live HTML, a ``javascript:`` link or a CSV formula;
* runs that lost data: a round trip that is not byte-identical or cannot read
  its own export; a recording run that lost attempts to another process;
* hang / unbounded memory: past the time limit, MemoryError, or killed;
* traceback (or a crash by signal, or an internal exception's own text such as
  ``error: AttributeError: …``); database changed; silently accepted (exit
  0 on bad input, or a legal input refused); other (e.g. two error lines).

``--round-one`` adds ``bad_inputs.py``'s 123 cases, counted the same way.
The table at the end is what README's Reliability section quotes.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import pty
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bad_inputs  # noqa: E402
from fake_vllm import ESCAPES, fake_vllm, root_fault  # noqa: E402

model_folders = bad_inputs.model_folders
SESSION, RUN = bad_inputs.SESSION, bad_inputs.RUN
MEMORY_LIMIT = 3 << 30
HEADLESS = "textual.drivers.headless_driver:HeadlessDriver"

COLUMNS = ("clean", "traceback", "silently accepted", "hang or unbounded memory", "database changed",
           "lost data", "security hole", "other")
HEADERS = ("cases", "clean errors", "tracebacks", "silently accepted", "hangs / unbounded memory",
           "databases changed", "runs that lost data", "security holes", "other")
CLASSES = ("custom-code", "server-url", "escapes", "server-reply", "export", "round-trip", "bounded-read",
           "nested-json", "big-int", "settings", "stdout-full", "hand-edited-db", "absurd-number",
           "template", "huge-config", "concurrency", "round-one")

# What a terminal obeys: C0 (but tab, newline, CR), DEL, C1, and the bidi overrides and isolates.
RAW_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
PEAK_KIB = 1536 << 10  # a workbench on served models that grew past 1.5 GiB read something without a bound
SGR = re.compile(r"\x1b\[[0-9;]*m")
# An internal exception that reached the user as its own text: a crash caught at the top, not a clean error.
INTERNAL = re.compile(r"\b(AttributeError|TypeError|KeyError|IndexError|RecursionError|OverflowError|NameError|"
                      r"UnboundLocalError|AssertionError|ZeroDivisionError)\b|"
                      r"^error: (\S+: )?maximum recursion depth exceeded", re.MULTILINE)
MEMORY_WORDS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory", "DefaultCPUAllocator")
APP_WAIT = 40  # s: a workbench still running by then has opened
READ_WAIT = 45  # s: a file read that has not ended by then is reading forever
DRIP_WAIT = 200  # s: past the client's 120 s timeout, whole-request or not
SERVED = ("--no-save", "--max-new-tokens", "8", "--segment-tokens", "4")


@dataclass
class Case:
    name: str
    kind: str  # one of CLASSES
    steps: list[list[str | bytes]]  # run in order while each exits 0; see fill() for the placeholders
    expect: str = "error"  # error: a bad input; ok: a legal one; either: a clean error or success
    stdin: bytes | str = b""  # bytes, or a path (a placeholder allowed) to read stdin from
    prepare: Callable[[Path], object] | None = None
    env: dict[str, str] = field(default_factory=dict)
    codes: tuple[int, ...] = (2,)  # the exit codes of a clean error; () = any non-zero
    check: Callable[[Path, list[Step]], str | None] | None = None  # after every step exited 0
    later_refusal: str = "other"  # a later step that refuses (an error where the earlier ones succeeded)
    timeout: float = 90.0
    tty: bool = False  # stdout on a pseudo-terminal (what reaches the terminal is checked)
    stdout: str | None = None  # stdout to this file instead (/dev/full)
    app: bool = False  # stars chat: alive at the timeout means the workbench opened
    lean: bool = False  # served models only: a process past PEAK_KIB read something without a bound
    writes: bool = False  # the databases may change (a legal write)
    runner: Callable[[Case, Path, str], tuple[str, str]] | None = None  # a case that is more than one process at a time


@dataclass
class Step:
    code: int | None  # None: killed at the time limit
    stdout: str
    stderr: str
    alive_at_limit: bool = False
    fifo_blocked: bool = False
    peak_kib: int = 0  # the largest resident set among the process and its children, when still alive at the limit


# -- running one process -------------------------------------------------------------------------
def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _drain(fd: int, out: bytearray, cap: int = 4 << 20) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        if len(out) < cap:
            out += chunk[: cap - len(out)]


def fill(arg: str | bytes, folder: Path, srv: str) -> bytes:
    """``{dir}`` the case's folder, ``{db}`` its good database, ``{srv}`` the fake server's URL,
    ``{hostport}`` the server without a scheme, ``{root:NAME}`` the server naming folder NAME as its root."""
    if isinstance(arg, bytes):
        return arg
    arg = re.sub(r"\{root:([^}]*)\}", lambda m: f"{srv}/{root_fault(str(folder / m.group(1)))}", arg)
    return (arg.replace("{dir}", str(folder)).replace("{db}", str(folder / "good.db")).replace("{srv}", srv)
            .replace("{hostport}", srv.removeprefix("http://"))).encode()


def _fifos(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_fifo()]


def _fifo_has_reader(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return False
    os.close(fd)
    return True


def _family(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    out, todo = [], [pid]
    while todo:
        now = todo.pop()
        out.append(now)
        for task in Path(f"/proc/{now}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return out


def _peak_kib(pid: int) -> int:
    peaks = [0]
    for member in _family(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        found = re.search(r"VmHWM:\s+(\d+) kB", status)
        peaks.append(int(found.group(1)) if found else 0)
    return max(peaks)


def run_step(case: Case, argv: list[str | bytes], folder: Path, srv: str) -> Step:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "STARS_CONFIG": str(folder / "no-config.json"),
           "COLUMNS": "200"}
    env.pop("STARS_DB", None)
    if case.app:
        env["TEXTUAL_DRIVER"] = HEADLESS
    env.update({k: fill(v, folder, srv).decode() for k, v in case.env.items()})
    stdin = (open(fill(case.stdin, folder, srv), "rb") if isinstance(case.stdin, str)  # noqa: SIM115
             else subprocess.PIPE)
    out, err = bytearray(), bytearray()
    master = None
    if case.stdout:
        stdout = open(case.stdout, "wb")  # noqa: SIM115
    elif case.tty:
        master, stdout = pty.openpty()
    else:
        stdout = subprocess.PIPE
    command = [sys.executable.encode(), b"-m", b"stars_tui", *(fill(a, folder, srv) for a in argv)]
    proc = subprocess.Popen(command, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, cwd=folder, env=env,
                            preexec_fn=_limits, start_new_session=True)
    readers = [threading.Thread(target=_drain, args=(proc.stderr.fileno(), err), daemon=True)]
    if master is not None:
        os.close(stdout)
        readers.append(threading.Thread(target=_drain, args=(master, out), daemon=True))
    elif proc.stdout is not None:
        readers.append(threading.Thread(target=_drain, args=(proc.stdout.fileno(), out), daemon=True))
    for reader in readers:
        reader.start()
    if proc.stdin is not None:
        try:
            proc.stdin.write(case.stdin)
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
    alive = blocked = False
    peak = 0
    try:
        code: int | None = proc.wait(timeout=case.timeout)
    except subprocess.TimeoutExpired:
        alive, code = True, None
        peak = _peak_kib(proc.pid)
        blocked = any(_fifo_has_reader(p) for p in _fifos(folder))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for reader in readers:
        reader.join(timeout=5)
    if master is not None:
        os.close(master)
    for stream in (proc.stderr, proc.stdout):
        if stream is not None:
            stream.close()
    if not isinstance(stdin, int):
        stdin.close()
    if case.stdout:
        stdout.close()
    return Step(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), alive, blocked, peak)


# -- classifying -----------------------------------------------------------------------------------
def _files(folder: Path) -> dict[Path, str]:
    """Every plain file under ``folder`` (not through symlinks; SQLite's -wal/-shm aside) with its digest."""
    out = {}
    for where, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(where) / name
            if path.is_file() and not path.is_symlink() and not name.endswith(bad_inputs.NOT_OURS):
                out[path] = hashlib.sha256(path.read_bytes()).hexdigest() if path.stat().st_size < 1 << 30 else "big"
    return out


def _databases(files: dict[Path, str]) -> set[Path]:
    return {p for p in files if p.suffix == ".db"}


def _one_error_line(stderr: str) -> bool:
    """One ``error:`` line, last; before it at most progress notes (a line ending in "…")."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    return (bool(lines) and lines[-1].startswith("error: ")
            and all(line.rstrip().endswith("…") and not line.startswith("error:") for line in lines[:-1]))


def classify_step(case: Case, step: Step) -> str | None:
    """The outcome of one process, or None when it exited 0 (the case goes on to its next step)."""
    if step.alive_at_limit:
        if case.app and not step.fifo_blocked and "Traceback" not in step.stderr \
                and not (case.lean and step.peak_kib > PEAK_KIB):
            return "clean" if case.expect in ("ok", "either") else "silently accepted"
        return "hang or unbounded memory"
    if any(word in step.stderr for word in MEMORY_WORDS) or step.code == -signal.SIGKILL:
        return "hang or unbounded memory"
    if "Traceback" in step.stderr or (step.code is not None and step.code < 0) or INTERNAL.search(step.stderr):
        return "traceback"
    if step.code == 0:
        return None
    if (not case.codes or step.code in case.codes) and _one_error_line(step.stderr):
        return "clean" if case.expect in ("error", "either") else "silently accepted"
    return "other"


def raw_controls(case: Case, steps: list[Step]) -> bool:
    """Raw control or bidi characters on stderr, or on stdout when stdout is a terminal (there, less the
    program's own colours: SGR sequences, ``ESC [ … m``)."""
    return any(RAW_CONTROL.search(s.stderr) or (case.tty and RAW_CONTROL.search(SGR.sub("", s.stdout)))
               for s in steps)


def classify(case: Case, steps: list[Step], before: dict[Path, str], after: dict[Path, str], ran: bool) -> str:
    """One outcome for the case, the worst first."""
    if ran or raw_controls(case, steps):
        return "security hole"
    outcome = None
    for number, step in enumerate(steps):
        outcome = classify_step(case, step)
        if outcome is not None:
            if number and outcome == "clean":  # an earlier step accepted what this one refuses
                outcome = case.later_refusal
            break
    changed = any(before.get(p) != after.get(p) for p in _databases(before) | _databases(after))
    if outcome in ("hang or unbounded memory", "traceback", "lost data"):
        return outcome
    if changed and not case.writes:
        return "database changed"
    if outcome is None:  # every step exited 0
        return "clean" if case.expect in ("ok", "either") else "silently accepted"
    return outcome


def run_case(case: Case, template: Path, srv: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="stars-hostile-") as tmp:
        folder = Path(tmp)
        for name in ("good.db", "good.jsonl"):
            shutil.copy(template / name, folder / name)
        (folder / "models").symlink_to(template / "models")  # read-only: _files and the checks skip it
        started = time.monotonic()
        try:
            if case.prepare is not None:
                case.prepare(folder)
            before = _files(folder)
            if case.runner is not None:
                outcome, detail = case.runner(case, folder, srv)
                steps = [Step(None, "", detail)]
            else:
                steps = []
                for argv in case.steps:
                    steps.append(run_step(case, argv, folder, srv))
                    if steps[-1].code != 0:
                        break
                after = _files(folder)
                ran = any(p.name == "RAN" for p in after)
                outcome = classify(case, steps, before, after, ran)
                if case.check is not None and len(steps) == len(case.steps) and all(s.code == 0 for s in steps):
                    outcome = case.check(folder, steps) or outcome
        finally:
            bad_inputs._release(folder)
    last = steps[-1] if steps else Step(0, "", "")
    return {"case": case.name, "class": case.kind, "outcome": outcome, "exit": last.code,
            "seconds": round(time.monotonic() - started, 1),
            "stderr": last.stderr.strip()[-300:], "stdout": last.stdout.strip()[-120:]}


# -- checks after every step succeeded ---------------------------------------------------------------
LIVE_HTML = re.compile(r"<\s*(script|img|iframe|svg|object|embed)\b|<[^<>]*\son\w+\s*=", re.IGNORECASE)
SCRIPT_URL = re.compile(r"(href|src)\s*=\s*['\"]?\s*(javascript|vbscript|data):", re.IGNORECASE)
FORMULA = re.compile(r"^[\s\u3000]*[=+\-@\uff1d\uff0b\uff0d\uff20]")


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def rendered(markdown: str) -> str:
    """Markdown as a CommonMark renderer with raw HTML on makes it, every link kept (markdown-it, which Rich
    brings, drops javascript: links by default: the check must see what a laxer renderer would show)."""
    from markdown_it import MarkdownIt

    renderer = MarkdownIt("commonmark", {"html": True})
    renderer.validateLink = lambda url: True
    return renderer.render(markdown)


def injected(path: Path) -> bool:
    """Live HTML, a script link, or a spreadsheet formula in an exported file."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".csv":
        cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
        return any(FORMULA.match(c) and not _is_number(c) or c[:1] in ("\t", "\r") for c in cells)
    page = rendered(text) if path.suffix == ".md" else text
    return bool(LIVE_HTML.search(page) or SCRIPT_URL.search(page))


def export_is_safe(name: str) -> Callable[[Path, list[Step]], str | None]:
    def check(folder: Path, steps: list[Step]) -> str | None:
        return "security hole" if injected(folder / name) else None
    return check


def byte_identical(first: str, second: str) -> Callable[[Path, list[Step]], str | None]:
    def check(folder: Path, steps: list[Step]) -> str | None:
        return None if (folder / first).read_bytes() == (folder / second).read_bytes() else "lost data"
    return check


# -- the files a case needs ---------------------------------------------------------------------------
def _write(name: str, content: str | bytes) -> Callable[[Path], None]:
    return bad_inputs._write(name, content)


def _fifo(name: str) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        os.mkfifo(folder / name)
    return make


def _sparse(name: str, size: int) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        with open(folder / name, "wb") as f:
            f.truncate(size)
    return make


def _nested(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth


def _lines(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "good.jsonl").read_text(encoding="utf-8").splitlines()]


def _crafted(edit: Callable[[list[dict]], object], name: str = "crafted.jsonl",
             new_ids: bool = True) -> Callable[[Path], None]:
    """good.jsonl (the demo session), edited, under fresh ids, written with \\u escapes (as JSON allows)."""
    def make(folder: Path) -> None:
        lines = _lines(folder)
        if new_ids:
            for line in lines:
                if line["type"] == "session":
                    line["id"] = "evil0001"
                elif line["type"] == "run":
                    line["id"] = "evil0002"
        edit(lines)
        (folder / name).write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return make


def _of(lines: list[dict], kind: str) -> list[dict]:
    return [line for line in lines if line["type"] == kind]


def _set(kind: str, key: str, value: object, every: bool = False) -> Callable[[list[dict]], None]:
    def edit(lines: list[dict]) -> None:
        for line in _of(lines, kind)[: None if every else 1]:
            line[key] = value
    return edit


def _text_everywhere(value: str) -> Callable[[list[dict]], None]:
    def edit(lines: list[dict]) -> None:
        _set("session", "title", "title " + value)(lines)
        _set("AttemptScored", "text", "attempt " + value, every=True)(lines)
        _set("SegmentAccepted", "text", "segment " + value, every=True)(lines)
        _set("RunFinished", "text", "reply " + value)(lines)
        _of(lines, "RunStarted")[0]["messages"][0]["content"] = "prompt " + value
    return edit


def _imported(edit: Callable[[list[dict]], object]) -> Callable[[Path], None]:
    """The crafted session imported into good.db before the case starts (so 'before' holds it)."""
    def make(folder: Path) -> None:
        _crafted(edit)(folder)
        subprocess.run([sys.executable, "-m", "stars_tui", "import", str(folder / "crafted.jsonl"), "--db",
                        str(folder / "good.db")], check=True, capture_output=True, cwd=folder)
    return make


def _both(*makers: Callable[[Path], object]) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        for maker in makers:
            maker(folder)
    return make


def _model_folder(make: Callable[[Path], Path]) -> Callable[[Path], None]:
    def prepare(folder: Path) -> None:
        make(folder)
    return prepare


def _template_folder(template: str, name: str = "tpl", weights: bool = False) -> Callable[[Path], None]:
    """The tokenizer (and, with ``weights``, the tiny random model) with its chat template replaced."""
    def make(folder: Path) -> None:
        target = folder / name
        source = folder / "models" / ("tiny-lm" if weights else "tokenizer")
        shutil.copytree(source, target, symlinks=False)
        config = json.loads((target / "tokenizer_config.json").read_text())
        config["chat_template"] = template
        (target / "tokenizer_config.json").write_text(json.dumps(config))
        (target / "chat_template.jinja").write_text(template)
    return make


def _huge_config(kind: str, layers_only: bool = False) -> Callable[[Path], None]:
    """The tiny model's folder, its config declaring far bigger dimensions (or only far more layers)."""
    def make(folder: Path) -> None:
        target = folder / "huge"
        source = folder / "models" / ("tiny-lm" if kind == "lm" else "tiny-rm")
        shutil.copytree(source, target)
        config = json.loads((target / "config.json").read_text())
        if layers_only:  # every tensor the weights hold fits; the missing layers are made up
            config.update(num_hidden_layers=400_000)
        else:
            config.update(hidden_size=65536, intermediate_size=262144, num_hidden_layers=512,
                          num_attention_heads=512, vocab_size=config.get("vocab_size", 1000) * 64,
                          max_position_embeddings=1 << 20)
            if kind == "lm":
                config["num_key_value_heads"] = 512
        (target / "config.json").write_text(json.dumps(config))
    return make


def _file_server(folder: Path) -> None:
    """A folder that answers like a server through file:// (the card, /tokenize, one completion)."""
    base = folder / "srv"
    (base / "v1").mkdir(parents=True)
    (base / "v1" / "models").write_text(json.dumps({"data": [{"id": "m", "max_model_len": 4096}]}))
    (base / "tokenize").write_text(json.dumps({"tokens": [104, 105]}))
    (base / "detokenize").write_text(json.dumps({"prompt": "hi"}))
    choice = {"index": 0, "token_ids": [104, 105], "finish_reason": "length"}
    (base / "v1" / "completions").write_text(json.dumps({"choices": [choice]}))
    (base / "v1" / "embeddings").write_text(json.dumps({"data": [{"index": 0, "embedding": [1.0, 0.0]}]}))


def _sql(*statements: str) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        conn = sqlite3.connect(folder / "good.db")
        with conn:
            for statement in statements:
                conn.execute(statement)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
    return make


# -- the cases ------------------------------------------------------------------------------------------
def served(fault: str = "ok", reward: str = "ok", *extra: str) -> list[str]:
    return ["run", "hi", "--server", f"{{srv}}/{fault}", "--reward-server", f"{{srv}}/{reward}", *SERVED, *extra]


def chat(*extra: str) -> list[str]:
    """The workbench on served models (nothing loads in-process: its memory stays small)."""
    return ["chat", "--server", "{srv}/ok", "--reward-server", "{srv}/ok", "--db", "{db}", *extra]


def cases() -> list[Case]:  # noqa: PLR0915 - one list, read top to bottom
    out: list[Case] = []
    yes = b"y\ny\ny\ny\n"

    # A model folder's own Python, on every path that loads a tokenizer, a config or a model.
    for make in (model_folders.custom_code, model_folders.custom_tokenizer):
        name = make.__name__.replace("_", "-")
        d = "{dir}/" + name
        paths = {
            "in-process --model": ["run", "hi", "--model", d, "--no-save", "--max-new-tokens", "2"],
            "in-process --reward": ["run", "hi", "--reward", d, "--no-save", "--max-new-tokens", "2"],
            "--server URL --model DIR": served("ok", "ok", "--model", d),
            "--reward-server URL --reward DIR": served("ok", "ok", "--reward", d),
            "a chat server card's root": ["run", "hi", "--server", f"{{root:{name}}}", "--reward-server", "{srv}/ok",
                                          *SERVED],
            "a reward server card's root": ["run", "hi", "--server", "{srv}/ok", "--reward-server",
                                            f"{{root:{name}}}", *SERVED],
            "models --reward-server card root": ["models", "--reward-server", f"{{root:{name}}}"],
            "bench --server card root": ["bench", "--server", f"{{root:{name}}}", "--reward-server", "{srv}/ok",
                                         "--limit", "1", "--strategies", "vanilla", "--seeds", "0", "--judge",
                                         "none", "--max-new-tokens", "4", "--out", "{dir}/bench", "--db",
                                         "{dir}/bench.db"],
        }
        for path, argv in paths.items():
            out.append(Case(f"{name}: {path}", "custom-code", [argv], expect="either", stdin=yes,
                            prepare=make, codes=(1, 2), writes=True, timeout=120))
        out.append(Case(f"{name}: chat, the workbench's worker (--model DIR)", "custom-code",
                        [["chat", "--model", d, "--db", "{db}"]], expect="either", stdin=yes, prepare=make,
                        app=True, timeout=APP_WAIT, codes=(1, 2)))
        out.append(Case(f"{name}: chat, a served card's root", "custom-code",
                        [["chat", "--server", f"{{root:{name}}}", "--reward-server", "{srv}/ok", "--db", "{db}"]],
                        expect="either", stdin=yes, prepare=make, app=True, timeout=APP_WAIT, codes=(1, 2)))

    # Server URLs that are not http(s) URLs.
    urls = {"no scheme": "{hostport}/ok", "no scheme, localhost": "localhost:1/ok", "file://": "file:///etc/passwd",
            "file:// of a folder that answers": "file://{dir}/srv", "ftp://": "ftp://{hostport}/",
            "http:// alone": "http://", "a bad IPv6 host": "http://[::1", "port 99999": "http://127.0.0.1:99999",
            "javascript:": "javascript:alert(1)", "data:": "data:,{}", "empty": ""}
    for name, url in urls.items():
        prepare = _file_server if "answers" in name else None
        out.append(Case(f"--server {name}", "server-url", [["run", "hi", "--server", url, "--reward-server",
                                                             "{srv}/ok", *SERVED, "--strategy", "vanilla"]],
                        prepare=prepare, timeout=60))
    for name in ("no scheme", "file://", "file:// of a folder that answers", "ftp://"):
        url = urls[name]
        prepare = _file_server if "answers" in name else None
        out.append(Case(f"--reward-server {name}", "server-url",
                        [["run", "hi", "--server", "{srv}/ok", "--reward-server", url, *SERVED]], prepare=prepare,
                        timeout=60))
    out.append(Case("models --reward-server file://", "server-url",
                    [["models", "--reward-server", "file:///etc/passwd"]], timeout=60))

    # Text from a server, a template or a database, on its way to the terminal.
    for esc in ESCAPES:
        out.append(Case(f"server error with {esc}: mid-run (/v1/completions)", "escapes",
                        [served(f"{esc}@completions")], codes=(1, 2)))
    for esc in ("osc52", "bidi"):
        out.append(Case(f"server error with {esc}: /v1/models", "escapes", [served(esc)], codes=(1, 2)))
        out.append(Case(f"server error with {esc}: /tokenize", "escapes", [served(f"{esc}@tokenize")], codes=(1, 2)))
        out.append(Case(f"reward server error with {esc}: /v1/embeddings", "escapes",
                        [served("ok", f"{esc}@embeddings")], codes=(1, 2)))
        out.append(Case(f"models --reward-server error with {esc}", "escapes",
                        [["models", "--reward-server", f"{{srv}}/{esc}"]], codes=(1, 2)))
    out.append(Case("a served model name with OSC 52, named in an error", "escapes",
                    [served("id-osc52", "ok", "--served-model", "other")], codes=(1, 2)))
    out.append(Case("a reply with escapes, on a terminal", "escapes", [served("reply-osc52@completions")],
                    expect="either", tty=True, codes=(1, 2)))
    out.append(Case("/detokenize text with escapes, on a terminal", "escapes", [served("detok-osc52@detokenize")],
                    expect="either", tty=True, codes=(1, 2)))
    out.append(Case("a body that is not JSON, with escapes", "escapes", [served("not-json@completions")],
                    codes=(1, 2)))
    raise_msg = "{{ raise_exception('\\x1b]52;c;aGk=\\x07\\x1b[2J\u202e boom') }}"
    out.append(Case("template raise_exception with escapes (served)", "escapes",
                    [served("ok", "ok", "--model", "{dir}/tpl")], prepare=_template_folder(raise_msg), codes=(1, 2)))
    out.append(Case("template raise_exception with escapes (in-process)", "escapes",
                    [["run", "hi", "--model", "{dir}/tpl", "--no-save", "--max-new-tokens", "2"]],
                    prepare=_template_folder(raise_msg, weights=True), codes=(1, 2), timeout=120))
    hostile = "\u202eevil\u202c \x1b]52;c;aGk=\x07 \x1b[2J \x1b]8;;https://x.example/\x1b\\link\x1b]8;;\x1b\\"
    titled = _imported(_text_everywhere(hostile))
    for name, argv in {"sessions list": ["sessions", "list", "--db", "{db}"],
                       "sessions show": ["sessions", "show", "evil0001", "--db", "{db}"],
                       "sessions search": ["sessions", "search", "evil", "--db", "{db}"],
                       "replay --plain": ["replay", "evil0002", "--plain", "--db", "{db}"],
                       "export -o - (md)": ["export", "evil0001", "-o", "-", "-f", "md", "--db", "{db}"]}.items():
        out.append(Case(f"imported bidi and escapes, on a terminal: {name}", "escapes", [argv], expect="ok",
                        prepare=titled, tty=True))

    # Server replies: too big, too slow, too deep, the wrong shape.
    faults = {
        "a huge /v1/models body": "huge", "a huge /v1/completions body": "huge@completions",
        "a huge error body": "huge-error@completions", "a drip of one byte every 2 s (/v1/models)": "drip",
        "a drip of one byte every 2 s (/v1/completions)": "drip@completions",
        "a drip of one byte every 2 s (/tokenize)": "drip@tokenize",
        "headers that never end": "slowloris-headers",
        "deeply nested JSON (/v1/models)": "nested", "deeply nested JSON (/v1/completions)": "nested@completions",
        "deeply nested JSON error body": "nested-error@completions",
        "deeply nested JSON (/tokenize)": "nested@tokenize",
        "connection closed mid-run": "close@completions",
    }
    faults |= {f"max_model_len {k.removeprefix('ctx-')}": k for k in
               ("ctx-str", "ctx-float", "ctx-list", "ctx-dict", "ctx-neg", "ctx-bool", "ctx-huge")}
    faults |= {f"/tokenize tokens {k.removeprefix('tok-')}": f"{k}@tokenize" for k in
               ("tok-str", "tok-null", "tok-int", "tok-floats", "tok-nested", "tok-neg", "tok-huge", "tok-bool",
                "tok-strs")}
    faults |= {f"/detokenize prompt {k.removeprefix('detok-')}": f"{k}@detokenize" for k in
               ("detok-int", "detok-list", "detok-null", "detok-dict")}
    faults |= {"a reply 3x longer than max_tokens": "long@completions", "a negative token id": "ids-neg@completions",
               "a token id of 2**40": "ids-huge@completions", "float token ids": "ids-float@completions",
               "boolean token ids": "ids-bool@completions", "token ids as strings": "ids-str-num@completions",
               "choices is a number": "choices-int@completions", "choices are numbers": "choices-ints@completions",
               "one choice too many": "choices-more@completions", "finish_reason a number": "finish-int@completions",
               "/v1/models data is a string": "data-str", "/v1/models data empty": "data-empty",
               "a card without an id": "card-noid", "/v1/models a list": "models-list", "a card id number": "id-int",
               "a card id list": "id-list", "a card root number": "root-int"}
    for name, fault in faults.items():
        slow = "drip" in fault or "slowloris" in fault
        out.append(Case(f"server: {name}", "server-reply", [served(fault, "ok", "--strategy", "vanilla")],
                        codes=(1, 2), timeout=DRIP_WAIT if slow else 120))
    for name, fault in {"a huge body": "huge@embeddings", "a drip": "drip@embeddings",
                        "deeply nested JSON": "nested@embeddings", "one vector short": "emb-short@embeddings",
                        "a vector as a string": "emb-str@embeddings", "NaN vectors": "emb-nan@embeddings",
                        "ragged vectors": "emb-ragged@embeddings",
                        "4-million-wide vectors": "emb-huge-dim@embeddings"}.items():
        out.append(Case(f"reward server: {name}", "server-reply", [served("ok", fault)], codes=(1, 2),
                        timeout=DRIP_WAIT if "drip" in fault else 120))

    # Exports of imported fields: every field escaped, every imported timestamp a timestamp.
    html_payload = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    exports = {
        "created_at holding HTML -> md": (_set("session", "created_at", html_payload), "md"),
        "created_at holding HTML -> html": (_set("session", "created_at", html_payload), "html"),
        "updated_at holding HTML -> md": (_set("session", "updated_at", html_payload), "md"),
        "finished_at holding HTML -> html": (_set("run", "finished_at", html_payload), "html"),
        "a javascript: link in the reply -> md": (_text_everywhere("[click](javascript:alert(1))"), "md"),
        "a javascript: link with spaces and case -> md": (_text_everywhere("[x]( JavaScript:alert(1))"), "md"),
        "an autolink <javascript:...> -> md": (_text_everywhere("<javascript:alert(1)>"), "md"),
        "a full-width = cell -> csv": (_set("AttemptScored", "text", '\uff1dHYPERLINK("http://x.example")', True),
                                       "csv"),
        "a cell of spaces then = -> csv": (_set("AttemptScored", "text", "   =1+1", True), "csv"),
        "a full-width + cell -> csv": (_set("AttemptScored", "text", "\uff0bcmd|' /C calc'!A0", True), "csv"),
        "a newline then = -> csv": (_set("AttemptScored", "text", "\n=1+1", True), "csv"),
        "a strategy cell of = -> csv": (_set("RunStarted", "strategy", "=1+1"), "csv"),
    }
    for name, (edit, fmt) in exports.items():
        out.append(Case(f"export: {name}", "export",
                        [["import", "{dir}/crafted.jsonl", "--db", "{db}"],
                         ["export", "evil0001", "-o", f"{{dir}}/x.{fmt}", "--db", "{db}"]],
                        expect="either", prepare=_crafted(edit), writes=True, check=export_is_safe(f"x.{fmt}")))

    # Export -> import -> export, byte for byte.
    trips = {
        "U+2028 everywhere": _text_everywhere("line\u2028separator"),
        "U+2029 everywhere": _text_everywhere("para\u2029separator"),
        "U+0085 everywhere": _text_everywhere("next\x85line"),
        "U+000B and U+000C and U+001C..1E": _text_everywhere("v\x0bf\x0cfs\x1cgs\x1drs\x1e"),
        "a lone CR": _text_everywhere("a\rb"),
        "a reward of 1e309": _set("AttemptScored", "reward", SENTINEL),
        "a threshold of -1e309": _set("AttemptScored", "threshold", SENTINEL),
        "a baseline reward of 1e309": _set("RunStarted", "baseline_reward", SENTINEL),
        "elapsed_ms of 1e-400": _set("AttemptScored", "elapsed_ms", SENTINEL),
    }
    raw_floats = {"a reward of 1e309": "1e309", "a threshold of -1e309": "-1e309",
                  "a baseline reward of 1e309": "1e309", "elapsed_ms of 1e-400": "1e-400"}
    for name, edit in trips.items():
        prepare = _crafted(edit)
        if name in raw_floats:
            prepare = _both(prepare, _raw_float(raw_floats[name]))
        out.append(Case(f"round trip: {name}", "round-trip",
                        [["import", "{dir}/crafted.jsonl", "--db", "{dir}/a.db"],
                         ["export", "evil0001", "-o", "{dir}/b.jsonl", "--db", "{dir}/a.db"],
                         ["import", "{dir}/b.jsonl", "--db", "{dir}/c.db"],
                         ["export", "evil0001", "-o", "{dir}/c.jsonl", "--db", "{dir}/c.db"]],
                        expect="error", prepare=prepare, writes=True, check=byte_identical("b.jsonl", "c.jsonl"),
                        later_refusal="lost data"))
    for case in out[-len(trips):]:
        case.expect = "either"

    # Every file read has a bound; a FIFO or a device is refused, not read forever.
    sources = {"/dev/zero": "/dev/zero", "/dev/urandom": "/dev/urandom", "a FIFO": "{dir}/pipe",
               "a sparse 8 GiB file": "{dir}/sparse"}
    setup = _both(_fifo("pipe"), _sparse("sparse", 8 << 30))
    for name, path in sources.items():
        out.append(Case(f"--rubric {name}", "bounded-read", [served("ok", "ok", "--rubric", path)], prepare=setup,
                        timeout=READ_WAIT))
        out.append(Case(f"import {name}", "bounded-read", [["import", path, "--db", "{db}"]], prepare=setup,
                        timeout=READ_WAIT))
        out.append(Case(f"chat --config {name}", "bounded-read", [chat("--config", path)], prepare=setup, app=True,
                        timeout=APP_WAIT))
        out.append(Case(f"STARS_CONFIG={name}", "bounded-read", [chat()], env={"STARS_CONFIG": path}, prepare=setup,
                        app=True, timeout=APP_WAIT))
        # Read when the reward loads, inside the workbench: it may open, as long as the read is bounded.
        out.append(Case(f"config.json's rubric is {name}", "bounded-read", [chat("--config", "{dir}/c.json")],
                        prepare=_both(setup, _write("c.json", json.dumps({"rubric": path}))), app=True,
                        timeout=APP_WAIT, expect="either"))
        out.append(Case(f"STARS_RUBRIC={name}", "bounded-read", [chat()], env={"STARS_RUBRIC": path},
                        prepare=setup, app=True, timeout=APP_WAIT, expect="either"))
    out.append(Case("the prompt on stdin from /dev/zero", "bounded-read", [["run", "-", *SERVED[:1]]],
                    stdin="/dev/zero", timeout=READ_WAIT))

    # Deeply nested JSON everywhere JSON is read.
    deep = _nested()
    out += [
        Case("nested JSON: an import line", "nested-json", [["import", "{dir}/deep.jsonl", "--db", "{db}"]],
             prepare=_write("deep.jsonl", '{"type": "session", "title": ' + deep + "}\n")),
        Case("nested JSON: a rubric file", "nested-json", [served("ok", "ok", "--rubric", "{dir}/deep.json")],
             prepare=_write("deep.json", '{"prefer": ' + deep + ', "avoid": ["x"]}')),
        Case("nested JSON: the config file", "nested-json", [chat("--config", "{dir}/deep.json")],
             prepare=_write("deep.json", '{"theme": ' + deep + "}"), app=True, timeout=APP_WAIT),
        Case("nested JSON: STARS_RUBRIC", "nested-json", [chat()],
             env={"STARS_RUBRIC": '{"prefer": ' + _nested(20_000) + "}"}, app=True, timeout=APP_WAIT),
        Case("nested JSON: an event's params", "nested-json", [["import", "{dir}/crafted.jsonl", "--db", "{db}"]],
             prepare=_both(_crafted(lambda lines: None), _deep_params)),
    ]

    # Integers beyond SQLite's 64 bits, through every door that takes one.
    for name, edit in {"attempt tokens 2**64": _set("AttemptScored", "tokens", 2**64),
                       "a seed of 2**64": _set("RunStarted", "seed", 2**64),
                       "prompt_tokens of -2**70": _set("RunStarted", "prompt_tokens", -(2**70)),
                       "a segment number 2**63": _set("AttemptScored", "segment", 2**63, every=True)}.items():
        out.append(Case(f"import: {name}", "big-int", [["import", "{dir}/crafted.jsonl", "--db", "{db}"]],
                        prepare=_crafted(edit)))
    for option in (["--seed", str(2**64)], ["--max-new-tokens", str(2**64)], ["--segment-tokens", str(2**63)]):
        argv = ["run", "hi", "--server", "{srv}/ok", "--reward-server", "{srv}/ok", "--db", "{db}",
                "--max-new-tokens", "8", "--segment-tokens", "4", *option]
        out.append(Case(f"run {' '.join(option)}, recorded", "big-int", [argv], codes=(1, 2)))
    out.append(Case("sessions list --limit 2**64", "big-int", [["sessions", "list", "--limit", str(2**64),
                                                                 "--db", "{db}"]], expect="either"))

    # The settings file and its variables.
    settings = {
        "theme a number": {"theme": 5}, "theme a list": {"theme": ["textual-dark"]},
        "theme an object": {"theme": {"name": "x"}}, "rubric a number": {"rubric": 5},
        "rubric a list": {"rubric": ["be kind"]}, "rubric prefer a number": {"rubric": {"prefer": 5, "avoid": []}},
        "last_session a list": {"last_session": ["x"]}, "last_session a number": {"last_session": 7},
        "a JSON string": "stars", "an integer beyond 64 bits": {"theme": 2**70},
    }
    for name, data in settings.items():
        out.append(Case(f"config.json: {name}", "settings", [chat("--config", "{dir}/c.json")],
                        prepare=_write("c.json", json.dumps(data)), app=True, timeout=APP_WAIT))
    rubric = json.dumps({"prefer": ["be kind and clear"], "avoid": ["be rude"]})
    out.append(Case("STARS_RUBRIC holding the rubric object (legal)", "settings", [chat()],
                    env={"STARS_RUBRIC": rubric}, expect="ok", app=True, timeout=APP_WAIT))
    out.append(Case("STARS_RUBRIC holding a broken rubric object", "settings", [chat()],
                    env={"STARS_RUBRIC": '{"prefer": 5}'}, app=True, timeout=APP_WAIT))
    out.append(Case("STARS_THEME a JSON list", "settings", [chat()], env={"STARS_THEME": '["x"]'}, app=True,
                    timeout=APP_WAIT))

    # stdout on a full disk.
    for name, argv in {"sessions list": ["sessions", "list", "--db", "{db}"],
                       "sessions show": ["sessions", "show", SESSION, "--db", "{db}"],
                       "replay --plain": ["replay", RUN, "--plain", "--db", "{db}"],
                       "export -o -": ["export", RUN, "-o", "-", "-f", "md", "--db", "{db}"],
                       "run (served)": served("ok", "ok"), "run --json (served)": served("ok", "ok", "--json"),
                       "models --json": ["models", "--json"], "--version": ["--version"]}.items():
        out.append(Case(f"stdout is /dev/full: {name}", "stdout-full", [argv], stdout="/dev/full", codes=()))

    # Hand-edited databases.
    edits = {
        "a dropped column (runs.final_text)": _sql("ALTER TABLE runs DROP COLUMN final_text"),
        "a dropped column (attempts.verdict)": _sql("ALTER TABLE attempts DROP COLUMN verdict"),
        "non-JSON stats": _sql("UPDATE runs SET stats = '{oops'"),
        "non-JSON params": _sql("UPDATE runs SET params = 'nope', messages = '[1'"),
        "a NULL title": _sql("UPDATE sessions SET title = NULL"),
        "NULL attempt text": _sql("UPDATE attempts SET text = NULL, reward = 'high'"),
        "a text turn": _sql("UPDATE runs SET turn = 'first'"),
    }
    commands = {"sessions list": ["sessions", "list", "--db", "{db}"],
                "sessions show": ["sessions", "show", SESSION, "--db", "{db}"],
                "replay --plain": ["replay", RUN, "--plain", "--db", "{db}"],
                "export md": ["export", SESSION, "-o", "{dir}/x.md", "--db", "{db}"],
                "export jsonl": ["export", SESSION, "-o", "{dir}/x.jsonl", "--db", "{db}"]}
    for edit_name, edit in edits.items():
        for command_name, argv in commands.items():
            out.append(Case(f"database with {edit_name}: {command_name}", "hand-edited-db", [argv], expect="either",
                            prepare=edit))

    # Numbers that make no sense.
    for threads in ("0", "-1", "100000", "2147483648", "99999999999999999999"):
        out.append(Case(f"--threads {threads}", "absurd-number",
                        [["run", "hi", "--threads", threads, "--no-save", "--strategy", "vanilla",
                          "--max-new-tokens", "2"]], timeout=180))
    for speed in ("1e-300", "1e-9", "inf", "nan", "1e308"):
        out.append(Case(f"replay --speed {speed}", "absurd-number",
                        [["replay", RUN, "--plain", "--speed", speed, "--db", "{db}"]],
                        expect="either" if speed == "1e308" else "error", timeout=READ_WAIT))
    out.append(Case("--concurrency 100000 (bench)", "absurd-number",
                    [["bench", "--server", "{srv}/ok", "--reward-server", "{srv}/ok", "--concurrency", "100000",
                      "--limit", "1", "--strategies", "vanilla", "--seeds", "0", "--judge", "none",
                      "--max-new-tokens", "4", "--out", "{dir}/bench", "--db", "{dir}/bench.db"]],
                    expect="either", writes=True, timeout=120))

    # Chat templates that loop, build huge strings, recurse, or are refused by the sandbox.
    templates = {
        "a loop of 10**10 steps": "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}x",
        "a 10 GB string": "{% set s = 'x' * 99999 %}{% for i in range(99999) %}{{ s }}{% endfor %}",
        "a string doubled 40 times": "{% set ns = namespace(s='xx') %}{% for i in range(40) %}"
                                     "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
        "endless recursion": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
        "a sandbox refusal": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "a syntax error": "{% for %}",
        "range(10**12)": "{% for i in range(10**12) %}{% endfor %}",
    }
    for name, template in templates.items():
        out.append(Case(f"chat template: {name} (served)", "template", [served("ok", "ok", "--model", "{dir}/tpl")],
                        prepare=_template_folder(template), codes=(1, 2), timeout=90))
    for name in ("a loop of 10**10 steps", "a 10 GB string"):
        out.append(Case(f"chat template: {name} (in-process)", "template",
                        [["run", "hi", "--model", "{dir}/tpl", "--no-save", "--max-new-tokens", "2"]],
                        prepare=_template_folder(templates[name], weights=True), codes=(1, 2), timeout=120))

    # A config that declares dimensions its weights do not have.
    out.append(Case("a chat model declaring huge dimensions", "huge-config",
                    [["run", "hi", "--model", "{dir}/huge", "--no-save", "--max-new-tokens", "2"]],
                    prepare=_huge_config("lm"), timeout=180))
    out.append(Case("a reward model declaring huge dimensions", "huge-config",
                    [["run", "hi", "--reward", "{dir}/huge", "--no-save", "--max-new-tokens", "2"]],
                    prepare=_huge_config("rm"), timeout=180))
    out.append(Case("a chat model declaring 400,000 layers its weights do not have", "huge-config",
                    [["run", "hi", "--model", "{dir}/huge", "--no-save", "--max-new-tokens", "2"]],
                    prepare=_huge_config("lm", layers_only=True), timeout=180))
    out.append(Case("a reward model declaring 400,000 layers its weights do not have", "huge-config",
                    [["run", "hi", "--reward", "{dir}/huge", "--no-save", "--max-new-tokens", "2"]],
                    prepare=_huge_config("rm", layers_only=True), timeout=180))
    out.append(Case("a chat tokenizer for a huge model, served", "huge-config",
                    [served("ok", "ok", "--model", "{dir}/huge")], prepare=_huge_config("lm"), expect="either",
                    codes=(1, 2), timeout=120))

    # Another stars process writing while a run records.
    out.append(Case("a long import while recording runs write and readers read", "concurrency", [],
                    runner=import_during_runs, writes=True, timeout=600))
    for case in out:  # a workbench on served models only loads nothing big itself
        case.lean = case.app and "--server" in case.steps[0] and "--model" not in case.steps[0]
    return out


SENTINEL = 987654.321


def _raw_float(literal: str) -> Callable[[Path], None]:
    """Put the number ``literal`` in the file as written (json.dumps cannot write 1e309)."""
    def make(folder: Path) -> None:
        path = folder / "crafted.jsonl"
        path.write_text(path.read_text(encoding="utf-8").replace(str(SENTINEL), literal), encoding="utf-8")
    return make


def _deep_params(folder: Path) -> None:
    path = folder / "crafted.jsonl"
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if '"RunStarted"' in line:
            lines[i] = line.replace('"runtime": {}', '"runtime": ' + "{\"a\": " * 50_000 + "1" + "}" * 50_000)
    path.write_text("\n".join(lines) + "\n")


# -- the case that needs more than one process at a time ---------------------------------------------
@dataclass
class Load:
    """How hard the store is pushed: runs in the imported session (about 15 KB each), run loops, minutes at least."""

    runs: int = 6000  # about 93 MB in one session: its import writes for longer than SQLite's 30 s busy timeout
    run_loops: int = 1
    minutes: float = 0.0


LOAD = Load()
SOAK = Load(runs=13000, run_loops=2, minutes=5.0)  # about 200 MB, two recorders, five minutes


def _big_import(folder: Path, runs: int) -> None:
    """One session holding ``runs`` copies of the demo run (its attempts' text made 8 times longer)."""
    lines = _lines(folder)
    with open(folder / "big.jsonl", "w", encoding="utf-8") as f:
        f.write(json.dumps({**lines[0], "id": "big00001"}) + "\n")
        for n in range(runs):
            for line in lines[1:]:
                line = dict(line)
                if line["type"] == "run":
                    line["id"] = f"r{n:07d}"
                if line["type"] == "AttemptScored":
                    line["text"] = line["text"] * 8
                f.write(json.dumps(line) + "\n")


def _kept_every_attempt(folder: Path, run: Step) -> bool:
    """The run finished, and the database holds every attempt it printed."""
    printed = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    saved = re.search(r"saved run (\S+)", run.stderr)
    if run.code != 0 or not printed or printed[-1].get("type") != "RunFinished" or saved is None:
        return False
    conn = sqlite3.connect(folder / "good.db", timeout=120)
    try:
        stored = conn.execute("SELECT count(*) FROM attempts WHERE run_id = ?", [saved.group(1)]).fetchone()[0]
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return stored == sum(e.get("type") == "AttemptScored" for e in printed)


def import_during_runs(case: Case, folder: Path, srv: str, load: Load | None = None) -> tuple[str, str]:
    """A big import, recording runs back to back (a slow server) and readers, all on one database.

    Every run must finish with every attempt it printed in the database; the import must finish; the readers
    must not fail. A run that failed or lost attempts is lost data; a failed reader or import is other.
    """
    load = load or LOAD
    _big_import(folder, load.runs)
    proc = Case("proc", "concurrency", [], codes=(), timeout=case.timeout)
    run_argv = ["run", "hi", "--server", "{srv}/slow=0.4", "--reward-server", "{srv}/ok", "--db", "{db}", "--json",
                "--max-new-tokens", "48", "--segment-tokens", "4", "--seed", "1"]
    runs: list[Step] = []
    imp: list[Step] = []
    importer = threading.Thread(target=lambda: imp.append(run_step(proc, ["import", "{dir}/big.jsonl", "--db",
                                                                          "{db}"], folder, srv)))
    started = time.monotonic()
    importer.start()

    def recorder() -> None:
        while not runs or importer.is_alive() or time.monotonic() - started < load.minutes * 60:
            runs.append(run_step(proc, run_argv, folder, srv))

    loops = [threading.Thread(target=recorder) for _ in range(load.run_loops)]
    for loop in loops:
        loop.start()
    readers = []
    while importer.is_alive() or any(loop.is_alive() for loop in loops):
        readers.append(run_step(Case("read", "concurrency", [], timeout=120),
                                ["sessions", "list", "--limit", "1", "--db", "{db}"], folder, srv))
        time.sleep(2)
    for thread in (importer, *loops):
        thread.join()
    lost = [r for r in runs if not _kept_every_attempt(folder, r)]
    failed_readers = [r for r in readers if r.code != 0]
    detail = (f"{len(lost)} of {len(runs)} runs lost data" + (f" ({lost[0].stderr.strip()[-150:]!r})" if lost else "")
              + f"; import exit {imp[0].code} ({imp[0].stderr.strip()[-150:]!r}); {len(failed_readers)} of "
              f"{len(readers)} readers failed" + (f" ({failed_readers[0].stderr.strip()[-150:]!r})"
                                                  if failed_readers else "")
              + f"; {time.monotonic() - started:.0f} s")
    if lost:
        return "lost data", detail
    if imp[0].code != 0 or failed_readers:
        return "other", detail
    return "clean", detail


# -- the shared folder every case starts from --------------------------------------------------------
def template_folder(where: Path, models: bool = True) -> Path:
    """good.db and good.jsonl (bad_inputs' template), and models/: the default tokenizer and tiny random models."""
    bad_inputs.template_folder(where)
    if models:
        subprocess.run([sys.executable, "-c", TINY_MODELS, str(where / "models")], check=True)
    return where


TINY_MODELS = """
import sys, torch
from pathlib import Path
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, LlamaConfig, LlamaForCausalLM
from stars_engine.weights.convert import default_policy_dir
from stars_engine.weights.sources import bundled_minilm
root = Path(sys.argv[1])
tok = AutoTokenizer.from_pretrained(default_policy_dir())
tok.save_pretrained(root / "tokenizer")
(root / "tokenizer" / "config.json").write_text((Path(default_policy_dir()) / "config.json").read_text())
torch.manual_seed(0)
config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                     eos_token_id=tok.eos_token_id)
LlamaForCausalLM(config).save_pretrained(root / "tiny-lm")
tok.save_pretrained(root / "tiny-lm")
rtok = AutoTokenizer.from_pretrained(bundled_minilm())
rconfig = BertConfig(vocab_size=rtok.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64, num_labels=1)
BertForSequenceClassification(rconfig).save_pretrained(root / "tiny-rm")
rtok.save_pretrained(root / "tiny-rm")
"""


def round_one_cases() -> list[Case]:
    """bad_inputs.py's cases, run and counted the same way (a model folder's code is a security hole)."""
    out = []
    for old in bad_inputs.cases():
        out.append(Case(f"round one: {old.name}", "round-one", [old.argv], stdin=old.stdin, prepare=old.prepare,
                        timeout=300))
    return out


# -- the table ----------------------------------------------------------------------------------------
def table(counts: Counter) -> str:
    cells = [str(sum(counts.values())), *(str(counts[c]) for c in COLUMNS)]
    widths = [max(len(h), len(c)) for h, c in zip(HEADERS, cells)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(HEADERS, widths)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    row = "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths)) + " |"
    return "\n".join([line, rule, row])


def by_class(results: list[dict]) -> str:
    lines = []
    for kind in CLASSES:
        mine = [r for r in results if r["class"] == kind]
        if mine:
            counts = Counter(r["outcome"] for r in mine)
            bad = ", ".join(f"{v} {k}" for k, v in counts.items() if k != "clean")
            lines.append(f"  {kind:15} {len(mine):4} cases, {counts['clean']:4} clean" + (f"; {bad}" if bad else ""))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=CLASSES, action="append", help="run only this class (repeatable)")
    parser.add_argument("-k", action="append", default=[], help="run only the cases whose name contains this text "
                                                                  "(repeatable: any of them)")
    parser.add_argument("--jobs", type=int, default=3, help="cases at once (most of their time is waiting)")
    parser.add_argument("--json", type=Path, help="also write every case's result here")
    parser.add_argument("--round-one", action="store_true", help="also run bad_inputs.py's 123 cases")
    parser.add_argument("--list", action="store_true", help="list the cases and stop")
    parser.add_argument("--recount", type=Path, nargs="+", help="print the table of saved --json files, a later "
                        "file's case replacing an earlier one's of the same name (an error line that is an internal "
                        "exception's text counts as a traceback); --json writes the result")
    parser.add_argument("--soak", action="store_true", help="the store under load for five minutes: a 200 MB "
                                                            "import, two recording runs at a time, readers")
    args = parser.parse_args()
    if args.recount:
        merged: dict[str, dict] = {}
        for saved in args.recount:
            merged.update((r["case"], r) for r in json.loads(saved.read_text()))
        results = list(merged.values())
        for r in results:
            if r["outcome"] == "clean" and r["exit"] not in (0, None) and INTERNAL.search(r["stderr"]):
                r["outcome"] = "traceback"
        if args.json:
            args.json.write_text(json.dumps(results, indent=2, ensure_ascii=True))
        print(by_class(results) + "\n\n" + table(Counter(r["outcome"] for r in results)))
        return 0
    if args.soak:
        LOAD.runs, LOAD.run_loops, LOAD.minutes = SOAK.runs, SOAK.run_loops, SOAK.minutes
    chosen = cases() + (round_one_cases() if args.round_one or args.only and "round-one" in args.only else [])
    chosen = [c for c in chosen if (not args.only or c.kind in args.only)
              and (not args.k or any(k in c.name for k in args.k))]
    if args.list:
        for case in chosen:
            print(f"{case.kind:15} {case.name}")
        print(f"{len(chosen)} cases")
        return 0
    results: list[dict] = []
    lock = threading.Lock()
    with tempfile.TemporaryDirectory(prefix="stars-hostile-template-") as tmp, fake_vllm() as srv:
        template = template_folder(Path(tmp))
        (template / "no-config.json").unlink(missing_ok=True)

        def one(case: Case) -> dict:
            try:
                result = run_case(case, template, srv)
            except Exception as exc:  # the harness's own failure is reported, never hidden
                result = {"case": case.name, "class": case.kind, "outcome": "other", "exit": None, "seconds": 0,
                          "stderr": f"harness: {type(exc).__name__}: {exc}", "stdout": ""}
            mark = "ok  " if result["outcome"] == "clean" else "FAIL"
            with lock:
                results.append(result)
                print(f"{mark} [{case.kind}] {case.name}: {result['outcome']} (exit {result['exit']}, "
                      f"{result['seconds']} s) {result['stderr'][-160:]!r}", flush=True)
            return result

        # A server drip only waits: those cases get threads of their own, beside the --jobs that do work.
        waiting = [c for c in chosen if c.runner is None and c.timeout >= DRIP_WAIT]
        working = sorted((c for c in chosen if c not in waiting), key=lambda c: 0 if c.runner else 1)
        with ThreadPoolExecutor(max_workers=max(1, len(waiting))) as waiters, \
                ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            waited = waiters.map(one, waiting)
            list(pool.map(one, working))
            list(waited)
    order = {c.name: i for i, c in enumerate(chosen)}
    results.sort(key=lambda r: order[r["case"]])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=True))
    counts = Counter(r["outcome"] for r in results)
    print()
    print(by_class(results))
    print()
    print(table(counts))
    return 0 if counts["clean"] == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
