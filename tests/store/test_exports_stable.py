"""The exports of a recorded session are byte-identical from one version of the code to the next.

``exports/`` holds what the code writes for ``sessions/demo.jsonl`` (the code
before the engine's packages were laid out again wrote the same bytes, and the
Markdown as it is since its escape was narrowed); a change to a format must
change these files on purpose, in the same commit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stars_engine.store import export_session, import_jsonl, open_store

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = Path(__file__).with_name("exports")


@pytest.mark.parametrize("fmt", ["md", "jsonl", "html", "csv"])
def test_the_demo_session_exports_as_it_always_did(tmp_path, fmt):
    with open_store(tmp_path / "s.db") as store:
        [session] = import_jsonl(store, ROOT / "sessions" / "demo.jsonl")
        written = export_session(store, session, fmt, tmp_path / f"demo.{fmt}")
    assert written.read_bytes() == (EXPECTED / f"demo.{fmt}").read_bytes()
