#!/usr/bin/env bash
# The test suite: set-up, then lint, byte-compilation and pytest, offline on CPU.
#
#   bash tests/run.sh               # fast tests (slow and GPU tests are skipped, with the reason)
#   bash tests/run.sh --slow        # also the slow end-to-end tests; CI runs this
#   bash tests/run.sh -k grader     # further arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

bash setup.sh
PY=${TRAIN_PYTHON:-.venv/bin/python}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 WANDB_MODE=disabled TOKENIZERS_PARALLELISM=false


"$PY" -m ruff check .
"$PY" -m compileall -q common demo pipeline generation annotate dpo_iteration eval_math bench tests
"$PY" -m pytest "$@"
