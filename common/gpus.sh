# The GPUs this machine gives a process, one id per line: those in CUDA_VISIBLE_DEVICES when it is set
# (set and empty, or -1: none), else every GPU that nvidia-smi lists; nothing without a GPU. The project's
# one GPU count: generation/launch.sh and common/slurm.sh source it, and pipeline/config.py's count_gpus
# (num_gpus: -1) runs it.
#
#   source common/gpus.sh; mapfile -t devices < <(gpu_devices)
#   bash common/gpus.sh | wc -l
gpu_devices() {
  local devices=() d
  if [[ -v CUDA_VISIBLE_DEVICES ]]; then
    IFS=, read -ra devices <<<"$CUDA_VISIBLE_DEVICES"
  elif command -v nvidia-smi >/dev/null 2>&1; then
    mapfile -t devices < <(timeout 30 nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null || true)
  fi
  for d in "${devices[@]}"; do
    d=${d//[[:space:]]/}
    if [[ -n $d && $d != -1 ]]; then echo "$d"; fi
  done
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then gpu_devices; fi
