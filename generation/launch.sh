#!/usr/bin/env bash
# Run generation/sample.py for every shard of a prompt set: all shards at once, one per GPU
# (CUDA_VISIBLE_DEVICES), or one after another where there is no GPU. Fails naming each shard that failed.
#
#   bash generation/launch.sh --world_size 8 --model_name_or_path M --dataset_name_or_path D \
#       --output_dir runs/x/iter_1/shards --K 8 --max_new_tokens 4096 --seed 42
#   bash generation/launch.sh --world_size 4 --shards "1 3" ...    # only shards 1 and 3 (of 4)
#   bash generation/launch.sh --srun --world_size 16 ...          # over every node of a SLURM allocation
#
# --world_size (default: GPUs / tensor_parallel_size, or 1 without a GPU) and --shards (default: all)
# are the launcher's; it gives each shard its --local_index and --my_world_size, and every other
# argument goes to sample.py. A shard spans --tensor_parallel_size GPUs. The GPUs are those in
# CUDA_VISIBLE_DEVICES when it is set (set and empty: none), else all that nvidia-smi lists.
# --srun (inside a SLURM allocation; common/slurm.sh) spreads the shards over srun tasks instead:
# --tasks_per_node (default: the GPUs here / tensor_parallel_size, 1 without a GPU) on each of --nodes
# nodes (required: run_iter_dpo.sh passes the run's, which pipeline/slurm.py read from the allocation; by
# hand, e.g. --nodes "$SLURM_JOB_NUM_NODES"), each task on its own GPUs (SLURM_LOCALID x tensor_parallel_size)
# running shards SLURM_PROCID, SLURM_PROCID + tasks, ... one after another; a failed shard is named with
# its node. The output directory must be on a filesystem every node shares.
# GEN_PYTHON is the interpreter (see common/gen_python.sh: GEN_PYTHON, .venv-vllm, TRAIN_PYTHON, .venv).
# Each shard logs to <output_dir>/logs/shard_<i>_of_<w>.log. A shard whose output is complete returns
# at once, so re-running after a failure redoes only the shards that failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
die() { echo "launch.sh: $*" >&2; exit 2; }

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit 0
fi

source "$root/common/gen_python.sh"
GEN_PYTHON=$(gen_python "$root")
[[ -x $GEN_PYTHON ]] || die "GEN_PYTHON=$GEN_PYTHON is not an executable interpreter (run setup.sh)"

world_size="" shards="" tp=1 output_dir="" args=() srun=0 task=0 nodes="" per_node=""
while (($#)); do
  case $1 in
    --world_size) world_size=$2; shift 2 ;;
    --shards) shards=$2; shift 2 ;;
    --srun) srun=1; shift ;;
    --srun_task) task=1; shift ;;  # internal: this process is one task of the --srun step
    --nodes) nodes=$2; shift 2 ;;
    --tasks_per_node) per_node=$2; shift 2 ;;
    --local_index | --local_index=* | --my_world_size | --my_world_size=*)
      die "$1 is set per shard by the launcher; use --world_size and --shards" ;;
    --tensor_parallel_size) tp=$2; args+=("$1" "$2"); shift 2 ;;
    --tensor_parallel_size=*) tp=${1#*=}; args+=("$1"); shift ;;
    --output_dir) output_dir=$2; args+=("$1" "$2"); shift 2 ;;
    --output_dir=*) output_dir=${1#*=}; args+=("$1"); shift ;;
    *) args+=("$1"); shift ;;
  esac
done
[[ -n $output_dir ]] || die "--output_dir is required (sample.py writes the shards there)"
[[ $tp =~ ^[1-9][0-9]*$ ]] || die "--tensor_parallel_size must be a positive integer, got '$tp'"

source "$root/common/gpus.sh"
mapfile -t devices < <(gpu_devices)

if [[ -z $world_size ]]; then
  world_size=$((${#devices[@]} / tp))
  ((world_size >= 1)) || world_size=1
fi
[[ $world_size =~ ^[1-9][0-9]*$ ]] || die "--world_size must be a positive integer, got '$world_size'"
[[ -n $shards ]] || shards=$(seq -s " " 0 $((world_size - 1)))
read -ra shard_list <<<"$shards"
for i in "${shard_list[@]}"; do
  [[ $i =~ ^[0-9]+$ ]] && ((i < world_size)) || die "shard '$i' is not in 0..$((world_size - 1))"
done

log_dir=$output_dir/logs
mkdir -p "$log_dir"
log_of() { echo "$log_dir/shard_${1}_of_${world_size}.log"; }
node=""
if [[ -n ${SLURMD_NODENAME:-} ]]; then node=" on node $SLURMD_NODENAME"; fi
failed=()
report_failure() {  # $1: shard, $2: exit status
  failed+=("$1")
  echo "launch.sh: shard $1 of $world_size FAILED$node (exit $2); last lines of $(log_of "$1"):" >&2
  tail -n 20 "$(log_of "$1")" >&2
}

if ((srun)); then
  source "$root/common/slurm.sh"
  [[ $nodes =~ ^[1-9][0-9]*$ ]] || die "--srun needs --nodes N, the allocation's nodes to use (e.g. --nodes \"\$SLURM_JOB_NUM_NODES\"), got '$nodes'"
  if [[ -z $per_node ]]; then
    per_node=$((${#devices[@]} / tp))
    ((per_node >= 1)) || per_node=1
  fi
  [[ $per_node =~ ^[1-9][0-9]*$ ]] || die "--tasks_per_node must be a positive integer, got '$per_node'"
  tasks=$((${#shard_list[@]} < nodes * per_node ? ${#shard_list[@]} : nodes * per_node))
  echo "launch.sh: ${#shard_list[@]} shard(s) of $world_size over $tasks srun task(s), $per_node per node"
  for i in "${shard_list[@]}"; do : >"$(log_of "$i")"; done  # no verdict of an earlier start is read below
  status=0
  slurm_srun "$tasks" "$per_node" 0 bash "$here/launch.sh" --srun_task --world_size "$world_size" \
    --shards "${shard_list[*]}" "${args[@]}" || status=$?
  # Which shards failed, and where: each task ends its shard's log with a verdict (none: killed or never run).
  for i in "${shard_list[@]}"; do
    verdict=$(grep -h "^launch.sh: shard $i of $world_size \(FAILED\|done\)" "$(log_of "$i")" 2>/dev/null | tail -n 1)
    if [[ $verdict != *" done"* ]]; then
      failed+=("$i")
      verdict=${verdict#launch.sh: }
      verdict=${verdict:-shard $i of $world_size did not finish (exit $status of srun)}
      echo "launch.sh: $verdict; log $(log_of "$i")" >&2
    fi
  done
  if ((${#failed[@]} == 0 && status != 0)); then die "srun failed (exit $status) though every shard finished"; fi
elif ((task)); then
  source "$root/common/slurm.sh"
  gpus=$(slurm_task_gpus "$tp")
  mine=()
  for ((slot = SLURM_PROCID; slot < ${#shard_list[@]}; slot += SLURM_NTASKS)); do
    mine+=("${shard_list[slot]}")
  done
  for i in "${mine[@]}"; do
    echo "launch.sh: shard $i of $world_size$node, ${gpus:+GPU }${gpus:-CPU}, task $SLURM_PROCID, log $(log_of "$i")" \
      | tee "$(log_of "$i")"
    status=0
    CUDA_VISIBLE_DEVICES=$gpus "$GEN_PYTHON" "$here/sample.py" "${args[@]}" --local_index "$i" \
      --my_world_size "$world_size" >>"$(log_of "$i")" 2>&1 || status=$?
    if ((status == 0)); then
      echo "launch.sh: shard $i of $world_size done$node" >>"$(log_of "$i")"
    else
      report_failure "$i" "$status"
      echo "launch.sh: shard $i of $world_size FAILED$node (exit $status)" >>"$(log_of "$i")"
    fi
  done
  exit $((${#failed[@]} > 0))  # the --srun side reports on all shards
elif ((${#devices[@]} > 0)); then
  ((${#shard_list[@]} * tp <= ${#devices[@]})) \
    || die "${#shard_list[@]} shard(s) x $tp GPU(s) each need more than the ${#devices[@]} GPU(s) here"
  pids=()
  trap 'kill "${pids[@]}" 2>/dev/null || true; exit 130' INT TERM
  for slot in "${!shard_list[@]}"; do
    i=${shard_list[$slot]}
    gpus=$(IFS=,; echo "${devices[*]:slot*tp:tp}")
    CUDA_VISIBLE_DEVICES=$gpus "$GEN_PYTHON" "$here/sample.py" "${args[@]}" \
      --local_index "$i" --my_world_size "$world_size" >"$(log_of "$i")" 2>&1 &
    pids+=($!)
    echo "launch.sh: shard $i of $world_size on GPU $gpus (pid $!), log $(log_of "$i")"
  done
  for slot in "${!pids[@]}"; do  # wait on each pid: a bare `wait` returns 0 even when a shard crashed
    status=0
    wait "${pids[$slot]}" || status=$?
    ((status == 0)) || report_failure "${shard_list[$slot]}" "$status"
  done
else
  for i in "${shard_list[@]}"; do
    echo "launch.sh: shard $i of $world_size on CPU, log $(log_of "$i")"
    status=0
    "$GEN_PYTHON" "$here/sample.py" "${args[@]}" --local_index "$i" --my_world_size "$world_size" \
      >"$(log_of "$i")" 2>&1 || status=$?
    ((status == 0)) || report_failure "$i" "$status"
  done
fi

if ((${#failed[@]} > 0)); then
  echo "launch.sh: ${#failed[@]} of ${#shard_list[@]} shard(s) failed: ${failed[*]} (re-run to redo just those)" >&2
  exit 1
fi
echo "launch.sh: all ${#shard_list[@]} shard(s) of $world_size done in $output_dir"
