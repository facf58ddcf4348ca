#!/usr/bin/env bash
# Create or update the project's environments. Idempotent: a stamp of the requirement files' hash
# makes a second run return at once.
#
#   bash setup.sh                      # .venv (training/CPU); also .venv-vllm where an NVIDIA GPU is present
#   PYTHON=python3.12 bash setup.sh    # build the environments with another interpreter
#   TRAIN_PYTHON=/opt/conda/envs/train/bin/python GEN_PYTHON=... bash setup.sh
#                                      # use environments you manage yourself: nothing is installed
set -euo pipefail
cd "$(dirname "$0")"

die() { echo "setup.sh: $*" >&2; exit 1; }

check_python() {  # $1: interpreter; fails with one line if it is unusable
  command -v "$1" >/dev/null 2>&1 || die "Python interpreter '$1' not found (set PYTHON=/path/to/python3.10+)"
  [[ $("$1" -c 'import sys; print(sys.version_info >= (3, 10))' 2>/dev/null) == True ]] \
    || die "'$1' is not Python >= 3.10 ($("$1" --version 2>&1 | head -1))"
}

stamp_of() { cat "$@" pyproject.toml | sha256sum | cut -d' ' -f1; }

make_venv() {  # $1: venv dir, $2: requirements file, $3: "editable" to install the project too
  local venv=$1 req=$2 stamp
  stamp=$(stamp_of "$req")
  if [[ -x $venv/bin/python && -f $venv/.setup-stamp && $(cat "$venv/.setup-stamp") == "$stamp" ]]; then
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
  echo "$stamp" >"$venv/.setup-stamp"
  echo "setup.sh: $venv ready"
}

if [[ -n ${PYTHON:-} ]]; then check_python "$PYTHON"; else PYTHON=python3; fi

has_nvidia_gpu() { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; }

if [[ -n ${TRAIN_PYTHON:-} ]]; then
  check_python "$TRAIN_PYTHON"
  echo "setup.sh: TRAIN_PYTHON=$TRAIN_PYTHON is managed by you; nothing installed"
else
  make_venv .venv requirements_train.txt editable
fi

if [[ -n ${GEN_PYTHON:-} ]]; then
  check_python "$GEN_PYTHON"
  echo "setup.sh: GEN_PYTHON=$GEN_PYTHON is managed by you; nothing installed"
elif has_nvidia_gpu; then
  make_venv .venv-vllm requirements_vllm.txt editable
else
  echo "setup.sh: no NVIDIA GPU; generation runs with the hf engine in .venv (no .venv-vllm)"
fi
