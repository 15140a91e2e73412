"""One bounded reader for files someone names: never blocks, never reads past its cap, one line when it refuses."""

from __future__ import annotations

import os

import pytest

from stars_engine.bounded_read import MissingFile, read_json, read_lines, read_text, size_text
from stars_engine.errors import StarsError


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(("make", "kind"), [
    (lambda tmp: tmp / "pipe", "a FIFO"),
    (lambda tmp: "/dev/zero", "a device"),
    (lambda tmp: "/dev/urandom", "a device"),
    (lambda tmp: tmp, "a directory"),
])
@pytest.mark.parametrize("reader", [
    lambda p: read_text(p, "settings file", 1024),
    lambda p: read_json(p, "settings file"),
    lambda p: list(read_lines(p, "settings file")),
])
def test_anything_but_a_regular_file_is_refused_by_what_it_is(tmp_path, fifo, make, kind, reader):
    path = make(tmp_path)  # the FIFO has no writer: a blocking open would wait forever
    with pytest.raises(StarsError, match=f"settings file {path} is {kind}, not a regular file"):
        reader(path)


def test_a_file_past_the_cap_is_refused_naming_it(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b" " * (64 * 1024 + 1))
    with pytest.raises(StarsError, match=f"rubric {path} is larger than 64 KiB"):
        read_text(path, "rubric", 64 * 1024)
    assert read_text(path, "rubric", 64 * 1024 + 1) == " " * (64 * 1024 + 1)


def test_a_file_whose_size_says_zero_is_still_capped():
    with pytest.raises(StarsError, match="larger than 16 bytes"):
        read_text("/proc/self/status", "file", 16)  # procfs reports st_size 0


def test_a_missing_file_is_its_own_refusal(tmp_path):
    with pytest.raises(MissingFile, match="config file does not exist"):
        read_json(tmp_path / "none.json", "config file")


def test_undecodable_bytes_and_broken_or_deep_json_are_one_line(tmp_path):
    path = tmp_path / "x.json"
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(StarsError, match=r"is not UTF-8 text \(byte 0xff at 7\)"):
        read_json(path, "file")
    path.write_text("{not json")
    with pytest.raises(StarsError, match=r"not JSON \(Expecting property name .* line 1 column 2\)"):
        read_json(path, "file")
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(StarsError, match="JSON nested too deeply"):
        read_json(path, "file", 1024 * 1024)


def test_lines_split_on_newlines_only_and_stream(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": "one\u2028two\u2029three\x85four"}\r\n\n{"b": 2}', encoding="utf-8")
    assert list(read_lines(path, "import file")) == [
        (1, '{"a": "one\u2028two\u2029three\x85four"}\r'), (2, ""), (3, '{"b": 2}')
    ]


def test_a_line_past_the_line_cap_is_refused_by_number(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"short\n" + b"x" * 100 + b"\n")
    assert list(read_lines(path, "import file", 100))[0] == (1, "short")
    with pytest.raises(StarsError, match="import file .* line 2 is longer than 99 bytes"):
        list(read_lines(path, "import file", 99))
    path.write_bytes(b"x" * 100 + b"\n")  # exactly the cap, then its newline: fine
    assert list(read_lines(path, "import file", 100)) == [(1, "x" * 100)]


def test_sizes_are_written_as_a_person_would():
    assert [size_text(n) for n in (1024 * 1024, 256 * 1024, 100)] == ["1 MiB", "256 KiB", "100 bytes"]


def test_standard_input_is_read_up_to_its_cap_and_no_further():
    import io

    from stars_engine.bounded_read import read_stream

    assert read_stream(io.BytesIO(b"hello"), "standard input", 5) == b"hello"
    endless = io.BufferedReader(io.FileIO("/dev/zero"))
    with pytest.raises(StarsError, match="standard input is larger than"):
        read_stream(endless, "standard input", 1024)
    assert endless.tell() <= 1025 + io.DEFAULT_BUFFER_SIZE
