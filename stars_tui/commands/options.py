"""Options every decoding command shares (run, chat, bench), declared once.

``decoding_options`` adds one ``--flag`` per ``Params`` field plus the model
options to a Typer command's signature and hands the command a validated
``Params`` and a ``ModelChoice`` instead, so ``run`` and ``chat`` never drift
apart.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

import typer

from stars_engine import decoding
from stars_engine.backends.spec import ModelSpec
from stars_engine.bounded_read import read_text
from stars_engine.display.controls import valid_text
from stars_engine.params import Params, parse_value

SYSTEM_BYTES = 256 * 1024  # a system prompt is a paragraph or a page; a quarter MiB is generous
SYSTEM_HELP = "System prompt for the session: TEXT, or @FILE to read it from a UTF-8 file."


def system_option() -> Any:
    """The ``--system TEXT|@FILE`` option, the same on run, chat and bench."""
    return typer.Option(None, "--system", help=SYSTEM_HELP)


def read_system(value: str | None) -> str:
    """The system prompt ``--system`` names ("" for none): the text itself, or ``@FILE`` read through the one
    bounded reader (a missing, oversized or non-UTF-8 file is one line). A literal leading @ is written @@."""
    if value is None:
        return ""
    if value.startswith("@@"):
        return valid_text(value[1:], "--system")
    if value.startswith("@"):
        return read_text(Path(value[1:]), "--system file", SYSTEM_BYTES)
    return valid_text(value, "--system")


@dataclass(frozen=True)
class ModelChoice(ModelSpec):
    """Which chat model and reward model to load (None = the bundled defaults), in-process or served."""


MODEL_OPTIONS: dict[str, tuple[type, Any]] = {
    "model": (
        str | None,
        typer.Option(None, "--model", "-m", help="Chat model: hub id or local path (default: bundled SmolLM2-135M)."),
    ),
    "reward": (
        str | None,
        typer.Option(
            None, "--reward", "-r",
            help="Reward model: hub id or local path of a one-logit sequence classifier (default: embedding rubric).",
        ),
    ),
    "rubric": (
        Path | None,
        typer.Option(None, "--rubric", help="JSON file with prefer/avoid exemplars for the default reward."),
    ),
    "device": (str | None, typer.Option(None, "--device", help="cpu, cuda, cuda:1 … (default: CUDA if present).")),
    "allow_download": (
        bool,
        typer.Option(False, "--allow-download", help="Let a hub id be fetched (off by default: offline)."),
    ),
    "dtype": (str | None, typer.Option(None, "--dtype", help="auto, bf16 or fp32 (default: bf16 where native).")),
    "threads": (int | None, typer.Option(None, "--threads", help="CPU threads (default: chosen per model).")),
    "weights": (
        str | None,
        typer.Option(
            None, "--weights",
            help="auto (on a CPU, the fastest measured there), dense, fp16 (fp16 weights, fp32 sums) "
                 "or int4 (exactly-4-bit weights packed, bf16).",
        ),
    ),
    "server": (
        list[str] | None,
        typer.Option(
            None, "--server",
            help="Chat model on a vLLM server at this URL (repeat for replicas); --model then names its tokenizer.",
        ),
    ),
    "served_model": (
        str | None,
        typer.Option(None, "--served-model", help="The model's name on --server (default: the one it serves)."),
    ),
    "reward_server": (
        str | None,
        typer.Option(
            None, "--reward-server",
            help="Score on this vLLM pooling server (URL): the rubric's embedder, or the --reward classifier.",
        ),
    ),
    "served_reward": (
        str | None,
        typer.Option(None, "--served-reward", help="The reward's name on --reward-server (default: its only one)."),
    ),
}


WORD_OR_NUMBER = {f.name for f in fields(Params) if str(f.type) == "int | str"}  # read by parse_value


def _param_option(f) -> inspect.Parameter:
    default = f.default if f.default is not MISSING else None
    annotation = {"int": int, "float": float, "str": str, "int | None": int | None, "int | str": str}[str(f.type)]
    option = typer.Option(default, f"--{f.name.replace('_', '-')}", help=decoding.knobs()[f.name].help)
    return inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation)


def decoding_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``func(…, params: Params, models: ModelChoice)`` the shared CLI options."""
    own = [p for p in inspect.signature(func).parameters.values() if p.name not in ("params", "models")]
    added = [_param_option(f) for f in fields(Params)]
    added += [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=opt, annotation=ann)
        for name, (ann, opt) in MODEL_OPTIONS.items()
    ]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {f.name: kwargs.pop(f.name) for f in fields(Params)}
        values = {k: parse_value(k, v) if isinstance(v, str) and k in WORD_OR_NUMBER else v for k, v in values.items()}
        models = ModelChoice(**{name: kwargs.pop(name) for name in MODEL_OPTIONS})
        params = Params(**values)
        decoding.get(params.strategy)  # an unknown name is refused as Params refuses a bad value
        return func(*args, params=params, models=models, **kwargs)

    wrapper.__signature__ = inspect.Signature(own + added)  # type: ignore[attr-defined]
    return wrapper


def with_model_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the shared model options (--model, --reward, --rubric, --device, --allow-download).

    The own parameters' annotations are resolved with their ``Annotated`` extras:
    left as strings (postponed annotations), Typer drops the options' help text.
    """
    import typing

    hints = typing.get_type_hints(func, include_extras=True)
    own = [p.replace(annotation=hints[p.name]) for p in inspect.signature(func).parameters.values()
           if p.kind != inspect.Parameter.VAR_KEYWORD]
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=opt, annotation=ann)
             for name, (ann, opt) in MODEL_OPTIONS.items()]

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        return func(**kwargs)

    wrapper.__signature__ = inspect.Signature(own + added)  # type: ignore[attr-defined]
    return wrapper
