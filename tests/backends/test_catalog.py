"""The catalog of models the workbench can switch to: read from a hub-style cache, never run."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from hub_cache import COMMIT, config_only_cache, snapshot, write_config

from stars_engine.backends.catalog import BUNDLED_CHAT, BUNDLED_REWARD, catalog, hub_cache
from stars_engine.backends.spec import ModelSpec
from stars_engine.errors import StarsError


def labels(choices) -> list[str]:
    return [choice.label for choice in choices]


def test_lists_the_bundled_models_and_the_causal_lms_and_one_output_classifiers_in_the_cache(tmp_path):
    config_only_cache(tmp_path)
    found = catalog(ModelSpec(), tmp_path)
    assert labels(found.chat) == [BUNDLED_CHAT, "acme/[b]odd-chat", "acme/tiny-chat"]
    assert labels(found.reward) == [BUNDLED_REWARD, "acme/tiny-rm"]  # not the two-label classifier
    assert found.problems == []
    assert [c.source for c in found.chat] == ["bundled", "cache", "cache"]


def test_a_cached_model_is_picked_by_its_snapshot_folder_and_marked_current_once_picked(tmp_path):
    folders = config_only_cache(tmp_path)
    start = ModelSpec(server=["http://127.0.0.1:1"], served_model="m")
    tiny = next(c for c in catalog(ModelSpec(), tmp_path).chat if c.label == "acme/tiny-chat")
    picked = tiny.apply(start)
    assert picked.model == str(folders["acme/tiny-chat"]) and picked.server is None and picked.served_model is None
    found = catalog(picked, tmp_path)
    assert [c.current(picked) for c in found.chat] == [False, False, True]
    assert [c.current(picked) for c in found.reward] == [True, False]  # the bundled reward, unchanged


def test_a_reward_model_from_the_cache_drops_the_rubric_and_the_bundled_one_keeps_the_start_rubric(tmp_path):
    folders = config_only_cache(tmp_path)
    start = ModelSpec(rubric=Path("my-rubric.json"))
    bundled, rm = catalog(start, tmp_path).reward
    chosen = rm.apply(start)
    assert chosen.reward == str(folders["acme/tiny-rm"]) and chosen.rubric is None
    assert bundled.apply(chosen) == start


def test_the_model_given_at_start_is_listed_when_it_is_not_in_the_cache(tmp_path):
    start = ModelSpec(model="/models/mine", reward="/models/rm")
    found = catalog(start, tmp_path / "no-cache")
    assert labels(found.chat) == [BUNDLED_CHAT, "/models/mine"] and found.chat[-1].current(start)
    assert labels(found.reward) == [BUNDLED_REWARD, "/models/rm"] and found.reward[-1].current(start)


def test_a_broken_config_is_one_problem_line_and_the_rest_is_listed(tmp_path):
    config_only_cache(tmp_path)
    (snapshot(tmp_path, "acme/broken") / "config.json").write_text("{not json")
    write_config(snapshot(tmp_path, "acme/odd-shape"), {"architectures": "LlamaForCausalLM"})
    os.mkfifo(snapshot(tmp_path, "acme/fifo") / "config.json")  # would block a plain read forever
    found = catalog(ModelSpec(), tmp_path)
    assert "acme/tiny-chat" in labels(found.chat)
    assert len(found.problems) == 3
    broken, fifo, odd = sorted(found.problems)
    assert broken.startswith("acme/broken: ") and "not JSON" in broken
    assert fifo.startswith("acme/fifo: ") and "a FIFO, not a regular file" in fifo
    assert odd.startswith("acme/odd-shape: ") and "architectures" in odd
    assert all("\n" not in line for line in found.problems)


def test_without_refs_main_the_newest_snapshot_with_a_config_counts(tmp_path):
    old = write_config(snapshot(tmp_path, "acme/lm", "a" * 40, main=False), {"architectures": ["BertModel"]})
    new = write_config(snapshot(tmp_path, "acme/lm", "b" * 40, main=False), {"architectures": ["LlamaForCausalLM"]})
    os.utime(old, (1, 1))
    found = catalog(ModelSpec(), tmp_path)
    assert [c.changes.get("model") for c in found.chat] == [None, str(new)]


def test_the_cache_is_found_where_huggingface_hub_looks(monkeypatch, tmp_path):
    for name in ("HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub_cache() == tmp_path / "xdg" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert hub_cache() == tmp_path / "home" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert hub_cache() == tmp_path / "hub"
    snapshot(tmp_path / "hub", "acme/x", COMMIT)
    write_config(tmp_path / "hub" / "models--acme--x" / "snapshots" / COMMIT, {"architectures": ["LlamaForCausalLM"]})
    assert labels(catalog(ModelSpec()).chat) == [BUNDLED_CHAT, "acme/x"]


def test_a_server_that_is_down_is_a_problem_line_or_with_strict_the_error(tmp_path):
    spec = ModelSpec(server=["http://127.0.0.1:9"], served_model="m", reward_server="http://127.0.0.1:9")
    found = catalog(spec, tmp_path)
    assert len(found.problems) == 2 and all("127.0.0.1:9" in line for line in found.problems)
    with pytest.raises(StarsError, match="not reachable"):
        catalog(spec, tmp_path, strict=True)


def test_stars_models_list_prints_the_catalog_as_json(monkeypatch, tmp_path, capsys):
    from typer.testing import CliRunner

    from stars_tui.cli import app

    config_only_cache(tmp_path)
    result = CliRunner().invoke(app, ["models", "--list", "--json"], env={"HF_HUB_CACHE": str(tmp_path)})
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["models"]
    assert [(r["kind"], r["label"], r["current"]) for r in rows] == [
        ("chat", BUNDLED_CHAT, True), ("chat", "acme/[b]odd-chat", False), ("chat", "acme/tiny-chat", False),
        ("reward", BUNDLED_REWARD, True), ("reward", "acme/tiny-rm", False)]


def test_what_the_servers_serve_is_listed_and_picking_it_keeps_the_start_tokenizer(tmp_path):
    from .served.fake_server import fake_server, ok

    models = {"data": [{"id": "chat-a", "root": "/srv/a"}, {"id": "chat-b"}]}
    with fake_server(lambda path, n: ok(models)) as (chat_url, _), \
            fake_server(lambda path, n: ok({"data": [{"id": "rm"}]})) as (reward_url, _):
        start = ModelSpec(model="/tok", server=[chat_url], served_model="chat-a", reward_server=reward_url)
        found = catalog(start, tmp_path)
    assert labels(found.chat) == [BUNDLED_CHAT, f"chat-a on {chat_url}", f"chat-b on {chat_url}"]
    assert [c.current(start) for c in found.chat] == [False, True, False]
    b = found.chat[2].apply(replace(start, model=None, server=None))  # back from a local model
    assert (b.server, b.served_model, b.model) == ([chat_url], "chat-b", "/tok")
    assert labels(found.reward) == [BUNDLED_REWARD, f"rm on {reward_url}"]
    assert [c.current(start) for c in found.reward] == [False, True]  # the server's only one, left unnamed
    assert found.problems == []


def test_a_server_that_lies_about_its_models_is_one_problem_line(tmp_path):
    from .served.fake_server import fake_server, ok

    with fake_server(lambda path, n: ok({"data": [{"id": 7}]})) as (url, _):
        found = catalog(ModelSpec(server=[url]), tmp_path)
    assert labels(found.chat) == [BUNDLED_CHAT, f"served model on {url}"]  # the given one, still listed
    [problem] = found.problems
    assert url in problem and "\n" not in problem
