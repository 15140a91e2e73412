"""``stars run PROMPT`` (headless decoding) and ``stars models``."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from stars_engine import backends
from stars_engine.bounded_read import PROMPT_BYTES, read_stream
from stars_engine.display.controls import json_text, one_line, valid_text, visible_controls
from stars_engine.errors import StarsError
from stars_engine.events import Event, RunFailed, RunFinished
from stars_engine.params import Params

from ..output import EXIT_PIPE_CLOSED, ReaderGone, stdout_to_devnull
from .database import db_path
from .options import ModelChoice, decoding_options, read_system, system_option


def load_models(models: ModelChoice, count: int = 1, strategies: tuple[str, ...] = ()):
    """The chat policies and the reward the chosen backend loads (slow: call once).

    Everything that can be refused without weights is checked first (the
    options, what the strategies need of the backend, the model folders), so a
    bad ``--reward`` costs no chat-model load.
    """
    backends.check(models, strategies)
    return backends.load(models, count)


def read_stdin() -> str:
    """Standard input as UTF-8; other bytes (Latin-1, binary) are a one-line error."""
    raw = getattr(sys.stdin, "buffer", None)
    if raw is None:  # already text (a test's StringIO)
        return sys.stdin.read()
    data = read_stream(raw, "standard input", PROMPT_BYTES)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StarsError(f"standard input is not UTF-8 text (byte 0x{data[exc.start]:02x} at {exc.start})") from None


def read_prompt(prompt: str) -> str:
    """The prompt argument, or standard input for ``-``; an empty or undecodable one is refused."""
    text = read_stdin() if prompt == "-" else valid_text(prompt, "the prompt")
    if not text.strip():
        raise StarsError("the prompt is empty")
    return text


@contextmanager
def ctrl_c_cancels(cancel: threading.Event) -> Iterator[None]:
    """First Ctrl-C asks the engine to stop (the run ends as ``cancelled`` and is saved
    as such); a second one interrupts at once."""

    def handler(signum, frame):
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("stopping after the current token… (Ctrl-C again to abort)", file=sys.stderr)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def summary(finished: RunFinished) -> str:
    s = finished.stats
    rate = "n/a" if s.acceptance_rate is None else f"{s.acceptance_rate:.0%}"
    reward = "n/a" if s.final_reward is None else f"{s.final_reward:.3f}"
    return (
        f"[{finished.stop_reason}] reward {reward} · {s.tokens_accepted} tokens kept, "
        f"{s.tokens_discarded} discarded · {s.segments} segments, {s.attempts} attempts, "
        f"acceptance {rate} · {s.reward_calls} reward calls · {s.policy_forward_passes} forward passes · "
        f"{s.wall_seconds:.1f} s"
    )


def run_command(
    prompt: str = typer.Argument(..., metavar="PROMPT", help="The user message ('-' reads standard input)."),
    system: str | None = system_option(),
    as_json: bool = typer.Option(False, "--json", help="Print every event as one JSON line."),
    db: Path | None = typer.Option(None, "--db", help="Session database (default: $STARS_DB or ./sessions/stars.db)."),
    no_save: bool = typer.Option(False, "--no-save", help="Do not record the run."),
    *,
    params: Params,
    models: ModelChoice,
) -> None:
    """Decode one reply headless and print it (or every event with --json)."""
    from stars_engine.engine import run

    system_prompt = read_system(system)  # before standard input is read: a bad file costs nothing
    text = read_prompt(prompt)
    messages = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [
        {"role": "user", "content": text}]
    backends.check(models, [params.strategy])  # before the database is touched: a bad option changes nothing
    recorder = None
    if not no_save:  # opened first, so a bad --db fails before the slow model load
        from stars_engine.store import Recorder

        recorder = Recorder(db_path(db))
    [policy], reward = load_models(models)
    policy.check_prompt(messages, params.max_new_tokens)
    cancel = threading.Event()
    events = run(policy, reward, messages, params, cancel)
    if recorder is not None:
        events = recorder.record(events)
    with ctrl_c_cancels(cancel):
        reader_stayed = show(events, as_json, cancel)
    if not reader_stayed:  # `stars run … | head`: the run ended as cancelled; say nothing more
        raise typer.Exit(EXIT_PIPE_CLOSED)
    if recorder is not None and recorder.run_id:
        print(f"saved run {recorder.run_id} in session {recorder.session_id}", file=sys.stderr)
    if cancel.is_set():
        raise typer.Exit(EXIT_CANCELLED)


EXIT_CANCELLED = 130  # Ctrl-C, as a shell reports it


def show(events: Iterator[Event], as_json: bool, cancel: threading.Event | None = None) -> bool:
    """Print the stream: every event as JSON, or the reply and a summary; a failure exits 1.

    Returns False when the reader closed the pipe: the run is then cancelled
    (and recorded as such) instead of dying mid-write.
    """
    reader_stayed = True
    for event in events:
        try:
            if as_json:
                print(json_text(event.to_dict()), flush=True)
            elif isinstance(event, RunFinished):
                print(visible_controls(event.text) if sys.stdout.isatty() else event.text, flush=True)
                print(summary(event), file=sys.stderr)
        except (BrokenPipeError, ReaderGone):
            reader_stayed = False
            stdout_to_devnull()
            if cancel is not None:
                cancel.set()
        if isinstance(event, RunFailed):
            print(f"error: {one_line(event.message)}", file=sys.stderr)
            raise typer.Exit(1)
    return reader_stayed


def models_command(
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    reward_server: str | None = typer.Option(None, "--reward-server", help="Also say what this reward server serves."),
    served_reward: str | None = typer.Option(None, "--served-reward", help="The reward's name on --reward-server."),
    listed: bool = typer.Option(
        False, "--list", help="List every chat model and reward the workbench can switch to (F10 there): "
        "the bundled ones, those in the Hugging Face cache, and what --server / --reward-server serve."
    ),
    server: str | None = typer.Option(None, "--server", help="With --list: also the models this vLLM server serves."),
) -> None:
    """Show which models are used by default, where they come from, and where the cache is."""
    if listed:
        from stars_engine.backends.catalog import catalog

        spec = backends.ModelSpec(server=[server] if server else None, reward_server=reward_server,
                                  served_reward=served_reward)
        found = catalog(spec, strict=True)  # a server that cannot be asked is the user's bad option: one line
        rows = [choice.to_dict(spec) for choice in found.chat + found.reward]
        if as_json:
            print(json_text({"models": rows, "problems": found.problems}, indent=2))
            return
        for row in rows:
            print(f"{'*' if row['current'] else ' '} {row['kind']:<6} {one_line(row['label'])}  ({row['source']})")
        for problem in found.problems:
            print(f"not listed: {one_line(problem)}", file=sys.stderr)
        return
    if server is not None:
        raise StarsError("--server only goes with --list here")
    from stars_engine.backends.local.describe import describe

    info = describe()
    if reward_server is not None:
        from stars_engine.backends.served.reward import describe_served_reward

        info.update(describe_served_reward(reward_server, served_reward))
    if as_json:
        print(json_text(info, indent=2))
        return
    for key, value in info.items():  # a reward server's answers are among the values
        print(f"{key:>16}: {one_line(str(value))}")


def register(app: typer.Typer) -> None:
    app.command("run")(decoding_options(run_command))
    app.command("models")(models_command)
