"""The GPU smoke test's stages, run by tests/gpu_smoke.sh on a machine with one NVIDIA GPU and no network.

A model with Qwen2.5-7B's widths (hidden 3584, MLP 18944, 28 heads, 4 KV heads, 152,064 untied vocabulary
rows) but 2 and 4 layers, tests/real_vocab.py's tokenizer and answer habit, and pairs of about 4,000
tokens run through the recipe's own trainer configs: DPO (configs/dpo/qwen25_math_7b.yaml) and SFT
(configs/sft/qwen25_math_7b_raft.yaml) in bf16 through accelerate + DeepSpeed ZeRO-3 in one process
(tests/stage_meter.py: seconds per step, memory, and the release of DPO's precompute engines); then
sampling with the hf engine and, given an interpreter with vLLM, with vLLM (generation/sample.py). The
two depths give each figure's cost per layer, from which it is extrapolated to 28 layers: on one GPU, and
(memory) per GPU of 8 under ZeRO-3, where the persistent state is sharded 8 ways and the transient part
(activations, gathered layers) is not. Every stage has the time left before ``deadline``; the figures go
to ``output_json`` (written whole), and the exit status is 1 when a stage failed or did not finish.

    python tests/gpu_smoke.py --output_json runs/gpu_smoke.json --work_dir /tmp/smoke --vllm_python python3
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from common.config import ConfigError, run_cli
from common.prompts import render_prompt
from common.records import SAMPLES, read_records, write_json, write_jsonl
from generation.sample import shard_path

logger = logging.getLogger("gpu_smoke")

REPO = Path(__file__).resolve().parent.parent
GIB = 2**30
PROMPT_TYPE = "online-dpo-r1"  # the recipe's prompt, through the real-vocabulary chat template
# tests/real_vocab.py's habit: a boxed digit or nothing, then <|im_end|>
HABIT = re.compile(r"(\\boxed\{\d\})?")
# vLLM's own log lines: "(EngineCore_DP0 pid=123) INFO 12-01 10:00:00 [file.py:12] ..." (vllm/logger.py)
VLLM_LOG_LINE = re.compile(r"pid=\d+\) (INFO|WARNING) \d\d-\d\d ")
# What every smoke run of a trainer changes in the recipe's config: a few steps of one record (DPO: pair)
# per device, logged each step, nothing saved but the final model.
SMOKE_TRAINING = {"global_batch_size": None, "gradient_accumulation_steps": 1, "num_train_epochs": 1,
                  "logging_steps": 1, "save_strategy": "no", "report_to": "none"}
RESERVE_S = 10  # kept back from the deadline for writing the figures


@dataclass
class SmokeArgs:
    work_dir: str = field(metadata={"help": "folder for the models, data, logs and outputs (several GB)"})
    output_json: str = field(default="runs/gpu_smoke/gpu_smoke.json", metadata={"help": "where the figures go"})
    layers: list[int] = field(default_factory=lambda: [2, 4], metadata={"help": "depths trained (two or more)"})
    target_layers: int = field(default=28, metadata={"help": "depth the figures are extrapolated to (Qwen2.5-7B)"})
    target_gpus: int = field(default=8, metadata={"help": "GPUs the per-GPU ZeRO-3 estimate shards over"})
    hidden_size: int = field(default=3584, metadata={"help": "Qwen2.5-7B's config.json, like the next four"})
    intermediate_size: int = field(default=18944, metadata={"help": "MLP width"})
    num_attention_heads: int = field(default=28, metadata={"help": "attention heads"})
    num_key_value_heads: int = field(default=4, metadata={"help": "key/value heads"})
    vocab_size: int = field(default=152064, metadata={"help": "embedding rows (untied output rows as many)"})
    sequence_tokens: int = field(default=4000, metadata={"help": "tokens of each training sequence"})
    pairs: int = field(default=8, metadata={"help": "DPO pairs (steps: one per device per step)"})
    sft_records: int = field(default=16, metadata={"help": "SFT records"})
    dpo_config: str = field(default="configs/dpo/qwen25_math_7b.yaml", metadata={"help": "the DPO recipe"})
    sft_config: str = field(default="configs/sft/qwen25_math_7b_raft.yaml", metadata={"help": "the SFT recipe"})
    accelerate_config: str = field(default="configs/accelerate/zero3.yaml", metadata={"help": "run with 1 process"})
    train_overrides: str = field(
        default="{}", metadata={"help": "YAML mapping over both trainer configs (CPU: {ddp_backend: gloo, bf16: false})"}
    )
    prompts: int = field(default=8, metadata={"help": "prompts sampled by each engine"})
    K: int = field(default=4, metadata={"help": "samples per prompt"})
    max_new_tokens: int = field(default=32, metadata={"help": "tokens per sample at most"})
    vllm_python: str | None = field(
        default=None, metadata={"help": "an interpreter that imports vllm (and trl): sample with vLLM too"}
    )
    vllm_pythonpath: str | None = field(
        default=None, metadata={"help": "folders for vllm_python's PYTHONPATH besides the repository (e.g. trl's)"}
    )
    gpu_memory_utilization: float = field(default=0.4, metadata={"help": "vLLM's share of the GPU"})
    deadline: float | None = field(
        default=None, metadata={"help": "Unix time by which every stage must have ended (gpu_smoke.sh: start + 8 min)"}
    )

    def __post_init__(self):
        if len(set(self.layers)) < 2 or min(self.layers) < 1:
            raise ConfigError(f"layers needs two or more distinct depths >= 1, got {self.layers}")
        overrides = yaml.safe_load(self.train_overrides)
        if not isinstance(overrides, dict):
            raise ConfigError(f"train_overrides must be a YAML mapping, got {self.train_overrides!r}")


# ---- models and data ---------------------------------------------------------------------------------------

def build_models(args: SmokeArgs, device: str) -> tuple[dict[int, Path], dict[int, int]]:
    """The real-vocabulary model at each depth (bf16 on a GPU, float32 on CPU); its parameter counts."""
    import torch
    from real_vocab import build_real_vocab_model, build_tokenizer

    tokenizer = build_tokenizer()
    dtype = "bfloat16" if device == "cuda" else "float32"
    paths, params = {}, {}
    for layers in sorted(set(args.layers)):
        path = build_real_vocab_model(
            Path(args.work_dir) / f"model_{layers}_layers", tokenizer=tokenizer, device=device, dtype=dtype,
            hidden_size=args.hidden_size, intermediate_size=args.intermediate_size, num_hidden_layers=layers,
            num_attention_heads=args.num_attention_heads, num_key_value_heads=args.num_key_value_heads,
            vocab_size=args.vocab_size, tie_word_embeddings=False,
        )
        paths[layers], params[layers] = path, parameter_count(args, layers)
        if device == "cuda":
            torch.cuda.empty_cache()
    return paths, params


def parameter_count(args: SmokeArgs, layers: int) -> int:
    """Qwen2's parameters at this shape: embeddings, untied output rows, and per layer attention (with q/k/v
    biases), MLP and two norms; the final norm."""
    head_dim = args.hidden_size // args.num_attention_heads
    kv = args.num_key_value_heads * head_dim
    attention = args.hidden_size * (args.hidden_size + 2 * kv) + args.hidden_size + 2 * kv + args.hidden_size**2
    mlp = 3 * args.hidden_size * args.intermediate_size
    return 2 * args.vocab_size * args.hidden_size + layers * (attention + mlp + 2 * args.hidden_size) + args.hidden_size


def filler(tokenizer, tokens: int, seed: int) -> str:
    """Arithmetic prose of about ``tokens`` tokens, ending in a boxed answer (a long worked solution)."""
    rng = random.Random(seed)
    steps = []
    while True:
        a, b = rng.randrange(10, 1000), rng.randrange(10, 1000)
        steps.append(f"Next, {a} + {b} = {a + b}, and {a} x {b} = {a * b}.")
        text = " ".join(steps)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) >= tokens:
            return tokenizer.decode(ids[: max(tokens - 8, 1)]) + r" so \boxed{7}."


def write_data(args: SmokeArgs, model: Path) -> dict[str, Path]:
    """prompts.jsonl (sampling), pairs.jsonl (DPO) and sft.jsonl, their sequences ``sequence_tokens`` long."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    folder = Path(args.work_dir) / "data"
    problems = [{"idx": f"p{i}", "problem": f"Compute {i} + {i + 1}.", "gt": str(2 * i + 1)} for i in range(args.prompts)]
    write_jsonl(folder / "prompts.jsonl", problems)
    prompt = render_prompt(tokenizer, "Compute 3 + 4.", PROMPT_TYPE)
    response = args.sequence_tokens - len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) - 1  # the eos
    if response < 16:
        raise ConfigError(f"sequence_tokens {args.sequence_tokens} leaves no room for a response after the prompt")
    pairs = [{"idx": i, "prompt": prompt, "chosen": filler(tokenizer, response, 2 * i),
              "rejected": filler(tokenizer, response, 2 * i + 1)} for i in range(args.pairs)]
    write_jsonl(folder / "pairs.jsonl", pairs)
    sft = [{"idx": i, "prompt": prompt, "completion": filler(tokenizer, response, 1000 + i)} for i in range(args.sft_records)]
    write_jsonl(folder / "sft.jsonl", sft)
    return {"prompts": folder / "prompts.jsonl", "pairs": folder / "pairs.jsonl", "sft": folder / "sft.jsonl"}


def smoke_config(args: SmokeArgs, stage: str) -> Path:
    """The recipe's trainer config with SMOKE_TRAINING and ``train_overrides`` over it, in the work folder."""
    recipe = args.dpo_config if stage == "dpo" else args.sft_config
    config = {**yaml.safe_load((REPO / recipe).read_text()), **SMOKE_TRAINING, **yaml.safe_load(args.train_overrides)}
    path = Path(args.work_dir) / "configs" / f"{stage}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


# ---- running the stages ------------------------------------------------------------------------------------

class Clock:
    """The seconds each stage may take: what is left before the deadline, less RESERVE_S."""

    def __init__(self, deadline: float | None):
        self.deadline = deadline

    def left(self) -> float | None:
        return None if self.deadline is None else self.deadline - RESERVE_S - time.time()


def stage_env(pythonpath: str | None) -> dict[str, str]:
    """This process's environment, offline, with PYTHONPATH = the repository and then ``pythonpath``."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), pythonpath])),
            "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "WANDB_MODE": "disabled",
            "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}


def run_stage(name: str, cmd: list[str], args: SmokeArgs, clock: Clock, pythonpath: str | None) -> dict:
    """Run one stage's command with the time left and PYTHONPATH = the repository + ``pythonpath``, its output
    in logs/NAME.log; its status and seconds."""
    log = Path(args.work_dir) / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    left = clock.left()
    if left is not None and left <= 0:
        return {"status": "not run: the time was spent", "log": str(log)}
    logger.info("%s: %s", name, " ".join(cmd))
    start = time.time()
    with open(log, "w") as out:
        # its own process group: accelerate's launcher, torchrun and the trainer all end with it on a timeout
        process = subprocess.Popen(cmd, cwd=REPO, env=stage_env(pythonpath), stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            code = process.wait(timeout=left)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            code = None
    seconds = round(time.time() - start, 1)
    status = "ok" if code == 0 else f"exit {code}" if code is not None else "timed out: the deadline came"
    result = {"status": status, "seconds": seconds, "log": str(log)}
    if code != 0:
        result["tail"] = log.read_text(errors="replace")[-2000:]
    logger.info("%s: %s in %.1f s", name, status, seconds)
    return result


def train(args: SmokeArgs, stage: str, layers: int, model: Path, data: Path, clock: Clock) -> dict:
    """One trainer run under stage_meter.py; its figures, checked: whole model written, DPO's engines released."""
    work = Path(args.work_dir)
    meter, output = work / f"meter_{stage}_{layers}.json", work / "out" / f"{stage}_{layers}_layers"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(REPO / args.accelerate_config),
           "--num_processes", "1", "--num_machines", "1", "--main_process_port", str(free_port()),
           str(REPO / "tests" / "stage_meter.py"), str(meter), stage, str(smoke_config(args, stage)),
           "--model_name_or_path", str(model), "--train_file", str(data), "--output_dir", str(output), "--seed", "0"]
    result = run_stage(f"{stage}_{layers}_layers", cmd, args, clock, os.environ.get("PYTHONPATH"))
    if result["status"] != "ok":
        return result
    figures = json.loads(meter.read_text())
    steps = figures.pop("step_seconds")
    problems = []
    if not (output / "train_log.json").is_file():
        problems.append(f"no whole model in {output}")
    probe = figures.pop("probe", None)
    if probe is not None and not (probe.get("engine_before") and probe.get("hooks_after") == []):
        problems.append(f"the precompute engine's hooks outlived its release: {probe.get('hooks_after')}")
    if not steps:
        problems.append("no optimizer step was taken")
    result.update(figures, steps=len(steps), first_step_seconds=steps[0] if steps else None,
                  seconds_per_step=statistics.median(steps[1:] or steps) if steps else None)
    if probe is not None:
        result["probe"] = {"engine_before": probe.get("engine_before"), "hooks_before": len(probe.get("hooks_before", [])),
                           "hooks_after": probe.get("hooks_after")}
    if problems:
        result["status"] = "; ".join(problems)
    shutil.rmtree(output, ignore_errors=True)  # a few GB each; the figures are what is kept
    return result


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample(args: SmokeArgs, engine: str, model: Path, prompts: Path, clock: Clock) -> dict:
    """generation/sample.py with ``engine`` (vllm: in vllm_python); every prompt must get K samples of the
    model's habit, stopped."""
    if engine == "vllm":  # vLLM's interpreter, without this one's packages (vLLM pins its own transformers)
        python, pythonpath = args.vllm_python, args.vllm_pythonpath
    else:
        python, pythonpath = sys.executable, os.environ.get("PYTHONPATH")
    output = Path(args.work_dir) / "out" / f"sample_{engine}"
    cmd = [python, str(REPO / "generation" / "sample.py"), "--model_name_or_path", str(model),
           "--dataset_name_or_path", str(prompts), "--output_dir", str(output), "--K", str(args.K),
           "--max_new_tokens", str(args.max_new_tokens), "--temperature", "1.0", "--seed", "0",
           "--prompt_type", PROMPT_TYPE, "--engine", engine]
    if engine == "vllm":
        cmd += ["--gpu_memory_utilization", str(args.gpu_memory_utilization)]
    result = run_stage(f"sample_{engine}", cmd, args, clock, pythonpath)
    if result["status"] != "ok":
        return result
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    records = read_records(shard_path(output, 0, 1), SAMPLES)
    responses = [r for record in records for r in record["responses"]]
    reasons = {reason for record in records for reason in record.get("finish_reasons", [])}
    counted = [n for record in records for n in record.get("num_tokens", [])]
    result.update(prompts=len(records), responses=len(responses), tokens=sum(counted))
    if len(records) != args.prompts or len(responses) != args.prompts * args.K:
        result["status"] = f"{len(records)} prompts and {len(responses)} responses, not {args.prompts} x {args.K}"
    elif reasons != {"stop"} or not all(HABIT.fullmatch(r) for r in responses):
        result["status"] = f"samples off the model's habit (finish reasons {sorted(reasons)}): {responses[:4]}"
    elif counted != [len(tokenizer(r, add_special_tokens=False)["input_ids"]) + 1 for r in responses]:
        result["status"] = "num_tokens is not each response's tokens and the <|im_end|> that stopped it"
    elif engine == "vllm" and not VLLM_LOG_LINE.search(Path(result["log"]).read_text(errors="replace")):
        result["status"] = "vLLM's INFO/WARNING lines did not reach the stage's log"
    return result


# ---- the figures -------------------------------------------------------------------------------------------

def line_at(points: dict[int, float], x: float) -> float:
    """The least-squares line through ``points`` (depth -> figure), read at ``x``."""
    xs, ys = list(points), list(points.values())
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((a - mean_x) * (b - mean_y) for a, b in zip(xs, ys, strict=True)) / sum((a - mean_x) ** 2 for a in xs)
    return mean_y + slope * (x - mean_x)


def extrapolate(runs: dict[int, dict], args: SmokeArgs) -> dict | None:
    """The figures at ``target_layers``: on one GPU, and memory per GPU of ``target_gpus`` under ZeRO-3."""
    if len(runs) < 2 or any(run.get("status") != "ok" for run in runs.values()):
        return None
    x = args.target_layers
    figures = {"layers": x, "parameters": parameter_count(args, x),
               "seconds_per_step_one_gpu": line_at({n: r["seconds_per_step"] for n, r in runs.items()}, x)}
    if runs[min(runs)].get("peak_gib") is not None:  # without CUDA there are no memory figures
        figures.update(memory_at(runs, args))
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}


def memory_at(runs: dict[int, dict], args: SmokeArgs) -> dict:
    """Memory at ``target_layers``: on one GPU, and estimated per GPU of ``target_gpus`` under ZeRO-3."""
    x, gpus = args.target_layers, args.target_gpus
    peak = line_at({n: r["peak_gib"] for n, r in runs.items()}, x)
    state = line_at({n: r["state_gib"] for n, r in runs.items()}, x)
    setup = line_at({n: r["setup_peak_gib"] for n, r in runs.items()}, x)
    weights = parameter_count(args, x) * 2 / GIB  # bf16, as DeepSpeed holds the model while it loads
    return {
        "peak_gib_one_gpu": peak, "state_gib_one_gpu": state, "setup_peak_gib_one_gpu": setup,
        # ZeRO-3 shards the persistent state (weights, gradients, Adam) over the GPUs, not what a step adds
        "peak_gib_per_gpu_estimate": state / gpus + (peak - state),
        "setup_peak_gib_per_gpu_estimate": weights / gpus + (setup - weights),
        "per_gpu_estimate_gpus": gpus,
    }


def environment(device: str) -> dict:
    import torch

    versions = {}
    for name in ("torch", "transformers", "trl", "accelerate", "deepspeed", "datasets"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu", "cuda": torch.version.cuda,
            "python": platform.python_version(), "versions": versions}


def smoke(args: SmokeArgs) -> dict:
    """Every stage, in order of what a first real run needs most; the report written to output_json."""
    import torch

    start, clock = time.time(), Clock(args.deadline)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    report = {"environment": environment(device), "settings": asdict(args), "stages": {}}
    logger.info("building the models (%s layers) on %s", args.layers, device)
    models, params = build_models(args, device)
    report["stages"]["build"] = {"status": "ok", "seconds": round(time.time() - start, 1),
                                 "parameters": {str(n): p for n, p in params.items()}}
    data = write_data(args, models[min(models)])
    for stage in ("dpo", "sft"):
        runs = {n: train(args, stage, n, models[n], data["pairs" if stage == "dpo" else "sft"], clock) for n in models}
        for n, run in runs.items():
            report["stages"][f"{stage}_{n}_layers"] = run
        report[f"{stage}_at_{args.target_layers}_layers"] = extrapolate(runs, args)
    smallest = models[min(models)]
    report["stages"]["sample_hf"] = sample(args, "hf", smallest, data["prompts"], clock)
    if args.vllm_python:
        report["stages"]["sample_vllm"] = sample(args, "vllm", smallest, data["prompts"], clock)
    else:
        report["stages"]["sample_vllm"] = {"status": "skipped: no interpreter with vllm"}
    failed = [name for name, s in report["stages"].items() if s["status"] != "ok" and not s["status"].startswith("skipped")]
    report.update(ok=not failed, failed=failed, wall_seconds=round(time.time() - start, 1))
    write_json(args.output_json, report)
    for name, s in report["stages"].items():
        logger.info("%-16s %s%s", name, s["status"], f" ({s['seconds']} s)" if "seconds" in s else "")
    logger.info("figures in %s; %s", args.output_json, "every stage passed" if not failed else f"FAILED: {failed}")
    return report


def main(args: SmokeArgs) -> None:
    if not smoke(args)["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    run_cli(main, [SmokeArgs])
