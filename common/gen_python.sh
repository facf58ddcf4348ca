# The interpreter that runs generation and evaluation, for the bash entry points to source:
# $GEN_PYTHON, else the repo's .venv-vllm (built by setup.sh on GPU machines), else the training
# interpreter ($TRAIN_PYTHON, or .venv), which runs the hf engine.
gen_python() {  # $1: the repository root
  if [[ -n ${GEN_PYTHON:-} ]]; then
    echo "$GEN_PYTHON"
  elif [[ -x $1/.venv-vllm/bin/python ]]; then
    echo "$1/.venv-vllm/bin/python"
  else
    echo "${TRAIN_PYTHON:-$1/.venv/bin/python}"
  fi
}
