"""``stars run PROMPT`` (headless decoding) and ``stars models``."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import typer

from stars_engine.errors import StarsError
from stars_engine.events import Event, RunFailed, RunFinished
from stars_engine.params import Params

from .options import ModelChoice, decoding_options


def load_models(models: ModelChoice):
    """Load the chat and reward models a command asked for (slow: call once)."""
    from stars_engine.loading import load_policy, load_reward

    policy = load_policy(models.model, models.device, models.allow_download)
    reward = load_reward(models.reward, models.rubric, models.device, models.allow_download)
    return policy, reward


def read_prompt(prompt: str) -> str:
    """The prompt argument, or standard input for ``-``; an empty one is refused."""
    text = sys.stdin.read() if prompt == "-" else prompt
    if not text.strip():
        raise StarsError("the prompt is empty")
    return text


def drain(events: Iterator[Event], cancel: threading.Event) -> Iterator[Event]:
    """Pass events on; Ctrl-C asks the engine to stop and lets it finish the run cleanly."""
    while True:
        try:
            event = next(events)
        except StopIteration:
            return
        except KeyboardInterrupt:
            cancel.set()
            continue
        yield event


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
    policy, reward = load_models(models)
    policy.check_prompt(messages, params.max_new_tokens)
    cancel = threading.Event()
    events = run(policy, reward, messages, params, cancel)
    if not no_save:
        from stars_engine.store import Recorder, default_db_path

        events = Recorder(default_db_path(db)).record(events)
    for event in drain(events, cancel):
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
