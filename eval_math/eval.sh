#!/usr/bin/env bash
# The recipe's benchmark evaluation in one command: MATH500, AIME24, AMC23, Minerva Math and
# OlympiadBench (bundled in eval_math/data) with the recipe's prompt (online-dpo-r1, the one it trains
# on), greedy decoding (pass@1), up to 3000 new tokens (the published table's setting), vLLM.
#   bash eval_math/eval.sh MODEL OUTPUT_DIR [--key value ...]
#   bash eval_math/eval.sh Qwen/Qwen2.5-Math-7B runs/eval/qwen25-math-7b --prompt_type qwen25-math-cot
# These settings are evaluate.py's defaults, set there and nowhere else (`evaluate.py --help`); extra flags
# go to it (--prompt_type qwen25-math-cot for Qwen's own prompt, --data_dir hub for the Hub copies,
# --tensor_parallel_size 2). The table lands in OUTPUT_DIR/summary.md; benchmarks already evaluated
# there are skipped unless --overwrite.
# Python: $GEN_PYTHON, else .venv-vllm (GPU machines), else .venv.
set -euo pipefail

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }
if [[ ${1:-} == -h || ${1:-} == --help ]]; then usage; exit 0; fi
if [[ $# -lt 2 || $1 == -* || $2 == -* ]]; then usage >&2; exit 2; fi
model=$1 output_dir=$2
shift 2

repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/common/gen_python.sh"
py=$(gen_python "$repo")

# evaluate.py's defaults are the original's eval_math/sh/eval.sh: its five benchmarks, 3000 new tokens
# (its sampling allows 4096), seed 0, greedy.
export TOKENIZERS_PARALLELISM=false
exec "$py" "$repo/eval_math/evaluate.py" --model_name_or_path "$model" --output_dir "$output_dir" "$@"
