"""A real ``stars`` in a tmux pane, driven and read through one tmux control-mode client.

Shared by ``tui_latency.py`` and ``tui_startup.py``. Why tmux: the app runs as a
person runs it (its own process, a real terminal driver, the model worker
it starts itself), and the screen read back is what tmux, a terminal
emulator, drew from the app's output. Why control mode: one long-lived client
takes every command (no process started per poll, which would load the
machine being measured), and tmux announces each chunk of the app's output
(``%output``) the moment it arrives, so the screen is read right after the
app wrote, not on a polling clock.
"""

from __future__ import annotations

import os
import queue
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def models_ready(screen: str) -> bool:
    """The status line (above the footer) ends in the model state: "ready", alone or with its details."""
    return any(line.rstrip().endswith("ready") or " ready · " in line for line in screen.splitlines()[-3:])


class TmuxScreen:
    """One tmux server on a private socket, one window running ``command``, one control client."""

    def __init__(self, command: list[str], env: dict[str, str], size: tuple[int, int] = (120, 40)) -> None:
        self.socket = f"stars-bench-{os.getpid()}-{time.monotonic_ns()}"
        self.output_at = 0.0  # when tmux last announced output from the app
        self.output_seen = threading.Event()
        self._blocks: queue.Queue[list[str]] = queue.Queue()
        shell = " ".join(["env", *(f"{k}={shlex.quote(v)}" for k, v in env.items()), *map(shlex.quote, command)])
        self.started_at = time.monotonic()
        subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", "new-session", "-d", "-s", "bench",
                        "-x", str(size[0]), "-y", str(size[1]), shell], check=True, cwd=REPO)
        self._client = subprocess.Popen(["tmux", "-L", self.socket, "-C", "attach", "-t", "bench"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._blocks.get(timeout=10)  # the attach command's own (empty) reply comes first
        self.command("set -g window-size manual")
        self.command(f"resize-window -t bench -x {size[0]} -y {size[1]}")
        self.pane_pid = int(self.command("display -p -t bench '#{pane_pid}'")[0])

    def _read(self) -> None:
        block: list[str] | None = None
        assert self._client.stdout is not None
        for raw in self._client.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line.startswith("%output"):
                self.output_at = time.monotonic()
                self.output_seen.set()
            elif line.startswith("%begin"):
                block = []
            elif line.startswith(("%end", "%error")) and block is not None:
                self._blocks.put(block)
                block = None
            elif block is not None:
                block.append(line)

    def command(self, text: str, timeout: float = 10.0) -> list[str]:
        """Send one tmux command; its output lines."""
        assert self._client.stdin is not None
        self._client.stdin.write(text.encode() + b"\n")
        return self._blocks.get(timeout=timeout)

    def screen(self, escapes: bool = False) -> str:
        """The pane's text; with ``escapes``, its colours and attributes too (what shows the focus)."""
        return "\n".join(self.command("capture-pane -p " + ("-e " if escapes else "") + "-t bench"))

    def keys(self, *keys: str, literal: bool = False) -> float:
        """Send keys (tmux names, or text with ``literal``); the moment they were sent."""
        self.output_seen.clear()
        sent = time.monotonic()
        self.command("send-keys -t bench " + ("-l " if literal else "") + " ".join(map(shlex.quote, keys)))
        return sent

    def wait_for(self, shown: Callable[[str], bool], timeout: float, escapes: bool = False) -> float | None:
        """Wait until ``shown(screen)``; the moment tmux announced the output that showed it, or None.

        The screen is read after each announcement of new output (and every 0.2 s besides), so
        the moment is that of the last output before the read that found it.
        """
        deadline = time.monotonic() + timeout
        while True:
            self.output_seen.wait(timeout=0.2)
            self.output_seen.clear()
            at = self.output_at
            if shown(self.screen(escapes)):
                return at
            if time.monotonic() > deadline:
                return None

    def quit(self, timeout: float = 30.0) -> None:
        """Ctrl+Q, as a person quits, and wait for the app to end (it closes and joins its worker)."""
        self.keys("C-q")
        deadline = time.monotonic() + timeout
        while _alive(self.pane_pid) and time.monotonic() < deadline:
            time.sleep(0.1)

    def close(self) -> None:
        """End the app (if still running: SIGTERM, which it handles) and the tmux server."""
        if _alive(self.pane_pid):
            os.kill(self.pane_pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while _alive(self.pane_pid) and time.monotonic() < deadline:
                time.sleep(0.1)
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], check=False, capture_output=True)
        self._client.wait(timeout=10)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
