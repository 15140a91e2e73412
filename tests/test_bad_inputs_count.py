"""The counter behind README's reliability figure: it tells a clean error from everything else."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bad_inputs.py"
spec = importlib.util.spec_from_file_location("bad_inputs", SCRIPT)
bad_inputs = sys.modules["bad_inputs"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bad_inputs)

DB, OUT = Path("s.db"), Path("x.md")


@pytest.mark.parametrize(
    ("code", "stderr", "after", "ran", "outcome"),
    [
        (2, "error: no\n", {DB: "a"}, False, "clean"),
        (1, "Traceback (most recent call last):\n  ...\n", {DB: "a"}, False, "traceback"),
        (0, "", {DB: "a"}, False, "silently accepted"),
        (2, "error: no\n", {DB: "b"}, False, "database changed"),
        (2, "error: no\n", {DB: "a", Path("new.db"): "c"}, False, "database changed"),
        (2, "error: no\n", {DB: "a"}, True, "code ran"),
        (2, "error: no\n", {DB: "a", OUT: "half"}, False, "other"),
        (2, "error: no\nmore\n", {DB: "a"}, False, "other"),
        (1, "error: no\n", {DB: "a"}, False, "other"),
    ],
)
def test_classify(code, stderr, after, ran, outcome):
    assert bad_inputs.classify(code, stderr, {DB: "a"}, after, ran) == outcome


def test_the_figure_names_every_outcome():
    counts = bad_inputs.Counter({"clean": 3, "traceback": 1, "other": 2})
    assert bad_inputs.figure(counts) == ("6 bad inputs, 3 clean errors, 1 tracebacks, 0 silently accepted, "
                                         "0 databases changed, 2 other")


def test_a_few_real_cases_run_clean(tmp_path):
    names = {"an unknown command", "import: not JSON", "database truncated: export"}
    chosen = [c for c in bad_inputs.cases() if c.name in names]
    assert len(chosen) == len(names)
    template = bad_inputs.template_folder(tmp_path)
    assert [bad_inputs.run_case(c, template)["outcome"] for c in chosen] == ["clean"] * len(names)


# -- round two: benchmarks/hostile_inputs.py and its fake vLLM server ---------------------------------
HOSTILE = SCRIPT.parent / "hostile_inputs.py"
spec = importlib.util.spec_from_file_location("hostile_inputs", HOSTILE)
hostile = sys.modules["hostile_inputs"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hostile)
fake_vllm = sys.modules["fake_vllm"]
Case, Step = hostile.Case, hostile.Step


def _case(**kw):
    return Case("c", "escapes", **{"steps": [["x"]], **kw})


@pytest.mark.parametrize(
    ("case", "steps", "before", "after", "ran", "outcome"),
    [
        (_case(), [Step(2, "", "error: no\n")], {DB: "a"}, {DB: "a"}, False, "clean"),
        (_case(), [Step(1, "", "error: no\n")], {DB: "a"}, {DB: "a"}, False, "other"),
        (_case(codes=(1, 2)), [Step(1, "", "error: no\n")], {DB: "a"}, {DB: "a"}, False, "clean"),
        (_case(codes=()), [Step(120, "", "error: no\n")], {DB: "a"}, {DB: "a"}, False, "clean"),
        (_case(), [Step(0, "", "")], {DB: "a"}, {DB: "a"}, False, "silently accepted"),
        (_case(expect="ok"), [Step(0, "", "")], {DB: "a"}, {DB: "a"}, False, "clean"),
        (_case(expect="ok"), [Step(2, "", "error: no such file\n")], {}, {}, False, "silently accepted"),
        (_case(), [Step(1, "", "Traceback (most recent call last):\n")], {}, {}, False, "traceback"),
        (_case(), [Step(-11, "", "")], {}, {}, False, "traceback"),
        (_case(), [Step(1, "", "Traceback\nMemoryError\n")], {}, {}, False, "hang or unbounded memory"),
        (_case(), [Step(None, "", "", alive_at_limit=True)], {}, {}, False, "hang or unbounded memory"),
        (_case(app=True), [Step(None, "", "", alive_at_limit=True)], {}, {}, False, "silently accepted"),
        (_case(app=True), [Step(None, "", "", alive_at_limit=True, fifo_blocked=True)], {}, {}, False,
         "hang or unbounded memory"),
        (_case(app=True, expect="ok"), [Step(None, "", "", alive_at_limit=True)], {}, {}, False, "clean"),
        (_case(app=True, lean=True, expect="either"), [Step(None, "", "", alive_at_limit=True, peak_kib=3 << 20)],
         {}, {}, False, "hang or unbounded memory"),
        (_case(app=True, lean=True, expect="either"), [Step(None, "", "", alive_at_limit=True, peak_kib=300 << 10)],
         {}, {}, False, "clean"),
        (_case(), [Step(2, "", "error: no\n")], {DB: "a"}, {DB: "b"}, False, "database changed"),
        (_case(writes=True), [Step(2, "", "error: no\n")], {DB: "a"}, {DB: "b"}, False, "clean"),
        (_case(), [Step(2, "", "error: no\n")], {DB: "a"}, {DB: "a"}, True, "security hole"),
        (_case(), [Step(1, "", "error: HTTP 400: \x1b]52;c;aGk=\x07\n")], {}, {}, False, "security hole"),
        (_case(), [Step(2, "", "error: \u202eevil\n")], {}, {}, False, "security hole"),
        (_case(), [Step(2, "", "error: \\x1b]52 shown\n")], {}, {}, False, "clean"),
        (_case(tty=True, expect="ok"), [Step(0, "\x1b[2J\r\n", "")], {}, {}, False, "security hole"),
        (_case(expect="ok"), [Step(0, "\x1b[2J\n", "")], {}, {}, False, "clean"),  # a pipe, not a terminal
        (_case(tty=True, expect="ok"), [Step(0, "\x1b[1mid\x1b[0m \\x1b]52\r\n", "")], {}, {}, False, "clean"),
        (_case(tty=True, expect="ok"), [Step(0, "\x1b[1mid\x1b[0m \u202eevil\r\n", "")], {}, {}, False,
         "security hole"),
        (_case(), [Step(2, "", "measuring the weights, once…\nerror: no\n")], {}, {}, False, "clean"),
        (_case(), [Step(2, "", "a warning\nerror: no\n")], {}, {}, False, "other"),
        (_case(), [Step(2, "", "error: no\nerror: again\n")], {}, {}, False, "other"),
        (_case(steps=[["a"], ["b"]], later_refusal="lost data"), [Step(0, "", ""), Step(2, "", "error: no\n")],
         {}, {}, False, "lost data"),
        (_case(steps=[["a"], ["b"]], expect="either"), [Step(2, "", "error: no\n")], {}, {}, False, "clean"),
    ],
)
def test_classify_round_two(case, steps, before, after, ran, outcome):
    assert hostile.classify(case, steps, before, after, ran) == outcome


@pytest.mark.parametrize(
    ("name", "text", "live"),
    [
        ("x.md", "# t\n\nSession `a` · 2026-01-01T00:00:00+00:00\n\n> one = 1, [docs](https://x.example)\n", False),
        ("x.md", "Session `a` · <img src=x onerror=alert(1)>\n", True),
        ("x.md", "> [click](javascript:alert(1))\n", True),
        ("x.md", "> [click]( JavaScript:alert(1))\n", True),
        ("x.md", "- rejected: <code>[click](javascript:alert(1))</code>\n", True),  # a link inside <code>
        ("x.md", "> \\[click\\](javascript:alert(1))\n", False),
        ("x.md", "> <javascript:alert(1)>\n", True),
        ("x.md", "    <script>alert(1)</script>\n", False),  # an indented code block
        ("x.md", "> &lt;script&gt;alert(1)&lt;/script&gt;\n", False),
        ("x.html", "<style>p{}</style><p>&lt;script&gt;</p>\n", False),
        ("x.html", "<p class=\"meta\">session · <script>alert(2)</script></p>\n", True),
        ("x.csv", "text,reward\r\n'=1+1,-0.5\r\n", False),
        ("x.csv", "text,reward\r\n\uff1dHYPERLINK(\"x\"),1\r\n", True),
        ("x.csv", "text,reward\r\n   =1+1,1\r\n", True),
        ("x.csv", "text,reward\r\n-5 degrees,1\r\n", True),
    ],
)
def test_injection_is_found_in_each_export_format(tmp_path, name, text, live):
    (tmp_path / name).write_text(text, encoding="utf-8")
    assert hostile.injected(tmp_path / name) is live


def test_the_table_has_a_column_for_every_outcome():
    counts = bad_inputs.Counter({"clean": 5, "traceback": 2, "security hole": 1})
    header, rule, row = hostile.table(counts).splitlines()
    assert [c.strip() for c in header.strip("|").split("|")] == list(hostile.HEADERS)
    assert [int(c) for c in row.strip("|").split("|")] == [8, 5, 2, 0, 0, 0, 0, 1, 0]
    assert len(hostile.COLUMNS) + 1 == len(hostile.HEADERS)


def test_every_case_names_a_known_class_and_a_unique_name():
    cases = hostile.cases()
    assert {c.kind for c in cases} <= set(hostile.CLASSES)
    assert len({c.name for c in cases}) == len(cases)
    assert {c.kind for c in cases} == set(hostile.CLASSES) - {"round-one"}


def _get(url: str, payload: dict | None = None):
    import json
    import urllib.request

    data = None if payload is None else json.dumps(payload).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_fake_server_answers_like_vllm_and_lies_where_told():
    with fake_vllm.fake_vllm() as url:
        status, models = _get(url + "/ok/v1/models")
        assert status == 200 and models["data"][0]["id"] == fake_vllm.MODEL
        assert isinstance(models["data"][0]["max_model_len"], int)
        _, tokens = _get(url + "/ok/tokenize", {"messages": [{"role": "user", "content": "hi"}]})
        _, text = _get(url + "/ok/detokenize", {"tokens": tokens["tokens"]})
        assert "hi" in text["prompt"]
        _, reply = _get(url + "/ok/v1/completions", {"prompt": [1], "n": 3, "max_tokens": 5, "seed": 1})
        assert [len(c["token_ids"]) for c in reply["choices"]] == [5, 5, 5]
        _, long = _get(url + "/long@completions/v1/completions", {"prompt": [1], "n": 1, "max_tokens": 5})
        assert len(long["choices"][0]["token_ids"]) == 15
        assert _get(url + "/long@completions/v1/models")[1] == models  # the fault is where it was aimed only
        status, error = _get(url + "/osc52@completions/v1/completions", {"prompt": [1]})
        assert status == 400 and "\x1b]52;" in error["message"]
        _, card = _get(url + "/ctx-str/v1/models")
        assert card["data"][0]["max_model_len"] == "a lot"
        _, rooted = _get(url + "/" + fake_vllm.root_fault("/some/folder") + "/v1/models")
        assert rooted["data"][0]["root"] == "/some/folder"
        _, vectors = _get(url + "/ok/v1/embeddings", {"input": ["a", "b"]})
        assert [v["index"] for v in vectors["data"]] == [0, 1]


@pytest.mark.parametrize("stderr", ["error: AttributeError: 'int' object has no attribute 'startswith'\n",
                                    "error: maximum recursion depth exceeded while decoding a JSON array\n",
                                    "error: http://x/v1/completions: TypeError: bad\n"])
def test_an_internal_exception_in_one_line_is_no_clean_error(stderr):
    assert hostile.classify(_case(codes=(1, 2)), [Step(1, "", stderr)], {}, {}, False) == "traceback"


def test_an_error_that_names_its_cause_is_clean_even_when_the_cause_is_a_recursion_limit():
    stderr = "error: the chat model's chat template failed: maximum recursion depth exceeded\n"
    assert hostile.classify(_case(), [Step(2, "", stderr)], {}, {}, False) == "clean"


def test_a_served_case_runs_against_the_fake_server_and_is_counted(tmp_path):
    """End to end: a `stars` process, the fake server, the folder's files, one outcome per case."""
    refused = next(c for c in hostile.cases() if c.name == "server: /v1/models data empty")
    accepted = Case("an honest server, taken for a bad input", "server-reply", [hostile.served("ok")])
    template = hostile.template_folder(tmp_path, models=False)
    with fake_vllm.fake_vllm() as srv:
        outcomes = [hostile.run_case(c, template, srv)["outcome"] for c in (refused, accepted)]
    assert outcomes == ["clean", "silently accepted"]
