"""The per-machine dtype and thread choice, its overrides, and its record in the run."""

from __future__ import annotations

import sqlite3

import pytest
import torch
from fakes import ScriptedPolicy, ScriptedReward

from stars_engine.backends.local import runtime
from stars_engine.backends.local.runtime import (
    SMALL_MODEL_PARAMS,
    check_overrides,
    choice_key,
    choose_dtype,
    choose_threads,
    choose_weights,
    cpu_bf16_flags,
    pick_weights,
    plan,
)
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
    assert choose_dtype(CPU, flags=[], capped=False) == (torch.float32, "CPU without native bf16")
    assert choose_dtype(CPU, flags=["avx512_bf16"], capped=False) == (torch.bfloat16, "CPU has avx512_bf16")
    assert choose_dtype(CPU, "fp32", flags=["avx512_bf16"], capped=False) == (torch.float32, "--dtype")
    assert choose_dtype(CPU, "auto", flags=["avx512_bf16"], capped=False)[0] == torch.bfloat16
    dtype, reason = choose_dtype(CPU, flags=["avx512_bf16"], capped=True)  # e.g. ATEN_CPU_CAPABILITY=avx2
    assert dtype == torch.float32 and "capped below AVX-512" in reason


def test_threads_follow_the_model_size_unless_overridden():
    assert choose_threads(135_000_000, cores=8)[0] == 1
    assert choose_threads(SMALL_MODEL_PARAMS * 4, cores=8)[0] == 8
    assert choose_threads(135_000_000, 3, cores=8) == (3, "--threads")


@pytest.mark.parametrize(("dtype", "threads", "message"), [
    ("fp16", None, "unknown dtype"), (None, 0, "from 1 to"), (None, 100_000, "from 1 to"), (None, 2**63, "from 1 to")])
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


def test_the_fastest_path_wins_and_a_path_further_from_fp32_must_beat_the_one_before_by_the_margin():
    assert pick_weights({"dense": 0.050, "fp16": 0.027, "int4": 0.030}) == "fp16"
    assert pick_weights({"dense": 0.050, "fp16": 0.040, "int4": 0.020}) == "int4"
    assert pick_weights({"dense": 0.050, "fp16": 0.049}) == "dense"  # 2 % faster: noise, stay nearer fp32
    assert pick_weights({"fp16": 0.030, "int4": 0.020}) == "int4"
    with pytest.raises(ValueError):
        pick_weights({})


def fake_measure(figures: dict[str, tuple[float, float]]):
    """A measurement that returns ``figures`` for the paths asked for, and counts its calls."""
    calls = []

    def measure(paths):
        calls.append(list(paths))
        return {p: figures[p] for p in paths}

    return measure, calls


def test_a_choice_is_measured_once_per_key_and_read_back_from_the_cache(tmp_path):
    cache = tmp_path / "choice.json"
    figures = {"dense": (20.0, 50.0), "fp16": (36.0, 108.0), "int4": (33.0, 77.0)}
    measure, calls = fake_measure(figures)
    choice, cached = choose_weights("machine-a", ["dense", "fp16", "int4"], measure, cache)
    assert (choice.weights, cached) == ("fp16", False) and choice.tok_s["int4"] == (33.0, 77.0)
    again, cached = choose_weights("machine-a", ["dense", "fp16", "int4"], measure, cache)
    assert (again.weights, cached) == ("fp16", True) and len(calls) == 1
    # batch 4 counts too: int4 faster at batch 1, far slower per row at batch 4 -> fp16
    measure_b, _ = fake_measure({"dense": (20.0, 50.0), "fp16": (30.0, 110.0), "int4": (33.0, 60.0)})
    assert choose_weights("machine-b", ["dense", "fp16", "int4"], measure_b, cache)[0].weights == "fp16"
    # a cached path this build no longer offers is measured again
    choice, cached = choose_weights("machine-a", ["dense", "int4"], measure, cache)
    assert (choice.weights, cached) == ("int4", False) and calls[-1] == ["dense", "int4"]


def test_a_corrupt_or_malformed_cache_is_measured_again_and_rewritten(tmp_path):
    cache = tmp_path / "choice.json"
    measure, calls = fake_measure({"dense": (20.0, 50.0), "fp16": (36.0, 108.0)})
    for junk in (b"\x00not json", b'{"k": {"weights": 3}}', b"[]"):
        cache.write_bytes(junk)
        choice, cached = choose_weights("k", ["dense", "fp16"], measure, cache)
        assert (choice.weights, cached) == ("fp16", False)
    assert len(calls) == 3
    assert choose_weights("k", ["dense", "fp16"], measure, cache)[1] is True


def test_the_cache_key_names_the_cpu_torch_its_isa_caps_threads_and_model(tmp_path, monkeypatch):
    for name in runtime.CAP_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"x" * 10)
    base = choice_key(str(model), 1)
    assert choice_key(str(model), 1) == base
    assert choice_key(str(model), 2) != base
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert choice_key(str(model), 1) != base
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    (model / "model.safetensors").write_bytes(b"x" * 11)  # converted again, differently
    assert choice_key(str(model), 1) != base


@pytest.mark.parametrize(("dtype", "weights", "message"), [
    ("fp32", "int4", "--weights int4 computes in bf16: it cannot run with --dtype fp32"),
    ("bf16", "fp16", "--weights fp16 computes in fp32: it cannot run with --dtype bf16"),
    (None, "int3", "unknown weights 'int3': use auto, dense, fp16 or int4"),
])
def test_conflicting_or_unknown_weights_are_one_line_errors(dtype, weights, message):
    with pytest.raises(StarsError, match=message):
        check_overrides(dtype, None, weights)
    check_overrides("auto", None, "fp16")
    check_overrides("bf16", None, "int4")
