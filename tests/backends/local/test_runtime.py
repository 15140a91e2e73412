"""The per-machine dtype and thread choice, its overrides, and its record in the run."""

from __future__ import annotations

import sqlite3

import pytest
import torch
from fakes import ScriptedPolicy, ScriptedReward

from stars_engine.backends.local.runtime import SMALL_MODEL_PARAMS, choose_dtype, choose_threads, cpu_bf16_flags, plan
from stars_engine.engine import run
from stars_engine.errors import StarsError
from stars_engine.events import RunStarted
from stars_engine.params import Params
from stars_engine.store import Recorder, open_store

CPU = torch.device("cpu")


def cpuinfo(tmp_path, flags: str):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse2 avx2 {flags}\n\n")
    return path


def test_native_bf16_is_read_from_the_cpu_flags(tmp_path):
    assert cpu_bf16_flags(cpuinfo(tmp_path, "avx512f avx512_bf16")) == ["avx512_bf16"]
    assert cpu_bf16_flags(cpuinfo(tmp_path, "amx_bf16 amx_tile")) == ["amx_bf16"]
    assert cpu_bf16_flags(cpuinfo(tmp_path, "avx512f avx512bw")) == []
    assert cpu_bf16_flags(tmp_path / "missing") == []


def test_cpu_dtype_follows_the_flags():
    assert choose_dtype(CPU, flags=[]) == (torch.float32, "CPU without native bf16")
    assert choose_dtype(CPU, flags=["avx512_bf16"]) == (torch.bfloat16, "CPU has avx512_bf16")
    assert choose_dtype(CPU, "fp32", flags=["avx512_bf16"]) == (torch.float32, "--dtype")
    assert choose_dtype(CPU, "auto", flags=["avx512_bf16"])[0] == torch.bfloat16


def test_threads_follow_the_model_size_unless_overridden():
    assert choose_threads(135_000_000, cores=8)[0] == 1
    assert choose_threads(SMALL_MODEL_PARAMS * 4, cores=8)[0] == 8
    assert choose_threads(135_000_000, 3, cores=8) == (3, "--threads")


@pytest.mark.parametrize(("dtype", "threads", "message"), [("fp16", None, "unknown dtype"), (None, 0, "at least 1")])
def test_bad_overrides_are_one_line_errors(dtype, threads, message):
    with pytest.raises(StarsError, match=message):
        plan(CPU, 135_000_000, dtype, threads)


def test_the_runtime_is_recorded_with_the_run_and_read_back(tmp_path):
    db = tmp_path / "s.db"
    recorder = Recorder(db)
    messages = [{"role": "user", "content": "hi"}]
    events = list(recorder.record(run(ScriptedPolicy(), ScriptedReward(), messages, Params(seed=1, max_new_tokens=8))))
    assert events[0].runtime == ScriptedPolicy.runtime
    with open_store(db) as store:
        assert store.run_events(recorder.run_id)[0] == events[0]


def test_a_run_recorded_before_the_runtime_column_reads_back_with_an_empty_runtime(tmp_path):
    db = tmp_path / "s.db"
    recorder = Recorder(db)
    messages = [{"role": "user", "content": "hi"}]
    list(recorder.record(run(ScriptedPolicy(), ScriptedReward(), messages, Params(seed=1, max_new_tokens=8))))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE runs SET runtime = NULL")
    with open_store(db) as store:
        started = store.run_events(recorder.run_id)[0]
    assert isinstance(started, RunStarted) and started.runtime == {}
