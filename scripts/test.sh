#!/usr/bin/env bash
# Every test, as CI runs them (after `scripts/setup.sh --dev`):
#   0. ruff and mypy (the type contracts of stars_engine);
#   1. the suite that needs no server (the real default models, SQLite, the TUI);
#   2. the served chat backend's tests against one real vLLM server (.venv-vllm);
#   3. the served reward's tests, in a session of their own once the chat server has stopped,
#      so that at most two vLLM servers share the two cores at once.
# Each pytest session starts the servers it needs and always stops them. Extra arguments go to
# every session (e.g. -x).
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
# the contracts first: a lint or type error fails before any test starts
.venv/bin/ruff check .
$py -m mypy
$py -m pytest -q "$@"
$py -m pytest -q -m served tests/backends/served --ignore=tests/backends/served/test_served_reward.py "$@"
$py -m pytest -q -m served tests/backends/served/test_served_reward.py "$@"
