"""``stars serve``: run vLLM on the bundled chat model on this machine, to try ``--server``.

vLLM comes from its own environment (``scripts/setup-vllm.sh``). The server
runs until Ctrl-C and is always stopped with its engine process.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

DEFAULT_NAME = "smollm2"


def serve_command(
    model: Path | None = typer.Option(
        None, "--model", "-m", help="Model folder to serve (default: the converted bundled SmolLM2-135M)."
    ),
    port: int = typer.Option(8000, "--port", help="Port on 127.0.0.1."),
    served_model: str = typer.Option(DEFAULT_NAME, "--served-model", help="The name the server answers to."),
    venv: Path | None = typer.Option(
        None, "--venv", help="vLLM's virtual environment (default: $STARS_VLLM_VENV or ./.venv-vllm)."
    ),
    extra: list[str] | None = typer.Argument(None, help="More vLLM arguments, after `--`."),
) -> None:
    """Serve a chat model with vLLM on this CPU until Ctrl-C or SIGTERM (for `stars run --server …`)."""
    import signal
    import time

    from stars_engine.backends.served.launch import start_vllm

    def stop(signum, frame):
        raise KeyboardInterrupt

    # Ctrl-C, `kill`, and a shell that started us in the background (SIGINT ignored) all stop vLLM too
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    if model is None:
        from stars_engine.weights.convert import default_policy_dir

        model = default_policy_dir()
    print(f"starting vLLM on {model} (about 1-3 minutes on a small CPU)…", file=sys.stderr)
    with start_vllm(model, port=port, served_name=served_model, extra_args=extra or (), venv=venv) as url:
        print(f"serving {served_model} at {url}; try: stars run --server {url} 'Hello'", file=sys.stderr)
        print("Ctrl-C stops it", file=sys.stderr)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopping vLLM…", file=sys.stderr)


def register(app: typer.Typer) -> None:
    app.command("serve", context_settings={"allow_extra_args": False})(serve_command)
