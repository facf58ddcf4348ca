"""setup.sh's decisions, with a stand-in nvidia-smi and stand-in interpreters on PATH: Python >= 3.11, a torch
without CUDA (or one the driver cannot run) on a GPU machine is an error, GPU presence is part of the stamp.

Nothing is installed: the stand-in python answers setup.sh's questions from environment variables, creates
"venvs" as copies of itself, and logs every pip command it is given.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

STAND_IN_PYTHON = """#!/usr/bin/env bash
# A stand-in interpreter: the answers come from STANDIN_* variables, and every call is logged.
echo "$0 $*" >>"$STANDIN_LOG"
case "$*" in
  *"sys.version_info < (3, 13)"*) echo "${STANDIN_BELOW_313:-True}" ;;
  *"import sys; print(sys.version_info"*) echo "${STANDIN_VERSION_OK:-True}" ;;
  --version) echo "Python ${STANDIN_VERSION:-3.11.7}" ;;
  *"import torch"*) echo "$STANDIN_TORCH" ;;
  "-m venv "*) mkdir -p "$3/bin" && cp "$0" "$3/bin/python" ;;
esac
exit 0
"""
# nvidia-smi -L lists one line per GPU; without GPUs it prints an error and exits non-zero.
GPU_SMI = '#!/bin/sh\n[ "$1" = -L ] && echo "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0)"\n'
NO_GPU_SMI = '#!/bin/sh\necho "No devices were found"\nexit 6\n'
CPU_TORCH, CUDA_TORCH, OLD_DRIVER = "2.13.0+cpu None False", "2.13.0 13.0 True", "2.13.0 13.0 False"


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def sandbox(tmp_path) -> Path:
    """A copy of setup.sh with the files its stamp reads, a stand-in python, and bin/ for nvidia-smi."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ["setup.sh", "pyproject.toml", *(p.name for p in REPO.glob("requirements*.txt"))]:
        shutil.copy(REPO / name, repo / name)
    (tmp_path / "bin").mkdir()
    executable(tmp_path / "bin" / "python-standin", STAND_IN_PYTHON)
    return tmp_path


def run_setup(sandbox: Path, gpu: bool, torch: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    executable(sandbox / "bin" / "nvidia-smi", GPU_SMI if gpu else NO_GPU_SMI)
    standin = str(sandbox / "bin" / "python-standin")
    environ = {
        **{k: v for k, v in os.environ.items() if k not in ("TRAIN_PYTHON", "GEN_PYTHON", "VERL_PYTHON", "PYTHON")},
        "PATH": f"{sandbox / 'bin'}:{os.environ['PATH']}", "STANDIN_LOG": str(sandbox / "calls.log"),
        "STANDIN_TORCH": torch, "PYTHON": standin, "VERL_PYTHON": standin, **env,
    }
    return subprocess.run(["bash", "setup.sh", *args], cwd=sandbox / "repo", capture_output=True, text=True,
                          timeout=60, env=environ)


def pip_installs(sandbox: Path) -> list[str]:
    log = sandbox / "calls.log"
    return [line for line in log.read_text().splitlines() if "-m pip install -q -r" in line] if log.exists() else []


def test_python_older_than_311_is_refused_in_one_line(sandbox):
    out = run_setup(sandbox, gpu=False, torch=CPU_TORCH, STANDIN_VERSION_OK="False", STANDIN_VERSION="3.10.12")
    assert out.returncode != 0
    assert out.stderr.strip() == (f"setup.sh: '{sandbox}/bin/python-standin' is not Python >= 3.11 (Python 3.10.12), "
                                  "which vllm 0.33, transformers 5.24 and trl 1.16 require")


def test_verl_on_python_313_is_refused_in_one_line_before_anything_is_built(sandbox):
    standin = str(sandbox / "bin" / "python-standin")
    py313 = {"STANDIN_BELOW_313": "False", "STANDIN_VERSION": "3.13.1"}
    out = run_setup(sandbox, False, CPU_TORCH, "--verl", VERL_PYTHON="", **py313)
    assert out.returncode != 0 and pip_installs(sandbox) == []
    assert out.stderr.strip() == (
        f"setup.sh: PYTHON '{standin}' is Python 3.13.1, but verl 0.9.1 needs Python < 3.13: run "
        "PYTHON=python3.12 bash setup.sh --verl (or VERL_PYTHON=/path/to/python3.12 for an environment you manage)")
    out = run_setup(sandbox, False, CPU_TORCH, "--verl", **py313)  # a verl environment you manage
    assert out.returncode != 0 and out.stderr.startswith(f"setup.sh: VERL_PYTHON '{standin}' is Python 3.13.1")
    assert run_setup(sandbox, False, CPU_TORCH, **py313).returncode == 0  # without --verl 3.13 is fine
    assert [line.split()[0] for line in pip_installs(sandbox)] == [".venv/bin/python"]
    assert run_setup(sandbox, False, CPU_TORCH, "--verl", VERL_PYTHON="").returncode == 0  # 3.12 builds it
    assert [line.split()[0] for line in pip_installs(sandbox)] == [".venv/bin/python", ".venv-verl/bin/python"]
    # once built, an up-to-date .venv-verl is not refused for the interpreter PYTHON names today
    assert run_setup(sandbox, False, CPU_TORCH, "--verl", VERL_PYTHON="", **py313).returncode == 0


def test_pyproject_agrees_on_the_python_version():
    import tomllib

    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"] == ">=3.11"


@pytest.mark.parametrize("who", ["TRAIN_PYTHON", "GEN_PYTHON"])
def test_a_cpu_torch_on_a_gpu_machine_is_an_error_that_says_how_to_fix_it(sandbox, who):
    standin = str(sandbox / "bin" / "python-standin")
    other = "GEN_PYTHON" if who == "TRAIN_PYTHON" else "TRAIN_PYTHON"
    (sandbox / "cuda").mkdir()
    cuda_python = executable(sandbox / "cuda" / "python", STAND_IN_PYTHON.replace("$STANDIN_TORCH", CUDA_TORCH))
    out = run_setup(sandbox, gpu=True, torch=CPU_TORCH, **{who: standin, other: str(cuda_python)})
    assert out.returncode != 0
    assert out.stderr.strip() == (
        f"setup.sh: {who} has torch 2.13.0+cpu, a build without CUDA, on a machine with an NVIDIA GPU; install the "
        f"CUDA build: {standin} -m pip install 'torch==2.13.0,!=2.13.0+cpu', then run setup.sh again")


def test_a_torch_the_driver_cannot_run_is_an_error(sandbox):
    standin = str(sandbox / "bin" / "python-standin")
    out = run_setup(sandbox, gpu=True, torch=OLD_DRIVER, TRAIN_PYTHON=standin, GEN_PYTHON=standin)
    assert out.returncode != 0 and len(out.stderr.strip().splitlines()) == 1
    assert "TRAIN_PYTHON's torch 2.13.0 (CUDA 13.0) cannot use the GPU" in out.stderr
    assert "driver >= 580" in out.stderr


def test_managed_environments_pass_with_cuda_torch_or_without_gpu(sandbox):
    standin = str(sandbox / "bin" / "python-standin")
    managed = {"TRAIN_PYTHON": standin, "GEN_PYTHON": standin}
    log = sandbox / "calls.log"
    assert run_setup(sandbox, gpu=False, torch=CPU_TORCH, **managed).returncode == 0  # a CPU torch is wanted
    assert "import torch" not in log.read_text()
    assert run_setup(sandbox, gpu=True, torch=CUDA_TORCH, **managed).returncode == 0
    assert log.read_text().count("import torch") == 2  # both interpreters were asked
    assert pip_installs(sandbox) == []


def test_gpu_presence_is_part_of_the_stamp(sandbox):
    repo = sandbox / "repo"
    assert run_setup(sandbox, gpu=False, torch=CPU_TORCH).returncode == 0
    assert [line.split()[0] for line in pip_installs(sandbox)] == [".venv/bin/python"]
    again = run_setup(sandbox, gpu=False, torch=CPU_TORCH)
    assert again.returncode == 0 and "setup.sh: .venv is up to date" in again.stdout
    assert len(pip_installs(sandbox)) == 1

    # The same .venv on a GPU machine: reinstalled and checked; pip keeps its +cpu torch, which is refused.
    out = run_setup(sandbox, gpu=True, torch=CPU_TORCH)
    assert out.returncode != 0 and ".venv has torch 2.13.0+cpu, a build without CUDA" in out.stderr
    assert len(pip_installs(sandbox)) == 2
    stamp = (repo / ".venv" / ".setup-stamp").read_text()
    # Once its torch has CUDA, both environments are built and stamped; a second run installs nothing.
    assert run_setup(sandbox, gpu=True, torch=CUDA_TORCH).returncode == 0
    assert (repo / ".venv" / ".setup-stamp").read_text() != stamp
    assert (repo / ".venv-vllm" / ".setup-stamp").is_file()
    installs = len(pip_installs(sandbox))
    again = run_setup(sandbox, gpu=True, torch=CUDA_TORCH)
    assert again.returncode == 0 and ".venv-vllm is up to date" in again.stdout
    assert len(pip_installs(sandbox)) == installs
