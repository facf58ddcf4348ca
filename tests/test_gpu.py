"""The GPU tests for a machine set up with `bash setup.sh` (it needs the network; it builds .venv-vllm) and
two GPUs: DPO under DeepSpeed ZeRO-3 on two GPUs against one, and the micro pipeline on GPUs with vLLM.
Marker gpu, run by `bash tests/run.sh --gpu`; skipped, saying why, without NVIDIA GPUs. A bare machine
with one GPU and no network runs `bash tests/gpu_smoke.sh DIR` instead (bf16 DPO/SFT under ZeRO-3 on a
7B-wide model, hf and vLLM sampling; README, "Before a first real run"). The models are
tests/real_vocab.py's (Qwen2.5's vocabulary, head size 64 for vLLM's attention kernels) and the demo's
tiny model; prompts and pairs are made here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from gpu_smoke import VLLM_LOG_LINE
from test_train import data  # noqa: F401  (the fixture: 16 pairs and a DPO config for the tiny model)

from common.records import SAMPLES, read_records, write_jsonl

pytestmark = pytest.mark.gpu

REPO = Path(__file__).resolve().parent.parent


def gpus() -> int:
    import torch

    return torch.cuda.device_count()


def gen_python() -> str:
    """The generation interpreter, chosen as the driver chooses it (common/gen_python.sh)."""
    out = subprocess.run(["bash", "-c", 'source common/gen_python.sh && gen_python "$PWD"'], cwd=REPO,
                         capture_output=True, text=True, check=True)
    python = out.stdout.strip()
    if subprocess.run([python, "-c", "import vllm"], capture_output=True).returncode != 0:
        pytest.skip(f"{python} has no vllm: run `bash setup.sh` on this GPU machine (it builds .venv-vllm)")
    return python


@pytest.fixture(scope="module")
def vllm_model(tmp_path_factory) -> Path:
    from real_vocab import build_real_vocab_model

    return build_real_vocab_model(tmp_path_factory.mktemp("gpu_model") / "model", hidden_size=256)


def write_task(folder: Path) -> tuple[Path, Path]:
    prompts, tests = folder / "prompts.jsonl", folder / "task" / "arith" / "test.jsonl"
    write_jsonl(prompts, [{"idx": f"p{i}", "problem": f"Compute {i} + 1.", "gt": str(i + 1)} for i in range(8)])
    write_jsonl(tests, [{"idx": f"t{i}", "problem": f"Compute {i} + 2.", "gt": str(i + 2)} for i in range(8)])
    return prompts, tests.parent.parent


def test_two_gpu_zero3_dpo_trains_what_one_gpu_does(data, tiny_model_dir, tmp_path):  # noqa: F811 (the fixture)
    from safetensors.torch import load_file

    if gpus() < 2:
        pytest.skip(f"needs 2 GPUs, found {gpus()}")
    common = [str(data / "dpo.yaml"), "--model_name_or_path", str(tiny_model_dir), "--train_file",
              str(data / "pairs.jsonl"), "--seed", "1", "--bf16", "false"]
    one = subprocess.run([sys.executable, "dpo_iteration/dpo.py", *common, "--output_dir", str(tmp_path / "one")],
                         cwd=REPO, capture_output=True, text=True, timeout=900,
                         env={**os.environ, "CUDA_VISIBLE_DEVICES": "0"})
    assert one.returncode == 0, one.stderr[-3000:]
    probe = tmp_path / "probe.json"
    two = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--config_file", "configs/accelerate/zero3.yaml",
         "--num_processes", "2", "--mixed_precision", "no", "tests/zero3_probe.py", str(probe), *common,
         "--output_dir", str(tmp_path / "two"), "--per_device_train_batch_size", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=900, env={**os.environ, "CUDA_VISIBLE_DEVICES": "0,1"})
    assert two.returncode == 0, two.stderr[-3000:]
    seen = json.loads(probe.read_text())
    assert seen["engine_before"] and seen["hooks_before"] and seen["hooks_after"] == [], seen["hooks_after"]

    a, b = load_file(tmp_path / "one" / "model.safetensors"), load_file(tmp_path / "two" / "model.safetensors")
    start = load_file(tiny_model_dir / "model.safetensors")
    assert a.keys() == b.keys() == start.keys()
    moved = max((a[k].float() - start[k].float()).abs().max().item() for k in a)
    differ = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    assert differ < 2e-2 * moved, (differ, moved)  # as the CPU test (tests/test_train.py)
    assert json.loads((tmp_path / "two" / "train_log.json").read_text())["pairs"] == 16


def test_micro_pipeline_on_gpus(vllm_model, tmp_path):
    from test_pipeline import MICRO, check_run_is_whole, driver

    gen_python()  # skips, saying why, where .venv-vllm has no vLLM
    count = min(2, gpus())
    accelerate = "configs/accelerate/zero3.yaml" if count == 2 else "configs/accelerate/single.yaml"
    prompts, task = write_task(tmp_path)
    out = driver("--config", MICRO, f"runs_dir={tmp_path}", "build_demo=false", f"model_name_or_path={vllm_model}",
                 f"prompts=[{prompts}]", "warmup={}", f"eval.data_dir={task}", f"num_gpus={count}",
                 "num_shards=0", "sample.engine=vllm", "eval.engine=vllm", f"accelerate_config={accelerate}",
                 "train.bf16=true", "sample.gpu_memory_utilization=0.3", "eval.gpu_memory_utilization=0.3",
                 timeout=1800)
    assert out.returncode == 0, out.stderr[-3000:]
    run_dir = tmp_path / "micro"
    check_run_is_whole(run_dir)
    log = (run_dir / "driver.log").read_text()
    assert f"; {count} GPU(s)" in log and "--engine vllm" in log
    assert VLLM_LOG_LINE.search((run_dir / "iter_1" / "logs" / "generation.log").read_text())
    samples = read_records(run_dir / "iter_1" / "samples.jsonl", SAMPLES)
    assert all(set(r["finish_reasons"]) == {"stop"} for r in samples)
    assert json.loads((run_dir / "iter_1" / "model" / "train_log.json").read_text())["pairs"] > 0
