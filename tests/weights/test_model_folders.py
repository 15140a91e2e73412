"""A model folder is data, never code; a broken one is one line (no weights are loaded here)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stars_engine.backends.local.load import load_policy, load_reward, pick_device
from stars_engine.errors import StarsError

from . import model_folders


def test_a_folders_own_python_never_runs_even_when_y_is_piped_in(tmp_path):
    folder = model_folders.custom_code(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "stars_tui", "run", "hi", "--model", str(folder), "--no-save"],
                          input="y\ny\n", capture_output=True, text=True, timeout=300)
    assert not (folder / "RAN").exists()
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "needs custom code, which stars does not run" in proc.stderr
    assert "cache" not in proc.stderr


@pytest.mark.parametrize("loader", [load_policy, load_reward])
@pytest.mark.parametrize("make", [model_folders.custom_code, model_folders.custom_tokenizer])
def test_custom_code_is_refused_by_every_loader(tmp_path, loader, make):
    """Refused without asking: a prompt would read pytest's stdin, which raises, and the message would differ."""
    folder = make(tmp_path)
    with pytest.raises(StarsError, match="needs custom code, which stars does not run"):
        loader(str(folder))
    assert not (folder / "RAN").exists()


@pytest.mark.parametrize("loader", [load_policy, load_reward])
@pytest.mark.parametrize("name", sorted(model_folders.BROKEN))
def test_a_broken_folder_is_a_one_line_error_naming_the_folder(tmp_path, loader, name):
    folder = model_folders.BROKEN[name](tmp_path)
    with pytest.raises(StarsError, match=f"cannot load (chat|reward) model from {folder}") as info:
        loader(str(folder))
    assert "cache" not in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("device", ["mps", "meta", "cuda:7", "xpu", "nonsense", "cuda:x"])
def test_a_device_this_build_lacks_is_refused(device):
    with pytest.raises(StarsError, match="device"):
        pick_device(device)
