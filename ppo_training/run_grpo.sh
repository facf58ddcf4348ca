#!/usr/bin/env bash
# The GRPO baseline on verl 0.9.1: run_ppo.sh's data, lengths, learning rate and KL coefficient, with
# n=8 responses per prompt, group-normalised advantages and no critic; the KL term is verl's GRPO form (a
# low-variance KL loss on the actor, coefficient 0.001) rather than a penalty in the reward.
#
#   bash ppo_training/run_grpo.sh                                      # one node, 8 GPUs
#   bash ppo_training/run_grpo.sh data.train_batch_size=128 actor_rollout_ref.actor.ppo_mini_batch_size=32
#                                      # 1024 responses per step, as PPO samples (the default samples 8192)
#   bash ppo_training/run_grpo.sh --cfg job                            # print verl's resolved config, run nothing
#   bash ppo_training/export_and_eval.sh runs/grpo_qwen25_math_7b 75
#
# Environment and several nodes: as in run_ppo.sh (RUN_NAME defaults to grpo_qwen25_math_7b).
set -euo pipefail
source "$(dirname "$0")/common.sh"
launch "${RUN_NAME:-grpo_qwen25_math_7b}" \
  algorithm.adv_estimator=grpo \
  algorithm.use_kl_in_reward=False \
  actor_rollout_ref.rollout.n=8 \
  actor_rollout_ref.actor.use_kl_loss=True \
  actor_rollout_ref.actor.kl_loss_coef=0.001 \
  actor_rollout_ref.actor.kl_loss_type=low_var_kl \
  actor_rollout_ref.actor.entropy_coeff=0 \
  "$@"
