"""The launcher: refusals before anything starts, and against real vLLM a served model and a broken start."""

from __future__ import annotations

import socket

import pytest

from stars_engine.backends.served.client import ServerClient
from stars_engine.backends.served.launch import VllmServer, free_port
from stars_engine.errors import StarsError

from .servers import POLICY_NAME


def fake_venv(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").write_text("")
    return tmp_path


def test_a_missing_vllm_environment_is_one_line(tmp_path):
    with pytest.raises(StarsError, match=r"^no vLLM environment at .*: run scripts/setup-vllm.sh first$"):
        VllmServer(tmp_path, port=free_port(), served_name="m", venv=tmp_path / "nowhere")


def test_a_port_in_use_is_refused_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = VllmServer(tmp_path, port=taken.getsockname()[1], served_name="m", venv=fake_venv(tmp_path))
        with pytest.raises(StarsError, match="is in use"):
            server.start()
    assert server.process is None


@pytest.mark.served
def test_the_session_server_serves_the_bundled_model(vllm_url):
    assert ServerClient(vllm_url).served_models() == [POLICY_NAME]


@pytest.mark.served
def test_a_server_that_dies_while_starting_is_one_line_with_its_log(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    server = VllmServer(tmp_path, port=free_port(), served_name="broken", ready_timeout=300)
    with pytest.raises(StarsError) as err:
        server.start()
    message = str(err.value)
    assert message.startswith("vLLM exited with code") and "\n" not in message
    assert server.process is not None and server.process.poll() is not None
