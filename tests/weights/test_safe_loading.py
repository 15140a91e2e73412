"""One safe loader for every model folder: no folder's code runs, no declared size is trusted.

The in-process loaders are tested in ``test_model_folders.py``; here the
worker process, the rule that nothing else in stars calls ``from_pretrained``,
and a config that declares far more weights than its files hold.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import stars_engine
import stars_tui
from stars_engine.backends.local.load import load_policy, load_reward
from stars_engine.backends.spec import ModelSpec
from stars_engine.backends.worker.process import start
from stars_engine.errors import StarsError
from stars_engine.weights.safe_load import check_model, declared_weights, pretrained

from . import model_folders

PACKAGES = [Path(stars_engine.__file__).parent, Path(stars_tui.__file__).parent]


@pytest.mark.parametrize("field", ["model", "reward"])
def test_the_worker_process_refuses_a_folders_own_python(tmp_path, field):
    folder = model_folders.custom_tokenizer(tmp_path)
    with pytest.raises(StarsError, match="needs custom code, which stars does not run") as info:
        start(ModelSpec(**{field: str(folder)}))
    assert "\n" not in str(info.value)
    assert not (folder / "RAN").exists()


def test_only_the_safe_loader_calls_from_pretrained():
    """A new ``from_pretrained`` elsewhere would bypass ``trust_remote_code=False``: it must go
    through ``safe_load.pretrained``. Nothing may ever pass ``trust_remote_code=True``."""
    callers, trusting = [], []
    for package in PACKAGES:
        for path in package.rglob("*.py"):
            text = path.read_text()
            if re.search(r"\.from_pretrained\(", text) and path.name != "safe_load.py":
                callers.append(str(path))
            if re.search(r"trust_remote_code\s*=\s*True", text):
                trusting.append(str(path))
    assert callers == [] and trusting == []


def tiny_folder(root: Path, **declared) -> Path:
    """A real tiny causal LM saved to ``root``; ``declared`` then overwrites its config.json fields."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(**{k: v for k, v in model_folders.TINY_LLAMA.items() if k not in ("model_type",
                                                                                          "architectures")})
    LlamaForCausalLM(config).save_pretrained(root)
    if declared:
        data = json.loads((root / "config.json").read_text())
        (root / "config.json").write_text(json.dumps({**data, **declared}))
    return root


@pytest.mark.parametrize("declared", [
    {"hidden_size": 2**20, "intermediate_size": 2**22, "num_hidden_layers": 4, "num_attention_heads": 2},
    {"vocab_size": 2**30},
    {"num_hidden_layers": 10**9},
], ids=["wide", "vocabulary", "deep"])
@pytest.mark.parametrize("loader", [load_policy, load_reward])
def test_a_config_declaring_more_weights_than_its_files_hold_is_refused_before_loading(tmp_path, declared, loader):
    folder = tiny_folder(tmp_path, **declared)
    with pytest.raises(StarsError, match=r"config.json declares at least [\d,]+ weights, but its weight files "
                                         r"\([\d,]+ bytes\) hold at most") as info:
        loader(str(folder))
    assert str(folder) in str(info.value) and "\n" not in str(info.value)


def test_a_folder_whose_weights_match_its_config_loads(tmp_path):
    from transformers import AutoModelForCausalLM

    folder = tiny_folder(tmp_path)
    assert check_model(str(folder), "chat model") == str(folder.resolve())
    model = pretrained(AutoModelForCausalLM, str(folder), "chat model")
    assert sum(p.numel() for p in model.parameters()) >= declared_weights(model.config) > 0


def test_a_tokenizer_only_folder_is_not_refused_for_its_size(tmp_path):
    """Beside --server, --model may name a folder with no weights at all: nothing is allocated from it."""
    (tmp_path / "config.json").write_text(json.dumps({**model_folders.TINY_LLAMA, "hidden_size": 2**20}))
    assert check_model(str(tmp_path), "chat model") == str(tmp_path.resolve())
