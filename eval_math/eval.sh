#!/usr/bin/env bash
# The recipe's benchmark evaluation in one command: MATH500, AIME24, AMC23, Minerva Math and
# OlympiadBench with Qwen2.5-Math's CoT prompt, greedy decoding (pass@1), up to 3000 new tokens, vLLM.
#
#   bash eval_math/eval.sh MODEL OUTPUT_DIR [--key value ...]
#   bash eval_math/eval.sh Qwen/Qwen2.5-Math-7B runs/eval/qwen25-math-7b --data_dir ../shared/benchmarks
#
# Extra flags go to eval_math/evaluate.py and override the ones below (e.g. --data_dir for local copies
# instead of the Hub, --tensor_parallel_size 2). The table lands in OUTPUT_DIR/summary.md; benchmarks
# already evaluated there are skipped unless --overwrite. Python: $GEN_PYTHON, else .venv-vllm (GPU
# machines), else .venv.
set -euo pipefail

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ $# -ge 2 && $1 != -* && $2 != -* ]] || usage
model=$1 output_dir=$2
shift 2

repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/common/gen_python.sh"
py=$(gen_python "$repo")

# Qwen2.5-Math-7B has a 4096-token context: the prompt plus 3000 new tokens fits, as in the recipe.
export TOKENIZERS_PARALLELISM=false
exec "$py" "$repo/eval_math/evaluate.py" \
  --model_name_or_path "$model" --output_dir "$output_dir" \
  --data_names math500,aime24,amc23,minerva_math,olympiadbench --split test \
  --prompt_type qwen25-math-cot --n_sampling 1 --temperature 0 --top_p 1 \
  --max_tokens_per_call 3000 --num_test_sample -1 --seed 0 --engine auto \
  "$@"
