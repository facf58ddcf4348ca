#!/usr/bin/env bash
# Create or update the project's environments. Idempotent: a stamp of the requirement files' hash
# makes a second run return at once.
#
#   bash setup.sh                      # .venv (training/CPU); also .venv-vllm where an NVIDIA GPU is present
#   PYTHON=python3.12 bash setup.sh    # build the environments with another interpreter
#   bash setup.sh --verl               # also .venv-verl (PPO/GRPO on verl): requirements_verl.txt, or
#                                      # requirements_verl_gpu.txt where an NVIDIA GPU is present; verl
#                                      # needs Python < 3.13 (PYTHON=python3.12 bash setup.sh --verl)
#   VERL_PYTHON=/path/to/python bash setup.sh --verl   # a verl environment you manage: nothing installed
#   TRAIN_PYTHON=/opt/conda/envs/train/bin/python GEN_PYTHON=... bash setup.sh
#                                      # use environments you manage yourself: nothing is installed
set -euo pipefail
cd "$(dirname "$0")"

die() { echo "setup.sh: $*" >&2; exit 1; }

WITH_VERL=0
for arg in "$@"; do
  case $arg in
    --verl) WITH_VERL=1 ;;
    *) die "unknown argument '$arg' (usage: bash setup.sh [--verl])" ;;
  esac
done

check_python() {  # $1: interpreter; fails with one line if it is unusable
  command -v "$1" >/dev/null 2>&1 || die "Python interpreter '$1' not found (set PYTHON=/path/to/python3.11+)"
  [[ $("$1" -c 'import sys; print(sys.version_info >= (3, 11))' 2>/dev/null) == True ]] \
    || die "'$1' is not Python >= 3.11 ($("$1" --version 2>&1 | head -1)), which vllm 0.33, transformers 5.24 and trl 1.16 require"
}

# GPU presence is part of the stamp: an environment built on a machine without one is rebuilt (and its
# torch checked for CUDA) the first time setup.sh runs where there is one.
stamp_of() { { cat "$@" pyproject.toml; echo "nvidia_gpu=$NVIDIA_GPU"; } | sha256sum | cut -d' ' -f1; }

# With an NVIDIA GPU, a torch without CUDA would run every rank on the CPU without a word; pip takes a
# "+cpu" wheel of the pinned version over PyPI's CUDA build wherever it can see one (a find-links folder,
# a mirror). A torch whose CUDA the driver cannot run is the same failure, found later.
check_cuda_torch() {  # $1: interpreter, $2: its name in messages
  local info version cuda usable
  info=$("$1" -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available())' 2>/dev/null \
    | tail -n 1) || die "$2: 'import torch' fails with $1"
  read -r version cuda usable <<<"$info"
  [[ $cuda != None ]] || die "$2 has torch $version, a build without CUDA, on a machine with an NVIDIA GPU;" \
    "install the CUDA build: $1 -m pip install 'torch==${version%%+*},!=${version%%+*}+cpu', then run setup.sh again"
  [[ $usable == True ]] || die "$2's torch $version (CUDA $cuda) cannot use the GPU: the NVIDIA driver must" \
    "support CUDA $cuda (driver >= 580 for CUDA 13.0; nvidia-smi shows the highest CUDA it supports)"
}

venv_is_current() {  # $1: venv dir, $2: requirements file
  [[ -x $1/bin/python && -f $1/.setup-stamp && $(cat "$1/.setup-stamp") == "$(stamp_of "$2")" ]]
}

make_venv() {  # $1: venv dir, $2: requirements file, $3: "editable" to install the project too
  local venv=$1 req=$2 stamp
  stamp=$(stamp_of "$req")
  if venv_is_current "$venv" "$req"; then
    echo "setup.sh: $venv is up to date"
    return
  fi
  check_python "$PYTHON"
  "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null \
    || die "'$PYTHON' lacks venv/ensurepip (Debian: apt-get install python3-venv)"
  echo "setup.sh: installing $req into $venv (a few minutes the first time)"
  [[ -x $venv/bin/python ]] || "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip --version >/dev/null 2>&1 || die "pip is missing in $venv (python -m ensurepip failed)"
  # pip warns about every mirror location it skips; keep errors, drop that noise.
  "$venv/bin/python" -m pip install -q -r "$req" 2> >(grep -v "is ignored: it is neither a file" >&2)
  if [[ ${3:-} == editable ]]; then
    "$venv/bin/python" -m pip install -q --no-deps --no-build-isolation -e . 2> >(grep -v "is ignored" >&2)
  fi
  if [[ $NVIDIA_GPU == 1 ]]; then check_cuda_torch "$venv/bin/python" "$venv"; fi
  echo "$stamp" >"$venv/.setup-stamp"
  echo "setup.sh: $venv ready"
}

if [[ -n ${PYTHON:-} ]]; then check_python "$PYTHON"; else PYTHON=python3; fi

has_nvidia_gpu() { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; }
if has_nvidia_gpu; then NVIDIA_GPU=1; else NVIDIA_GPU=0; fi
if [[ $NVIDIA_GPU == 1 ]]; then VERL_REQUIREMENTS=requirements_verl_gpu.txt; else VERL_REQUIREMENTS=requirements_verl.txt; fi

# verl 0.9.1 declares Python < 3.13 (pip would find "no matching distribution"): checked before anything
# is built, for the interpreter that would build .venv-verl or the one you manage.
check_verl_python() {  # $1: interpreter, $2: its name in the message
  [[ $("$1" -c 'import sys; print(sys.version_info < (3, 13))' 2>/dev/null) == True ]] \
    || die "$2 '$1' is $("$1" --version 2>&1 | head -1), but verl 0.9.1 needs Python < 3.13: run" \
      "PYTHON=python3.12 bash setup.sh --verl (or VERL_PYTHON=/path/to/python3.12 for an environment you manage)"
}
if [[ $WITH_VERL == 1 && -n ${VERL_PYTHON:-} ]]; then
  check_verl_python "$VERL_PYTHON" VERL_PYTHON
elif [[ $WITH_VERL == 1 ]] && ! venv_is_current .venv-verl "$VERL_REQUIREMENTS"; then
  check_verl_python "$PYTHON" PYTHON
fi

if [[ -n ${TRAIN_PYTHON:-} ]]; then
  check_python "$TRAIN_PYTHON"
  if [[ $NVIDIA_GPU == 1 ]]; then check_cuda_torch "$TRAIN_PYTHON" TRAIN_PYTHON; fi
  echo "setup.sh: TRAIN_PYTHON=$TRAIN_PYTHON is managed by you; nothing installed"
else
  make_venv .venv requirements_train.txt editable
fi

if [[ -n ${GEN_PYTHON:-} ]]; then
  check_python "$GEN_PYTHON"
  if [[ $NVIDIA_GPU == 1 ]]; then check_cuda_torch "$GEN_PYTHON" GEN_PYTHON; fi
  echo "setup.sh: GEN_PYTHON=$GEN_PYTHON is managed by you; nothing installed"
elif has_nvidia_gpu; then
  make_venv .venv-vllm requirements_vllm.txt editable
else
  echo "setup.sh: no NVIDIA GPU; generation runs with the hf engine in .venv (no .venv-vllm)"
fi

# PPO/GRPO (ppo_training/), only when asked: verl pins its own transformers and, on GPUs, its own torch
# and vLLM (several GB that the DPO loop does not need).
if [[ $WITH_VERL == 1 && -n ${VERL_PYTHON:-} ]]; then
  check_python "$VERL_PYTHON"
  if [[ $NVIDIA_GPU == 1 ]]; then check_cuda_torch "$VERL_PYTHON" VERL_PYTHON; fi
  echo "setup.sh: VERL_PYTHON=$VERL_PYTHON is managed by you; nothing installed"
elif [[ $WITH_VERL == 1 ]]; then
  make_venv .venv-verl "$VERL_REQUIREMENTS" editable
fi
