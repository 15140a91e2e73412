"""``stars run PROMPT`` (headless decoding) and ``stars models``."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from stars_engine.errors import StarsError
from stars_engine.events import Event, RunFailed, RunFinished
from stars_engine.params import Params

from .options import ModelChoice, decoding_options


def load_models(models: ModelChoice, count: int = 1):
    """Load the chat model(s) and the reward model a command asked for (slow: call once)."""
    from stars_engine.loading import load_reward

    policies = load_chat_policies(models, count)
    reward = load_reward(models.reward, models.rubric, models.device, models.allow_download)
    return policies, reward


def load_chat_policies(models: ModelChoice, count: int = 1):
    """The chat model in-process (one), or ``count`` policies spread over the ``--server`` replicas."""
    if not models.server:
        if models.served_model is not None:
            raise StarsError("--served-model needs --server")
        from stars_engine.loading import load_policy

        return [load_policy(models.model, models.device, models.allow_download)]
    from stars_engine.served.connect import served_policies

    return served_policies(
        models.server, models.served_model, tokenizer=models.model, allow_download=models.allow_download, count=count
    )


def read_prompt(prompt: str) -> str:
    """The prompt argument, or standard input for ``-``; an empty one is refused."""
    text = sys.stdin.read() if prompt == "-" else prompt
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
    prompt: str = typer.Argument(..., help="The user message ('-' reads standard input)."),
    system: str | None = typer.Option(None, "--system", help="An optional system message."),
    as_json: bool = typer.Option(False, "--json", help="Print every event as one JSON line."),
    db: Path | None = typer.Option(None, "--db", help="Session database (default: $STARS_DB or ./sessions/stars.db)."),
    no_save: bool = typer.Option(False, "--no-save", help="Do not record the run."),
    *,
    params: Params,
    models: ModelChoice,
) -> None:
    """Decode one reply headless and print it (or every event with --json)."""
    from stars_engine.engine import run

    text = read_prompt(prompt)
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
    recorder = None
    if not no_save:  # opened first, so a bad --db fails before the slow model load
        from stars_engine.store import Recorder, default_db_path

        recorder = Recorder(default_db_path(db))
    [policy], reward = load_models(models)
    policy.check_prompt(messages, params.max_new_tokens)
    cancel = threading.Event()
    events = run(policy, reward, messages, params, cancel)
    if recorder is not None:
        events = recorder.record(events)
    with ctrl_c_cancels(cancel):
        show(events, as_json)
    if recorder is not None and recorder.run_id:
        print(f"saved run {recorder.run_id} in session {recorder.session_id}", file=sys.stderr)


def show(events: Iterator[Event], as_json: bool) -> None:
    """Print the stream: every event as JSON, or the reply and a summary; a failure exits 1."""
    for event in events:
        if as_json:
            print(json.dumps(event.to_dict(), ensure_ascii=False), flush=True)
        elif isinstance(event, RunFinished):
            print(event.text)
            print(summary(event), file=sys.stderr)
        if isinstance(event, RunFailed):
            print(f"error: {event.message}", file=sys.stderr)
            raise typer.Exit(1)


def models_command(
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Show which models are used by default, where they come from, and where the cache is."""
    from stars_engine.models import describe

    info = describe()
    if as_json:
        print(json.dumps(info, indent=2))
        return
    for key, value in info.items():
        print(f"{key:>16}: {value}")


def register(app: typer.Typer) -> None:
    app.command("run")(decoding_options(run_command))
    app.command("models")(models_command)
