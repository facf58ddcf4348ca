# SLURM glue for run_iter_dpo.sh and generation/launch.sh (launcher: slurm), sourced by them. SLURM places
# the processes (srun), accelerate + DeepSpeed train, vLLM samples: these functions only compute what each
# srun task needs (its GPUs, its share of the work, the training's machine rank and main address).
#
#   source common/slurm.sh
#   slurm_first_host                      # first node of $SLURM_JOB_NODELIST (training's main process)
#   slurm_srun TASKS TASKS_PER_NODE KILL CMD...   # TASKS tasks, at most TASKS_PER_NODE on a node
#   slurm_each NODES ITEMS GPUS_PER_TASK TASKS_PER_NODE CMD... {items} ...   # ITEMS (a,b,c) spread over tasks
#   slurm_accelerate NODES PROCS_PER_NODE PYTHON ACCELERATE_CONFIG SCRIPT ARGS...   # training on every node
#
# Every node must see the repository, the environments and the run directory at the same paths: a
# filesystem shared by all nodes is required.

source "$(dirname "${BASH_SOURCE[0]}")/gpus.sh"  # gpu_devices

# The first host of a SLURM node list: `scontrol show hostnames`, else read from the list's own syntax
# (node[07-09,12],gpu3 -> node07), for machines where scontrol is not installed beside srun.
slurm_first_host() {
  local list=${1:-${SLURM_JOB_NODELIST:?SLURM_JOB_NODELIST is not set: not inside a SLURM allocation}} first
  if command -v scontrol >/dev/null 2>&1 && first=$(scontrol show hostnames "$list" 2>/dev/null | head -n 1) \
    && [[ -n $first ]]; then
    echo "$first"
  elif [[ $list =~ ^([^],[]+)(\[([^],-]+)[^]]*\])?([^,]*) ]]; then
    echo "${BASH_REMATCH[1]}${BASH_REMATCH[3]}${BASH_REMATCH[4]}"
  else
    echo "slurm: cannot read a host name from SLURM_JOB_NODELIST='$list'" >&2
    return 1
  fi
}

# The training's rendezvous port: MAIN_PROCESS_PORT, else one derived from the job id, so that two jobs
# sharing a first node do not pick the same port: 20000-31999, below the kernel's ephemeral ports
# (net.ipv4.ip_local_port_range, 32768-60999 by default), which any outgoing connection may hold.
slurm_port() { echo "${MAIN_PROCESS_PORT:-$((20000 + ${SLURM_JOB_ID:-0} % 12000))}"; }

# slurm_srun TASKS TASKS_PER_NODE KILL CMD...: one job step of TASKS tasks, block-placed at most
# TASKS_PER_NODE to a node from the allocation's first node on, the node's CPUs shared among them. KILL 0:
# a failed task leaves the others running (shards that finish are kept for the next start); 1: it stops
# them all. srun exits non-zero when any task failed.
slurm_srun() {
  local tasks=$1 per_node=$2 kill=$3 cpus=()
  shift 3
  if [[ -n ${SLURM_CPUS_ON_NODE:-} ]] && ((SLURM_CPUS_ON_NODE / per_node > 0)); then
    cpus=(--cpus-per-task=$((SLURM_CPUS_ON_NODE / per_node)))
  fi
  srun --nodes=$(((tasks + per_node - 1) / per_node)) --ntasks="$tasks" --ntasks-per-node="$per_node" \
    --relative=0 --kill-on-bad-exit="$kill" "${cpus[@]}" "$@"
}

# The GPUs of this srun task: the SLURM_LOCALID-th group of GPUS_PER_TASK among those the task sees
# (a step sees all of its node's GPUs unless SLURM already bound some to the task: then those). Empty
# without a GPU.
slurm_task_gpus() {
  local per_task=$1 devices=()
  mapfile -t devices < <(gpu_devices)
  if ((${#devices[@]} > per_task)); then
    devices=("${devices[@]:${SLURM_LOCALID:?not inside an srun task}*per_task:per_task}")
  fi
  (IFS=,; echo "${devices[*]}")
}

# This task's share of a comma-separated list: items PROCID, PROCID + NTASKS, ... (comma-separated).
slurm_share() {
  local items=() mine=() i
  IFS=, read -ra items <<<"$1"
  for ((i = SLURM_PROCID; i < ${#items[@]}; i += SLURM_NTASKS)); do mine+=("${items[i]}"); done
  (IFS=,; echo "${mine[*]}")
}

# Inside an srun task of slurm_each: run CMD with {items} replaced by this task's share, on its GPUs.
slurm_each_task() {
  local share gpus arg cmd=() status=0
  share=$(slurm_share "$1")
  gpus=$(slurm_task_gpus "$2")
  shift 2
  for arg; do cmd+=("${arg//\{items\}/$share}"); done
  CUDA_VISIBLE_DEVICES=$gpus "${cmd[@]}" || status=$?
  if ((status != 0)); then
    echo "slurm: task $SLURM_PROCID ($share) FAILED on node ${SLURMD_NODENAME:-?} (exit $status)" >&2
  fi
  return "$status"
}

# slurm_each NODES ITEMS GPUS_PER_TASK TASKS_PER_NODE CMD...: ITEMS (comma-separated) spread over
# min(#items, NODES x TASKS_PER_NODE) tasks; each runs CMD once with {items} replaced by its share.
slurm_each() {
  local nodes=$1 items=() per_task=$3 per_node=$4 tasks
  IFS=, read -ra items <<<"$2"
  tasks=$((${#items[@]} < nodes * per_node ? ${#items[@]} : nodes * per_node))
  slurm_srun "$tasks" "$per_node" 0 bash -c 'source "$0"; slurm_each_task "$@"' "${BASH_SOURCE[0]}" \
    "$2" "$per_task" "${@:5}"
}

# slurm_accelerate NODES PROCS_PER_NODE PYTHON ACCELERATE_CONFIG SCRIPT ARGS...: `accelerate launch` on each
# of NODES nodes (one srun task per node), machine rank = the task's node, main process = the
# allocation's first node, NODES x PROCS_PER_NODE processes in all. One failed rank stops them all (the
# others would wait for it in a collective). DeepSpeed takes the `standard` multi-node launcher: srun
# already started a launcher on every node, so it must not start its own over ssh (pdsh).
slurm_accelerate() {
  local nodes=$1 per_node=$2 py=$3 config=$4 host launch=()
  shift 4
  host=$(slurm_first_host) || return 1
  if [[ -n $config ]]; then launch+=(--config_file "$config"); fi
  launch+=(--num_machines "$nodes" --num_processes $((nodes * per_node)) --main_process_ip "$host"
    --main_process_port "$(slurm_port)" --deepspeed_multinode_launcher standard)
  echo "slurm: accelerate launch on $nodes node(s) x $per_node process(es), main process $host:$(slurm_port)" >&2
  slurm_srun "$nodes" 1 1 \
    bash -c 'py=$1; shift; exec "$py" -m accelerate.commands.launch --machine_rank "$SLURM_NODEID" "$@"' \
    slurm_accelerate "$py" "${launch[@]}" "$@"
}
