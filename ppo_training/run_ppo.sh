#!/usr/bin/env bash
# The PPO baseline on verl 0.9.1: the original's ppo_training/verl_example.sh (Qwen2.5-Math-7B, 8 GPUs, GAE
# with a critic, KL penalty 0.001 in the reward) on verl 0.9's config names, with this project's prompts
# (prepare_data.py) and grader (reward.py). Every setting is listed, with what it matches, in the README's
# "PPO and GRPO on verl" section.
#
#   python ppo_training/prepare_data.py --dataset_name_or_path RLHFlow/numia_prompt_ppo --split train \
#       --val_dataset_name_or_path RLHFlow/numia_prompt_ppo --val_split test --output_dir data/verl_numina
#   bash ppo_training/run_ppo.sh                                       # one node, 8 GPUs
#   bash ppo_training/run_ppo.sh trainer.total_epochs=1 trainer.save_freq=20   # any verl key=value (Hydra)
#   bash ppo_training/run_ppo.sh --cfg job                             # print verl's resolved config, run nothing
#   bash ppo_training/export_and_eval.sh runs/ppo_qwen25_math_7b 75    # step 75 -> HF model -> eval_math
#   bash ppo_training/run_ppo.sh actor_rollout_ref.actor.fsdp_config.optimizer_offload=False \
#       critic.fsdp.optimizer_offload=False                           # GPUs over 80 GB: Adam state stays there
#
# Environment (defaults): VERL_PYTHON (.venv-verl/bin/python, built by `bash setup.sh --verl`), MODEL
# (Qwen/Qwen2.5-Math-7B), DATA_DIR (data/verl_numina), RUN_NAME (ppo_qwen25_math_7b; checkpoints go to
# runs/$RUN_NAME/checkpoints), NNODES (1), GPUS_PER_NODE (8), REWARD_POLICY/REWARD_WRONG/REWARD_NO_BOX
# (strict_box/0.0/0.0: the original's 0/1 reward; recipe/-0.5/-1.0 for the DPO recipe's), PROJECT, ATTENTION
# (sdpa; flash_attention_2 where flash-attn is installed: verl's padding-free path).
#
# Checkpoints: every 5 steps, the last 2 of the actor and the last of the critic (each ~91 GB for 7B:
# weights, Adam state, scheduler; what a resume needs); export a step before it is pruned, or keep more
# with trainer.max_actor_ckpt_to_keep=N.
#
# Several nodes: verl runs on Ray. Start the cluster, then launch once, on the head node:
#   head node:   ray start --head --port=6379 --num-gpus=8
#   other nodes: ray start --address=HEAD_IP:6379 --num-gpus=8
#   head node:   NNODES=2 bash ppo_training/run_ppo.sh      # verl's ray.init() joins the running cluster
# Every node needs the same paths (repo, .venv-verl, DATA_DIR, and MODEL or the Hub cache) and the same
# environment; the global batch stays 1024 prompts, split over NNODES x GPUS_PER_NODE GPUs.
set -euo pipefail
source "$(dirname "$0")/common.sh"
launch "${RUN_NAME:-ppo_qwen25_math_7b}" \
  algorithm.adv_estimator=gae \
  algorithm.use_kl_in_reward=True \
  algorithm.kl_penalty=kl \
  algorithm.kl_ctrl.type=fixed \
  algorithm.kl_ctrl.kl_coef=0.001 \
  actor_rollout_ref.actor.use_kl_loss=False \
  actor_rollout_ref.rollout.n=1 \
  "critic.model.path=$MODEL" \
  "++critic.model.override_config.attn_implementation=$ATTENTION" \
  critic.model.external_lib=ppo_training.critic_attention \
  "critic.model.use_remove_padding=$REMOVE_PADDING" \
  critic.model.enable_gradient_checkpointing=True \
  critic.optim.lr=1e-5 \
  critic.ppo_micro_batch_size_per_gpu=8 \
  critic.fsdp.param_offload=False \
  critic.fsdp.optimizer_offload=True \
  "$@"
