"""The launcher against real vLLM: the shared server answers, a broken start is one line."""

from __future__ import annotations

import pytest

from stars_engine.errors import StarsError
from stars_engine.served.client import ServerClient
from stars_engine.served.launch import VllmServer, free_port

from .servers import POLICY_NAME

pytestmark = pytest.mark.served


def test_the_session_server_serves_the_bundled_model(vllm_server):
    assert vllm_server.healthy()
    assert ServerClient(vllm_server.url).served_models() == [POLICY_NAME]


def test_a_server_that_dies_while_starting_is_one_line_with_its_log(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    server = VllmServer(tmp_path, port=free_port(), served_name="broken", ready_timeout=300)
    with pytest.raises(StarsError) as err:
        server.start()
    message = str(err.value)
    assert message.startswith("vLLM exited with code") and "\n" not in message
    assert server.process is not None and server.process.poll() is not None
