#!/usr/bin/env bash
# A verl checkpoint -> a Hugging Face model (verl's model merger) -> the recipe's evaluation (eval_math/eval.sh),
# so a PPO/GRPO row is scored with the same grader, benchmarks, prompt and max tokens as the DPO rows.
#
#   bash ppo_training/export_and_eval.sh RUN_DIR STEP [eval.sh flags ...]
#   bash ppo_training/export_and_eval.sh runs/ppo_qwen25_math_7b 75
#   python -m pipeline compare runs/qwen25_math_7b_dpo runs/ppo_qwen25_math_7b runs/grpo_qwen25_math_7b
#
# Reads RUN_DIR/checkpoints/global_step_STEP/actor (trainer.default_local_dir of run_ppo.sh/run_grpo.sh),
# writes RUN_DIR/step_STEP/model (skipped when it exists) and RUN_DIR/step_STEP/eval, which
# `python -m pipeline compare RUN_DIR` reads. The two commands it runs:
#   $VERL_PYTHON -m verl.model_merger merge --backend fsdp --local_dir CKPT/actor --target_dir RUN_DIR/step_STEP/model
#   bash eval_math/eval.sh RUN_DIR/step_STEP/model RUN_DIR/step_STEP/eval
set -euo pipefail

die() { echo "export_and_eval.sh: $*" >&2; exit 1; }
[[ $# -ge 2 && $1 != -* && $2 =~ ^[0-9]+$ ]] || { sed -n '5,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
run_dir=$1 step=$2
shift 2

repo=$(cd "$(dirname "$0")/.." && pwd)
VERL_PYTHON=${VERL_PYTHON:-$repo/.venv-verl/bin/python}
actor=$run_dir/checkpoints/global_step_$step/actor
model=$run_dir/step_$step/model
# verl prunes old actor saves (trainer.max_actor_ckpt_to_keep) but keeps their global_step_N folders.
kept=$(ls -dv "$run_dir"/checkpoints/global_step_*/actor 2>/dev/null | sed 's|.*/\(global_step_[0-9]*\)/actor$|\1|' \
  | paste -sd ' ' || true)
[[ -d $actor ]] || die "$actor not found (steps with an actor checkpoint: ${kept:-none})"

if [[ -f $model/config.json ]]; then
  echo "export_and_eval.sh: $model exists; not merging again"
else
  # Merged into a temporary folder and renamed, so a killed merge never leaves a model that looks whole.
  rm -rf "$model.tmp"
  "$VERL_PYTHON" -m verl.model_merger merge --backend fsdp --local_dir "$actor" --target_dir "$model.tmp"
  mv "$model.tmp" "$model"
fi
exec bash "$repo/eval_math/eval.sh" "$model" "$run_dir/step_$step/eval" "$@"
