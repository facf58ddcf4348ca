# Sourced by run_ppo.sh and run_grpo.sh: the environment, the checks before launch, and the verl 0.9.1
# overrides both baselines share (the original's ppo_training/verl_example.sh, key by key; see README).
# Defines die and `launch RUN_NAME OVERRIDE...` (verl's main_ppo with the shared overrides, then these).

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERL_PYTHON=${VERL_PYTHON:-$REPO/.venv-verl/bin/python}
MODEL=${MODEL:-Qwen/Qwen2.5-Math-7B}
DATA_DIR=${DATA_DIR:-$REPO/data/verl_numina}
NNODES=${NNODES:-1}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
# The original PPO's reward was verl's MATH scorer: 1 for an equivalent answer in a \boxed{}, else 0.
# strict_box with 1/0/0 is that rule on this project's grader; REWARD_POLICY=recipe REWARD_WRONG=-0.5
# REWARD_NO_BOX=-1.0 gives the DPO recipe's labels instead.
REWARD_POLICY=${REWARD_POLICY:-strict_box}
REWARD_WRONG=${REWARD_WRONG:-0.0}
REWARD_NO_BOX=${REWARD_NO_BOX:-0.0}
PROJECT=${PROJECT:-online-dpo-math}

[[ -x $VERL_PYTHON ]] || die "VERL_PYTHON=$VERL_PYTHON is not an executable interpreter (run: bash setup.sh --verl)"
# find_spec, not import: importing verl takes seconds, and main_ppo imports it anyway.
"$VERL_PYTHON" -c "import importlib.util as u, sys; sys.exit(not (u.find_spec('verl') and u.find_spec('annotate')))" \
  || die "$VERL_PYTHON cannot import verl and this project (bash setup.sh --verl, or pip install -e . --no-deps there)"
for split in train val; do
  [[ -f $DATA_DIR/$split.parquet ]] || die "$DATA_DIR/$split.parquet not found (python ppo_training/prepare_data.py ... --output_dir $DATA_DIR)"
done
# The attention kernel of the actor, the reference and the critic (vLLM, the rollout, picks its own). verl
# asks transformers for flash_attention_2 unless the model's override_config names another
# (verl/workers/config/model.py), and that needs the flash-attn package, which compiles against the
# installed torch wherever no prebuilt wheel matches. sdpa is PyTorch's own. verl's padding removal packs
# a micro-batch into one sequence: flash-attn keeps the sequences apart by their lengths, sdpa only through
# a (tokens x tokens) mask, which for 32 responses of 4000 tokens would be 16 GB; sdpa gets padded
# micro-batches instead.
ATTENTION=${ATTENTION:-sdpa}
case $ATTENTION in
  sdpa) REMOVE_PADDING=False ;;
  flash_attention_2)
    REMOVE_PADDING=True
    "$VERL_PYTHON" -c "import flash_attn" 2>/dev/null || die "ATTENTION=flash_attention_2 needs the flash-attn" \
      "package in $VERL_PYTHON ($VERL_PYTHON -m pip install flash-attn==2.8.3 --no-build-isolation), or ATTENTION=sdpa" ;;
  *) die "ATTENTION must be sdpa or flash_attention_2, got '$ATTENTION'" ;;
esac
# verl's wandb logger runs in Ray workers: without an API key it logs offline instead of asking for a login.
[[ -n ${WANDB_API_KEY:-} ]] || export WANDB_MODE=${WANDB_MODE:-offline}
export TOKENIZERS_PARALLELISM=${TOKENIZERS_PARALLELISM:-false}

SHARED_OVERRIDES=(
  "data.train_files=['$DATA_DIR/train.parquet']"
  "data.val_files=['$DATA_DIR/val.parquet']"
  data.train_batch_size=1024
  data.max_prompt_length=1024
  # A response stops at 4000 tokens or where prompt + response fill the model's context (verl's vLLM
  # rollout caps max_tokens at max_model_len - prompt; max_model_len defaults to max_position_embeddings,
  # 4096 for Qwen2.5-Math-7B): a prompt of p tokens leaves min(4000, 4096 - p).
  data.max_response_length=4000
  # the verl of the original dropped prompts over max_prompt_length by default; 0.9.1 needs the flag
  data.filter_overlong_prompts=True
  data.truncation=error
  "actor_rollout_ref.model.path=$MODEL"
  "++actor_rollout_ref.model.override_config.attn_implementation=$ATTENTION"
  "actor_rollout_ref.model.use_remove_padding=$REMOVE_PADDING"
  actor_rollout_ref.model.enable_gradient_checkpointing=True
  actor_rollout_ref.actor.optim.lr=1e-6
  actor_rollout_ref.actor.ppo_mini_batch_size=256
  actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4
  actor_rollout_ref.actor.fsdp_config.param_offload=False
  # Adam's state waits in CPU memory while vLLM samples (the original kept it on the GPU): there, the actor's
  # and the critic's fp32 weights and Adam state (23 GB per GPU of 8, ~30 with gradients) beside vLLM's
  # 0.6 x 80 GB would leave a few GB for activations.
  # GPUs with more memory: actor_rollout_ref.actor.fsdp_config.optimizer_offload=False
  # critic.fsdp.optimizer_offload=False.
  actor_rollout_ref.actor.fsdp_config.optimizer_offload=True
  actor_rollout_ref.rollout.name=vllm
  actor_rollout_ref.rollout.tensor_model_parallel_size=2
  actor_rollout_ref.rollout.gpu_memory_utilization=0.6
  actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=32
  actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=32
  actor_rollout_ref.ref.fsdp_config.param_offload=True
  "reward.custom_reward_function.path=$REPO/ppo_training/reward.py"
  reward.custom_reward_function.name=compute_score
  "++reward.custom_reward_function.reward_kwargs.reward_policy=$REWARD_POLICY"
  "++reward.custom_reward_function.reward_kwargs.reward_wrong=$REWARD_WRONG"
  "++reward.custom_reward_function.reward_kwargs.reward_no_box=$REWARD_NO_BOX"
  trainer.critic_warmup=0
  "trainer.logger=[console,wandb]"
  "trainer.project_name=$PROJECT"
  "trainer.n_gpus_per_node=$GPUS_PER_NODE"
  "trainer.nnodes=$NNODES"
  trainer.save_freq=5
  # A save holds what a resume needs: the actor's fp32 weights, Adam state and scheduler/RNG (~91 GB for
  # 7B), the critic's the same. verl deletes older saves beyond these counts (those of the running
  # process; saves from before a restart stay).
  "actor_rollout_ref.actor.checkpoint.save_contents=[model,optimizer,extra]"
  trainer.max_actor_ckpt_to_keep=2
  trainer.max_critic_ckpt_to_keep=1
  trainer.test_freq=5
  trainer.total_epochs=15
)

launch() {  # RUN_NAME OVERRIDE...: checkpoints go to runs/RUN_NAME/checkpoints; later overrides win (Hydra)
  local run_name=$1
  shift
  exec "$VERL_PYTHON" -m verl.trainer.main_ppo "${SHARED_OVERRIDES[@]}" \
    "trainer.experiment_name=$run_name" "trainer.default_local_dir=$REPO/runs/$run_name/checkpoints" "$@"
}
