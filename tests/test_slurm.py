"""The loop under SLURM (launcher: slurm), offline on CPU: tests/fake_slurm/ puts stand-ins for srun and
scontrol first on PATH; they run each job step's tasks here, with the SLURM_* variables a real srun sets.

Covered: sharded generation over 2 "nodes" (every prompt once, a failed shard named with its node), the
training launch (each node's machine rank and the main address, as accelerate parses them), 2 nodes x 1
process over gloo training what 1 process does, the benchmarks spread over tasks, the config's checks of
the allocation; marked slow, the micro run end to end on 2 "nodes", then resumed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from test_pipeline import MICRO, check_run_is_whole
from test_train import DPO_YAML, ONE_THREAD_ENV, run_dpo, wrong_answer

from common.config import ConfigError
from common.records import read_records, write_jsonl
from generation.merge import MergeArgs
from generation.merge import main as merge_main
from generation.sample import shard_path
from pipeline.config import expand, load_config, shell_assignments

REPO = Path(__file__).resolve().parent.parent
FAKE_SLURM = REPO / "tests" / "fake_slurm"


def allocation(nodes: str = "node0,node1", job_id: str = "1234", **more: str) -> dict[str, str]:
    """The environment of a job's first process, as sbatch leaves it, with the stand-ins on PATH."""
    return {**ONE_THREAD_ENV, "PATH": f"{FAKE_SLURM}{os.pathsep}{os.environ['PATH']}", "SLURM_JOB_ID": job_id,
            "SLURM_JOB_NODELIST": nodes, "SLURM_JOB_NUM_NODES": str(len(nodes.split(","))),
            "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false", **more}


def bash(script: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f"source common/slurm.sh; {script}"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- generation


def launch_srun(tmp_path: Path, model: Path, prompts: Path, *extra: str) -> subprocess.CompletedProcess:
    command = ["bash", "generation/launch.sh", "--srun", "--nodes", "2", "--tasks_per_node", "2", "--world_size", "4",
               "--model_name_or_path", str(model), "--dataset_name_or_path", str(prompts),
               "--output_dir", str(tmp_path / "shards"), "--K", "2", "--max_new_tokens", "4", "--engine", "hf", *extra]
    env = allocation(GEN_PYTHON=sys.executable, CUDA_VISIBLE_DEVICES="")
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_srun_needs_the_node_count_from_its_caller(tmp_path):
    """The allocation's node count is read in one place (pipeline/slurm.py, for the driver); launch.sh takes it
    as --nodes."""
    out = subprocess.run(["bash", "generation/launch.sh", "--srun", "--world_size", "2", "--output_dir", str(tmp_path)],
                         cwd=REPO, env=allocation(GEN_PYTHON=sys.executable), capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--srun needs --nodes N" in out.stderr and "Traceback" not in out.stderr


def test_two_nodes_of_two_shards_sample_every_prompt_once_and_a_failed_shard_is_named(tmp_path, tiny_assets):
    prompts = tiny_assets / "task" / "iter_1.jsonl"
    shards = tmp_path / "shards"
    shards.mkdir()
    shard_path(shards, 3, 4).write_text("not json\n")  # shard 3, the second task on node1, fails on it
    out = launch_srun(tmp_path, tiny_assets / "model", prompts)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "shard 3 of 4 FAILED on node node1" in out.stderr
    assert "1 of 4 shard(s) failed: 3" in out.stderr and "shard 2 of 4 FAILED" not in out.stderr
    # Blocks of 2 tasks per node: shards 0 and 1 ran on node0, shard 2 on node1, each on its own.
    for shard, node in ((0, "node0"), (1, "node0"), (2, "node1")):
        log = (shards / "logs" / f"shard_{shard}_of_4.log").read_text()
        assert log.startswith(f"launch.sh: shard {shard} of 4 on node {node}, CPU, task {shard},"), log[:200]
        assert shard_path(shards, shard, 4).is_file()

    shard_path(shards, 3, 4).unlink()
    out = launch_srun(tmp_path, tiny_assets / "model", prompts, "--shards", "3")  # only the failed one
    assert out.returncode == 0, out.stderr
    assert "1 shard(s) of 4 over 1 srun task(s)" in out.stdout and "all 1 shard(s) of 4 done" in out.stdout
    merge_main(MergeArgs(shard_dir=str(shards), my_world_size=4, output_file=str(tmp_path / "samples.jsonl"),
                         dataset_name_or_path=str(prompts)))
    merged = read_records(tmp_path / "samples.jsonl")
    assert [r["idx"] for r in merged] == [r["idx"] for r in read_records(prompts)]
    assert all(len(r["responses"]) == 2 for r in merged)


# ---------------------------------------------------------------- placement


def test_each_task_gets_its_share_of_the_items_and_its_own_gpus(tmp_path):
    """3 benchmarks over 2 nodes x 2 tasks: 3 tasks, block-placed, each on the GPU of its local id."""
    out = bash(f"slurm_each 2 a,b,c 1 2 bash -c 'echo $SLURMD_NODENAME $CUDA_VISIBLE_DEVICES {{items}} "
               f">{tmp_path}/$SLURM_PROCID'", allocation(CUDA_VISIBLE_DEVICES="0,1"))
    assert out.returncode == 0, out.stderr
    seen = sorted((tmp_path / name).read_text().split() for name in os.listdir(tmp_path))
    assert seen == [["node0", "0", "a"], ["node0", "1", "b"], ["node1", "0", "c"]]

    out = bash(f"slurm_each 1 a,b,c 2 1 bash -c 'echo $CUDA_VISIBLE_DEVICES {{items}} >{tmp_path}/one'",
               allocation(CUDA_VISIBLE_DEVICES="4,5"))
    assert (tmp_path / "one").read_text().split() == ["4,5", "a,b,c"]  # one task of 2 GPUs: all three

    out = bash("slurm_each 2 a,b 1 1 bash -c 'exit $SLURM_PROCID'", allocation())
    assert out.returncode != 0 and "task 1 (b) FAILED on node node1 (exit 1)" in out.stderr


@pytest.mark.parametrize(
    "nodelist, first",
    [("gpu[007-009,12]-ib,cpu1", "gpu007-ib"), ("a1,b2", "a1"), ("single", "single"), ("n[3]", "n3")],
)
def test_first_host_without_scontrol(nodelist, first):
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    assert subprocess.run(["bash", "-c", "command -v scontrol"], env=env).returncode != 0
    out = bash(f"slurm_first_host {shlex.quote(nodelist)}", env)
    assert out.returncode == 0 and out.stdout.strip() == first, out.stderr


def accelerate_argv(tmp_path: Path, fail_on: str = "") -> tuple[subprocess.CompletedProcess, dict[str, list[str]]]:
    """slurm_accelerate over 2 nodes x 4 GPUs with a stand-in interpreter that records its arguments."""
    stand_in = tmp_path / "python"
    stand_in.write_text(f"""#!/usr/bin/env bash
printf '%s\\n' "$@" >{tmp_path}/argv.$SLURMD_NODENAME
if [[ $SLURMD_NODENAME == "{fail_on}" ]]; then exit 3; fi
sleep {5 if fail_on else 0}; echo finished >>{tmp_path}/argv.$SLURMD_NODENAME
""")
    stand_in.chmod(0o755)
    out = bash(f"slurm_accelerate 2 4 {stand_in} configs/accelerate/multinode_zero3.yaml dpo_iteration/dpo.py "
               "configs/dpo/demo.yaml --beta 0.2", allocation(), timeout=30)
    recorded = {node: (tmp_path / f"argv.{node}").read_text().splitlines() if (tmp_path / f"argv.{node}").exists()
                else [] for node in ("node0", "node1")}
    return out, recorded


def test_training_launch_gives_each_node_its_rank_and_the_first_node_as_main(tmp_path):
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser

    out, recorded = accelerate_argv(tmp_path)
    assert out.returncode == 0, out.stderr
    for rank, node in enumerate(("node0", "node1")):
        argv = recorded[node]
        assert argv[:2] == ["-m", "accelerate.commands.launch"] and argv[-1] == "finished"
        # As accelerate itself reads them: its parser, then the config file's values under the flags.
        args, _, _ = _validate_launch_command(launch_command_parser().parse_args(argv[2:-1]))
        assert args.machine_rank == rank
        assert (args.num_machines, args.num_processes) == (2, 8)  # the flags (2 nodes x 4), not the file's 16
        assert (args.main_process_ip, args.main_process_port) == ("node0", 20000 + 1234)
        assert args.use_deepspeed and args.zero_stage == 3 and args.zero3_save_16bit_model  # a loadable model
        assert args.deepspeed_multinode_launcher == "standard"  # srun started each node: no pdsh over ssh
        assert [args.training_script, *args.training_script_args] == [
            "dpo_iteration/dpo.py", "configs/dpo/demo.yaml", "--beta", "0.2"]


def test_training_ports_stay_below_the_kernels_ephemeral_range():
    """Linux hands out 32768-60999 (net.ipv4.ip_local_port_range) to outgoing connections; a rendezvous port
    there can be taken by one. Distinct job ids on one first node get distinct ports."""
    ports = {}
    for job_id in (0, 1234, 1235, 11999, 12000, 13000, 19999, 32767, 987654, 4294967295):
        out = bash("slurm_port", allocation(job_id=str(job_id)))
        assert out.returncode == 0, out.stderr
        ports[job_id] = int(out.stdout)
    assert all(20000 <= port < 32768 for port in ports.values()), ports
    assert len({ports[1234], ports[1235], ports[11999]}) == 3
    assert bash("slurm_port", allocation(MAIN_PROCESS_PORT="29500")).stdout.strip() == "29500"


def test_batch_script_takes_each_nodes_whole_memory():
    """Without --mem SLURM applies the site's default per CPU or node, which can be too little to load 7B."""
    directives = re.findall(r"^#SBATCH (\S+)", (REPO / "configs/slurm/iter_dpo.sbatch").read_text(), re.MULTILINE)
    assert "--mem=0" in directives and "--exclusive" in directives


def test_a_failed_rank_stops_every_node(tmp_path):
    out, recorded = accelerate_argv(tmp_path, fail_on="node1")
    assert out.returncode != 0
    assert "node1: task 1: Exited with exit code 3" in out.stderr
    assert "finished" not in recorded["node0"]  # killed, not left waiting for its peer


@pytest.mark.slow
def test_two_nodes_over_gloo_train_what_one_process_does(tiny_assets, tmp_path):
    """2 nodes x 1 process with batch 2 each through slurm_accelerate = 1 process with batch 4."""
    import torch
    from safetensors.torch import load_file

    data = tmp_path / "data"
    data.mkdir()
    records = read_records(tiny_assets / "task" / "sft.jsonl")[:16]
    write_jsonl(data / "pairs.jsonl", (
        {"idx": r["idx"], "prompt": r["prompt"], "chosen": r["completion"], "rejected": wrong_answer(r["completion"]),
         "chosen_reward": 1.0, "rejected_reward": -1.0, "margin": 2.0} for r in records))
    (data / "dpo.yaml").write_text(DPO_YAML)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as tests/test_train.py does, for the same reason (shared cores)
    try:
        one = run_dpo(data, tiny_assets / "model", tmp_path / "one")
    finally:
        torch.set_num_threads(threads)
    script = [sys.executable, "configs/accelerate/cpu_ddp.yaml", "dpo_iteration/dpo.py", str(data / "dpo.yaml"),
              "--model_name_or_path", str(tiny_assets / "model"), "--train_file", str(data / "pairs.jsonl"),
              "--output_dir", str(tmp_path / "two"), "--seed", "1", "--per_device_train_batch_size", "2",
              "--ddp_find_unused_parameters", "false"]
    env = allocation(nodes="localhost,127.0.0.1", MAIN_PROCESS_PORT=str(free_port()), CUDA_VISIBLE_DEVICES="")
    out = bash("slurm_accelerate 2 1 " + shlex.join(script), env, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "the 2 processes train together over gloo" in out.stderr

    start, first, second = (load_file(p / "model.safetensors") for p in (tiny_assets / "model", one, tmp_path / "two"))
    assert second.keys() == first.keys()
    moved = max((first[k] - start[k]).abs().max().item() for k in first)
    differ = max((first[k] - second[k]).abs().max().item() for k in first)
    assert differ < 2e-2 * moved, (differ, moved)  # the tolerance of tests/test_train.py, for the same reason
    assert json.loads((tmp_path / "two" / "train_log.json").read_text())["pairs"] == 16


# ---------------------------------------------------------------- config and evaluation


def test_launcher_slurm_needs_an_allocation(monkeypatch, tmp_path):
    for name in ("SLURM_JOB_ID", "SLURM_JOB_NODELIST", "SLURM_JOB_NUM_NODES", "SLURM_NNODES"):
        monkeypatch.delenv(name, raising=False)
    slurm = [f"runs_dir={tmp_path}", "launcher=slurm", "accelerate_config=configs/accelerate/multinode_zero3.yaml"]
    with pytest.raises(ConfigError, match="launcher: slurm needs a SLURM allocation, but SLURM_JOB_ID, "
                                          "SLURM_JOB_NODELIST, SLURM_JOB_NUM_NODES are not set"):
        expand(load_config(str(REPO / MICRO), slurm))
    with pytest.raises(ConfigError, match="num_nodes 2 needs launcher: slurm"):
        load_config(str(REPO / MICRO), ["num_nodes=2"])
    with pytest.raises(ConfigError, match="launcher: slurm needs accelerate_config"):
        load_config(str(REPO / MICRO), ["launcher=slurm"])

    for name, value in allocation(nodes="n0,n1,n2").items():
        monkeypatch.setenv(name, value)
    overrides = [*slurm, "num_gpus=8", "sample.tensor_parallel_size=2"]
    config = expand(load_config(str(REPO / MICRO), [*overrides, "num_shards=0"]))
    settings = shell_assignments(config, resumed=False)
    assert config.num_nodes == 3
    for line in ("NUM_SHARDS=12", "NUM_NODES=3", "GEN_TASKS_PER_NODE=4", "LAUNCHER=slurm", "EVAL_TASKS_PER_NODE=8"):
        assert line in settings.splitlines()
    assert expand(load_config(str(REPO / MICRO), [*overrides, "num_nodes=2"])).num_nodes == 2
    with pytest.raises(ConfigError, match="num_nodes is 4, but the SLURM allocation has 3 node"):
        expand(load_config(str(REPO / MICRO), [*overrides, "num_nodes=4"]))


def test_batch_script_outside_an_allocation_stops_with_one_line(tmp_path):
    """The sbatch script finds the repository where it was submitted and starts the driver with launcher=slurm."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env["SLURM_SUBMIT_DIR"] = str(REPO)
    out = subprocess.run(["bash", str(REPO / "configs" / "slurm" / "iter_dpo.sbatch"), "--config", MICRO,
                          f"runs_dir={tmp_path}", "accelerate_config=configs/accelerate/cpu_ddp.yaml"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    errors = [line for line in out.stderr.splitlines() if "ERROR" in line]
    assert out.returncode == 2 and len(errors) == 1, out.stderr[-2000:]
    assert "launcher: slurm needs a SLURM allocation, but SLURM_JOB_ID" in errors[0]
    assert not (tmp_path / "micro").exists()


def test_benchmark_tasks_leave_the_summary_to_the_last_run(tmp_path):
    """Under SLURM each task evaluates its benchmarks without a summary; the driver's run then writes it."""
    from eval_math.evaluate import EvalArgs, main

    predictions = tmp_path / "arith.jsonl"
    write_jsonl(predictions, [{"idx": 0, "problem": "1+1", "gt": "2", "responses": [r"\boxed{2}"]},
                              {"idx": 1, "problem": "2+2", "gt": "4", "responses": [r"\boxed{5}"]}])
    out = tmp_path / "eval"
    main(EvalArgs(score_only=str(predictions), data_names="arith", output_dir=str(out), write_summary=False))
    assert list(out.glob("arith/*_metrics.json")) and not (out / "summary.json").exists()
    summary = main(EvalArgs(score_only=str(predictions), data_names="arith", output_dir=str(out)))
    assert summary["benchmarks"]["arith"]["accuracy"] == 0.5
    assert json.loads((out / "summary.json").read_text())["average_accuracy"] == 0.5


@pytest.mark.slow
def test_micro_run_on_two_nodes_end_to_end_then_resumed(tmp_path):
    env = allocation(nodes="localhost,127.0.0.1", MAIN_PROCESS_PORT=str(free_port()), SLURM_CPUS_ON_NODE="2")
    args = ["--config", MICRO, f"runs_dir={tmp_path}", "launcher=slurm",
            "accelerate_config=configs/accelerate/cpu_ddp.yaml"]
    run = subprocess.run(["bash", "run_iter_dpo.sh", *args], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    run_dir = tmp_path / "micro"
    check_run_is_whole(run_dir)
    logs = run_dir / "iter_1" / "logs"
    assert "shard 0 of 2 on node localhost" in (logs / "generation.log").read_text()
    assert "shard 1 of 2 on node 127.0.0.1" in (logs / "generation.log").read_text()
    for stage in ("warmup", "train"):  # iteration 0's warm-up and iteration 1's DPO, both on the 2 nodes
        log = (run_dir / f"iter_{0 if stage == 'warmup' else 1}" / "logs" / f"{stage}.log").read_text()
        assert "the 2 processes train together over gloo" in log, stage
    assert "--num_workers 2" in (run_dir / "driver.log").read_text()  # the grader pool: the driver node's cores
    again = subprocess.run(["bash", "run_iter_dpo.sh", *args], cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=300)  # a finished run: every stage skipped
    stages = [line for line in again.stderr.splitlines() if re.search(r"run_iter_dpo: iteration \d+: ", line)]
    assert again.returncode == 0 and len(stages) >= 8, again.stderr[-3000:]
    assert all(": skipped, " in line for line in stages), again.stderr[-3000:]
