#!/usr/bin/env bash
# The test suite: set-up, then lint, byte-compilation and pytest, offline on CPU.
#
#   bash tests/run.sh               # fast tests (slow and GPU tests are skipped, with the reason)
#   bash tests/run.sh --slow        # also the slow end-to-end tests, and tests/test_ppo.py in .venv-verl
#                                   # (built by `bash setup.sh --verl`, ~2 min the first time); CI runs this
#   bash tests/run.sh --gpu         # also the GPU tests (tests/test_gpu.py: 2-GPU ZeRO-3 DPO, the micro run
#                                   # with vLLM); they skip, saying why, without NVIDIA GPUs. A bare GPU
#                                   # machine (no network) runs tests/gpu_smoke.sh instead
#   bash tests/run.sh -k grader     # further arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

bash setup.sh
PY=${TRAIN_PYTHON:-.venv/bin/python}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 WANDB_MODE=disabled TOKENIZERS_PARALLELISM=false


"$PY" -m ruff check .
"$PY" -m compileall -q common demo pipeline generation annotate dpo_iteration eval_math ppo_training bench tests
"$PY" -m pytest "$@"
# verl pins its own transformers and hydra: its tests (PPO/GRPO data, reward, launch config) run in .venv-verl.
if [[ " $* " == *" --slow "* ]]; then
  [[ -n ${VERL_PYTHON:-} ]] || bash setup.sh --verl
  "${VERL_PYTHON:-.venv-verl/bin/python}" -m pytest tests/test_ppo.py --slow
fi
