#!/usr/bin/env bash
# Iterative DPO (or RAFT) with rule-based rewards: sample K responses per prompt -> grade -> pair -> train
# -> evaluate, repeated from each iteration's model.
#
#   bash run_iter_dpo.sh                                         # set-up + the CPU demo (configs/demo.yaml)
#   bash run_iter_dpo.sh --config configs/qwen25_math_7b_dpo.yaml
#   bash run_iter_dpo.sh --config configs/demo.yaml run_name=demo_b iterations=4 train.beta=0.2 sample.K=4
#   bash run_iter_dpo.sh --keys                                  # every key, section by section, default and help
#   bash run_iter_dpo.sh --dry_run --config configs/qwen25_math_7b_dpo.yaml   # print each stage's command
#
# A run config (configs/*.yaml; pipeline/config.py) has the loop's keys and one section per stage
# (build, warmup, audit, sample, merge, label, pairs, train, eval) whose keys are that stage's own flags:
# each section becomes its stage's command line. Overrides are key=value (strings as written, other
# values as YAML: iterations=4, prompts=[a.jsonl,b.jsonl]) or section.key=value. Paths are relative to
# the repository root. Everything goes to runs/<run_name>/ (layout: docs/records.md):
# config.yaml, manifest.json, iter_<i>/{audit.json, shards/, samples.jsonl, labeled.jsonl, pairs.jsonl | raft.jsonl,
# stats.json, model/, eval/, logs/, times.tsv}, summary.json, report.md, curves.png, driver.log.
#
# --dry_run prints the command of every stage the run would start (those whose output is not there yet)
# and runs, records and creates nothing.
#
# Started again with the same config, a run continues where it stopped: a stage whose complete output
# exists is skipped (and says so); stages write atomically, so nothing is lost or doubled. A failed shard
# or stage stops the run, naming it and its log.
#
# Environments: TRAIN_PYTHON runs training, grading and these helpers (default .venv/bin/python);
# GEN_PYTHON runs generation and evaluation (default .venv-vllm/bin/python where it exists, else
# TRAIN_PYTHON or .venv/bin/python). setup.sh builds the defaults and leaves environments you name alone.
set -euo pipefail

log() {
  local line
  line="$(date +%H:%M:%S) run_iter_dpo: $*"
  echo "$line" >&2
  if ((!DRY_RUN)) && [[ -n ${RUN_DIR:-} && -d $RUN_DIR ]]; then echo "$line" >>"$RUN_DIR/driver.log"; fi
}
die() { log "error: $*"; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

CALLER_DIR=$PWD
ARGV="$*"
cd "$(dirname "$0")"
CONFIG=configs/demo.yaml
OVERRIDES=()
DRY_RUN=0
while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --config) (($# >= 2)) || die "--config needs a file"; CONFIG=$2; shift 2 ;;
    --config=*) CONFIG=${1#--config=}; shift ;;
    --keys) KEYS=1; shift ;;
    --dry_run) DRY_RUN=1; shift ;;
    *=*) OVERRIDES+=("$1"); shift ;;
    *) die "unexpected argument '$1': expected --config FILE or key=value (see --help)" ;;
  esac
done
# A config path is the caller's: relative to where they ran this from, unless it only exists here.
if [[ $CONFIG != /* && -f $CALLER_DIR/$CONFIG ]]; then CONFIG=$CALLER_DIR/$CONFIG; fi

bash setup.sh >&2  # stdout is for --keys and --dry_run
TRAIN_PY=${TRAIN_PYTHON:-.venv/bin/python}
source common/gen_python.sh
GEN_PY=$(gen_python .)
export GEN_PYTHON=$GEN_PY  # generation/launch.sh's interpreter
helper() { "$TRAIN_PY" -m pipeline "$@"; }
record() { if ((!DRY_RUN)); then helper "$@"; fi; }  # what a run writes down: nothing in a dry run
if [[ -n ${KEYS:-} ]]; then helper keys; exit 0; fi

# Validate the config, its trainer configs and (without a demo build) its inputs, then write
# runs/<run_name>/config.yaml; then take its settings as shell variables. A bad config ends here with one
# line, before any model loads and before the run folder is made.
resolve=(resolve --config "$CONFIG")
if ((DRY_RUN)); then resolve+=(--dry_run); fi
settings=$(helper "${resolve[@]}" "${OVERRIDES[@]}") || exit 2
eval "$settings"
if ((NUM_GPUS == 0)); then export CUDA_VISIBLE_DEVICES=""; fi  # num_gpus: 0 means no stage uses a GPU
LAUNCH_ARGS=() PLACEMENT=""
if [[ $LAUNCHER == slurm ]]; then
  # launcher: slurm (resolve checked the allocation): this driver runs on the first node; generation,
  # training and evaluation run as srun steps over NUM_NODES nodes (common/slurm.sh). Grading stays here,
  # its pool sized to this node's cores unless the label section sets num_workers.
  source common/slurm.sh
  LAUNCH_ARGS=(--srun --nodes "$NUM_NODES" --tasks_per_node "$GEN_TASKS_PER_NODE")
  PLACEMENT=" on each of $NUM_NODES node(s) of SLURM job $SLURM_JOB_ID"
fi

# One driver per run directory. Stages inherit the lock, so a stage left running by a killed driver
# still holds it and a second start cannot double its work.
if ((!DRY_RUN)); then
  exec 9>>"$RUN_DIR/.lock"
  flock -w 5 9 || die "$RUN_DIR is in use by another run_iter_dpo.sh (or a stage it started is still running)"
fi

SESSION=""
on_exit() {
  local status=$?
  if [[ -n $SESSION && $status != 0 ]]; then helper end "$RUN_DIR" --status failed || true; fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

record begin "$RUN_DIR" --argv="$ARGV" --gen_python="$GEN_PY"  # with '=': argparse takes '--config=x' as a value
if ((!DRY_RUN)); then SESSION=1; fi
if ((DRY_RUN)); then
  log "dry run of $RUN_DIR: each stage still to run is printed, nothing runs"
elif ((RESUMED)); then
  log "resuming $RUN_DIR (config unchanged)"
  # Stages write to .<name>.<random>.tmp and rename when done; a killed one leaves its temporary file.
  stale=$(find "$RUN_DIR" -name '.*.tmp' -type f -print -delete | wc -l)
  if ((stale)); then log "removed $stale unfinished temporary file(s) of the killed session"; fi
else
  log "starting $RUN_DIR"
fi
log "config: $CONFIG ${OVERRIDES[*]}; $NUM_GPUS GPU(s)$PLACEMENT; generation: $GEN_PY; training: $TRAIN_PY"

now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }

skip() { log "iteration $1: $2: skipped, $3 is complete"; }

# run STAGE ITERATION COMMAND...: run it with its output also in iter_<i>/logs/STAGE.log, record its
# time, and stop the run naming the stage if it fails.
run() {
  local stage=$1 iter=$2 start status=0 logfile
  shift 2
  if ((DRY_RUN)); then echo "iteration $iter: $stage: $*"; return; fi
  logfile=$RUN_DIR/iter_$iter/logs/$stage.log
  mkdir -p "${logfile%/*}"
  log "iteration $iter: $stage: $*"
  start=$(now_us)
  "$@" 2>&1 | tee -a "$logfile" || status=$?
  ((status == 0)) || die "iteration $iter: stage '$stage' failed (exit $status); its log: $logfile"
  record time "$RUN_DIR" "$iter" "$stage" "$(( $(now_us) - start ))e-6"
}

# trainer SCRIPT ARGS...: one process on CPU; accelerate over the GPUs otherwise; under SLURM, accelerate on
# every node, NUM_NODES x NUM_GPUS processes (one per node without a GPU).
trainer() {
  if [[ $LAUNCHER == slurm ]]; then
    slurm_accelerate "$NUM_NODES" "$((NUM_GPUS > 0 ? NUM_GPUS : 1))" "$TRAIN_PY" "$ACCELERATE_CONFIG" "$@"
  elif ((NUM_GPUS > 0)); then
    local config=()
    if [[ -n $ACCELERATE_CONFIG ]]; then config=(--config_file "$ACCELERATE_CONFIG"); fi
    "$TRAIN_PY" -m accelerate.commands.launch "${config[@]}" --num_processes "$NUM_GPUS" "$@"
  else
    "$TRAIN_PY" "$@"
  fi
}

evaluate() {  # ITERATION MODEL
  local dir=$RUN_DIR/iter_$1/eval
  if ((!EVALUATE)); then return; fi
  if [[ -f $dir/summary.json ]]; then skip "$1" eval "$dir/summary.json"; return; fi
  local spread=()
  if [[ $LAUNCHER == slurm ]]; then spread=(spread_eval); fi
  run eval "$1" "${spread[@]}" "$GEN_PY" eval_math/evaluate.py --model_name_or_path "$2" --output_dir "$dir" \
    --seed "$SEED" "${EVAL_ARGS[@]}"
}

# spread_eval PYTHON evaluate.py ARGS...: under SLURM, the benchmarks first spread over srun tasks, one per
# GPU (or tensor-parallel group) of every node, each writing its benchmarks' files; then the command
# itself finds every benchmark evaluated and only writes the summary.
spread_eval() {
  slurm_each "$NUM_NODES" "$EVAL_DATA_NAMES" "$EVAL_GPUS_PER_TASK" "$EVAL_TASKS_PER_NODE" \
    "$@" --data_names {items} --write_summary false || return
  "$@"
}

# generate ITERATION POLICY PROMPTS: the shards not yet written, through generation/launch.sh (one
# process per GPU, each waited for by pid; one after another on CPU). Shards are written atomically, so
# a shard file that exists is complete and is kept.
generate() {
  local iter=$1 dir=$RUN_DIR/iter_$1 s todo=()
  for ((s = 0; s < NUM_SHARDS; s++)); do
    if [[ -f $dir/shards/shard_${s}_of_${NUM_SHARDS}.jsonl ]]; then
      skip "$iter" "generation shard $s of $NUM_SHARDS" "$dir/shards/shard_${s}_of_${NUM_SHARDS}.jsonl"
    else
      todo+=("$s")
    fi
  done
  if ((${#todo[@]} == 0)); then return; fi
  run generation "$iter" bash generation/launch.sh --world_size "$NUM_SHARDS" --shards "${todo[*]}" \
    "${LAUNCH_ARGS[@]}" --model_name_or_path "$2" --dataset_name_or_path "$3" --output_dir "$dir/shards" \
    --seed "$((SEED + iter))" "${SAMPLE_ARGS[@]}"
}

# Iteration 0: the demo's model and task, the optional SFT warm-up, and the starting model's evaluation.
if ((BUILD_DEMO)); then
  if [[ -f $ASSETS_DIR/DONE ]]; then
    skip 0 assets "$ASSETS_DIR/DONE"
  else
    run assets 0 "$TRAIN_PY" demo/build.py --output_dir "$ASSETS_DIR" --seed "$SEED" --iterations "$ITERATIONS" \
      "${BUILD_ARGS[@]}"
  fi
fi
if ((!DRY_RUN)) && ! helper check "$RUN_DIR"; then
  # Nothing has run on a first start that built no demo: forget its config, so that the next start may
  # correct it instead of being refused as a different experiment.
  if ((!RESUMED && !BUILD_DEMO)); then rm -f "$RUN_DIR/config.yaml"; fi
  exit 2
fi

POLICY=$MODEL
if ((WARMUP)); then
  POLICY=$RUN_DIR/iter_0/model
  if [[ -d $POLICY ]]; then
    skip 0 warmup "$POLICY"
  else
    run warmup 0 trainer dpo_iteration/sft.py "${WARMUP_ARGS[@]}" --model_name_or_path "$MODEL" \
      --output_dir "$POLICY" --seed "$SEED"
  fi
fi
INITIAL=$POLICY
evaluate 0 "$POLICY"
record report "$RUN_DIR" --initial_model "$MODEL"

for ((i = 1; i <= ITERATIONS; i++)); do
  dir=$RUN_DIR/iter_$i
  prompts=${PROMPT_FILES[i - 1]}

  # The ground-truth audit (annotate/audit.py): prompts whose gt the grader cannot tell from a near miss
  # are left out of this iteration's labels; too many of them stop the run here, before sampling.
  if [[ -f $dir/audit.json ]]; then
    skip "$i" audit "$dir/audit.json"
  else
    run audit "$i" "$TRAIN_PY" annotate/audit.py --dataset_name_or_path "$prompts" --output_file "$dir/audit.json" \
      "${AUDIT_ARGS[@]}"
  fi

  if [[ -f $dir/samples.jsonl ]]; then
    skip "$i" generation "$dir/samples.jsonl"
  else
    generate "$i" "$POLICY" "$prompts"
    run merge "$i" "$GEN_PY" generation/merge.py --shard_dir "$dir/shards" --my_world_size "$NUM_SHARDS" \
      --output_file "$dir/samples.jsonl" --dataset_name_or_path "$prompts" "${MERGE_ARGS[@]}"
  fi

  # label.py and pairs.py each write their file, then their section of stats.json: both make a stage whole.
  if [[ -f $dir/labeled.jsonl ]] && helper has_stats "$dir/stats.json" label; then
    skip "$i" label "$dir/labeled.jsonl"
  else
    run label "$i" "$TRAIN_PY" annotate/label.py --dataset_name_or_path "$dir/samples.jsonl" \
      --output_file "$dir/labeled.jsonl" --audit_file "$dir/audit.json" "${LABEL_ARGS[@]}"
  fi

  # DPO trains on pairs; RAFT fine-tunes (sft.py) on one correct response per prompt.
  if [[ $ALGORITHM == raft ]]; then data=$dir/raft.jsonl choose=(--choose_type raft); else data=$dir/pairs.jsonl choose=(); fi
  if [[ -f $data ]] && helper has_stats "$dir/stats.json" pairs; then
    skip "$i" pairs "$data"
  else
    run pairs "$i" "$TRAIN_PY" annotate/pairs.py --dataset_name_or_path "$dir/labeled.jsonl" --output_file "$data" \
      "${choose[@]}" --seed "$SEED" "${PAIRS_ARGS[@]}"
  fi

  if [[ -d $dir/model ]]; then
    skip "$i" train "$dir/model"
  elif [[ $ALGORITHM == raft ]]; then
    run train "$i" trainer dpo_iteration/sft.py "${TRAIN_ARGS[@]}" --model_name_or_path "$POLICY" --train_file "$data" \
      --output_dir "$dir/model" --seed "$SEED"
  else  # the reference: POLICY, or INITIAL with train.ref_policy: initial
    run train "$i" trainer dpo_iteration/dpo.py "${TRAIN_ARGS[@]}" --model_name_or_path "$POLICY" --train_file "$data" \
      --output_dir "$dir/model" --initial_model_name_or_path "$INITIAL" --seed "$SEED"
  fi
  POLICY=$dir/model

  evaluate "$i" "$POLICY"
  record report "$RUN_DIR" --initial_model "$MODEL"
done

record end "$RUN_DIR" --status complete
SESSION=""
if ((DRY_RUN)); then exit 0; fi
log "done: report $RUN_DIR/report.md, curves $RUN_DIR/curves.png, final model $POLICY"
