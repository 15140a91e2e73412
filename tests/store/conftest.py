"""Fixtures shared by the store tests."""

from __future__ import annotations

import pytest

from .helpers import record_fake


@pytest.fixture
def good_db(tmp_path):
    """A healthy database of three scripted sessions, and the recorder of the last one."""
    db = tmp_path / "good.db"
    for prompt in ("be kind", "be clear", "help me"):
        recorder, _ = record_fake(db, prompt, max_new_tokens=60)
    return db, recorder
