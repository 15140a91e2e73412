"""Issue 22, one escape per export format: every field of every export, stored or imported, reaches
Markdown, HTML and CSV readers as text, never as markup, a link or a formula."""

from __future__ import annotations

import csv
import html
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from stars_engine.display.controls import visible_controls
from stars_engine.store.export import _md_inline

from .helpers import cli, record_events
from .test_security import hostile_run

LINKS = "[click](javascript:alert(1)) <javascript:alert(2)> ![x](javascript:alert(3)) [y]: javascript:alert(4) [y]"
IMG = '<img src=x onerror="alert(1)">'


def permissive() -> MarkdownIt:
    """A renderer that trusts every link and raw HTML, as some Markdown viewers do."""
    md = MarkdownIt("commonmark", {"html": True})
    md.validateLink = lambda url: True
    return md


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(exclude_categories=["Cs"]), min_size=1).filter(lambda t: t.split()))
def test_any_inline_field_renders_as_exactly_its_text(text):
    rendered = permissive().render(_md_inline(text))
    assert rendered.startswith("<p>") and rendered.endswith("</p>\n")
    assert html.unescape(rendered[3:-5]) == visible_controls(" ".join(text.split()))


def test_markdown_makes_no_link_and_no_tag_of_any_field(tmp_path, capsys):
    db = tmp_path / "s.db"
    recorder = record_events(db, hostile_run(f"{LINKS} {IMG}\n    indented {LINKS}\n# heading\n==="),
                             title=f"{LINKS} {IMG}")
    with sqlite3.connect(db) as conn:  # what an import can no longer store, a hand-edit still can
        conn.execute("UPDATE sessions SET created_at = ?", [IMG])
        conn.execute("UPDATE runs SET policy_id = ?, error = ?", [LINKS, IMG])
    conn.close()
    out = tmp_path / "a.md"
    assert cli(["export", recorder.session_id, "-o", str(out), "--db", str(db)], capsys)[0] == 0
    rendered = permissive().render(out.read_text())
    assert "<a " not in rendered and "<img" not in rendered and "javascript:alert(1)" in html.unescape(rendered)
    assert "<h1>" in rendered and rendered.count("<h1>") == 1 and "<pre>" not in rendered and "<h2>" in rendered
    page = tmp_path / "a.html"
    assert cli(["export", recorder.session_id, "-o", str(page), "--db", str(db)], capsys)[0] == 0
    assert "<img" not in page.read_text() and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page.read_text()


FORMULAS = ["\uff1dHYPERLINK(\"http://evil\")", "  =1+1", " \t+1", "\u200b=1", "\u3000@SUM(A1)", "\ufe66 1",
            "\uff0d2+3", "\uff0b1", "\uff20x", "\u00a0-1", "\nx", "\u202e=1"]


@pytest.mark.parametrize("formula", FORMULAS)
def test_csv_formulas_hidden_behind_spaces_or_full_width_signs_are_neutralised(tmp_path, capsys, formula):
    db = tmp_path / "s.db"
    recorder = record_events(db, hostile_run(formula))
    out = tmp_path / "a.csv"
    assert cli(["export", recorder.run_id, "-o", str(out), "--db", str(db)], capsys)[0] == 0
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["text"] for r in rows] == ["'" + formula] * 2


@pytest.mark.parametrize("harmless", [" hello", "a=b", "x-1", "１２３"])
def test_csv_leaves_text_that_is_no_formula_alone(tmp_path, capsys, harmless):
    db = tmp_path / "s.db"
    recorder = record_events(db, hostile_run(harmless))
    out = tmp_path / "a.csv"
    assert cli(["export", recorder.run_id, "-o", str(out), "--db", str(db)], capsys)[0] == 0
    with out.open(newline="", encoding="utf-8") as f:
        assert [r["text"] for r in csv.DictReader(f)] == [harmless] * 2
