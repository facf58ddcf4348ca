"""The driver: its config (validated before any model loads), resume rules, manifest and report; and,
marked slow, whole runs: a 1-iteration micro run end to end, and a run killed with SIGKILL and restarted."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from common.config import ConfigError
from common.records import LABELED, PAIRS, RAFT, SAMPLES, read_records, write_json
from pipeline.config import (
    RESUMABLE_CHANGES,
    count_gpus,
    expand,
    flags,
    load_config,
    missing_inputs,
    shell_assignments,
    trainer_problems,
    write_or_check,
)
from pipeline.manifest import begin_session, end_session, read_manifest
from pipeline.report import collect, read_times, record_time, write_report

REPO = Path(__file__).resolve().parent.parent
DRIVER = REPO / "run_iter_dpo.sh"
RECIPES = sorted(p.relative_to(REPO) for p in (REPO / "configs").glob("*.yaml"))
MICRO = "configs/micro.yaml"


def driver(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled"}
    return subprocess.run(["bash", str(DRIVER), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=env, **kwargs)


# ---------------------------------------------------------------- config


@pytest.mark.parametrize("recipe", RECIPES, ids=str)
def test_every_committed_recipe_is_valid(recipe, tmp_path):
    config = expand(load_config(str(REPO / recipe), [f"runs_dir={tmp_path}"]))
    assert config.run_dir.startswith(str(tmp_path))
    assert len({config.prompt_file(i) for i in range(1, config.iterations + 1)}) == config.iterations


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["sample.Kk=4"], "sample: unknown key 'Kk'; did you mean 'K'"),
        (["iteratons=4"], "unknown key 'iteratons'; did you mean 'iterations'"),
        (["K=4"], "key 'K' has moved to sample.K"),
        (["train_overrides.beta=0.2"], "key 'train_overrides' has moved to the train section"),
        (["sample.K=0"], "sample: n (samples per prompt) must be >= 1"),
        (["sample.K=2.5"], "sample.K must be an integer"),
        (["sample.temperature=hot"], "sample.temperature must be a number"),
        (["sample.stop=[1, 2]"], "sample.stop must be a list of strings"),
        (["evaluate=maybe"], "evaluate must be true or false"),
        (["algorithm=ppo"], "algorithm must be one of"),
        (["pairs.choose_type=raft"], "for RAFT set algorithm: raft"),
        (["pairs.choose_type=max_mni"], "did you mean 'max_min'"),
        (["label.reward_policy=lenient"], "label: reward_policy must be one of"),
        (["sample.output_dir=x"], "sample.output_dir is set by the driver"),
        (["sample.prompt_type=raw"], "sample.prompt_type: set prompt_type at the top"),
        (["prompt_type=nope"], "prompt_type must be one of ('online-dpo-r1'"),
        (["iterations=3", "prompts=[a.jsonl, b.jsonl]"], "2 file(s) for 3 iterations"),
        (["run_name=../elsewhere"], "run_name must be a plain directory name"),
        (["train.beta.x=1"], "dotted keys go one level"),
        (["seed"], "expected key=value"),
        (["train=[beta]"], "train must be a mapping"),
        (["train.config="], "train.config must be set"),
    ],
)
def test_bad_overrides_are_named(overrides, message):
    with pytest.raises(ConfigError, match=None) as error:
        load_config(str(REPO / "configs/demo.yaml"), overrides)
    assert message in str(error.value)


def test_unknown_key_in_a_recipe_names_the_file(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("iteratons: 2\n")
    with pytest.raises(ConfigError, match=r"r\.yaml:1: unknown key 'iteratons'; did you mean 'iterations'"):
        load_config(str(recipe))
    recipe.write_text("eval_max_tokens: 64\n")
    with pytest.raises(ConfigError, match=r"r\.yaml:1: key 'eval_max_tokens' has moved to eval.max_tokens_per_call"):
        load_config(str(recipe))


def test_overrides_are_typed_by_field():
    config = load_config(str(REPO / "configs/demo.yaml"), [
        "run_name=007", "iterations=2", "sample.temperature=1", "prompts=data/p_{i}.jsonl",
        "train.beta=0.2", "train.loss_type=[sigmoid, sft]", "evaluate=false",
    ])
    assert config.run_name == "007"  # a string field keeps what was written, not YAML's int
    assert config.iterations == 2 and config.sample["temperature"] == 1
    assert [config.prompt_file(i) for i in (1, 2)] == ["data/p_1.jsonl", "data/p_2.jsonl"]
    assert config.train == {"config": "configs/dpo/demo.yaml", "beta": 0.2, "loss_type": ["sigmoid", "sft"]}
    assert config.evaluate is False


def test_placeholders_are_expanded_and_gpus_counted(monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2")
    config = expand(load_config(str(REPO / "configs/demo.yaml"), [f"runs_dir={tmp_path}", "num_gpus=-1"]))
    assert config.num_gpus == 3
    assert config.model_name_or_path == f"{tmp_path}/demo/assets/model"
    assert config.prompt_file(2) == f"{tmp_path}/demo/assets/task/iter_2.jsonl"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert count_gpus() == 0


def test_flags_follow_the_trainers_parser():
    assert flags({"beta": 0.1, "loss_type": ["sigmoid", "sft"], "bf16": False, "n": 3}) == [
        "--beta", "0.1", "--loss_type", "sigmoid", "sft", "--bf16", "false", "--n", "3"]


def test_shell_assignments_survive_bash(tmp_path):
    odd = str(tmp_path / "it's a dir; $(touch pwned)")
    config = expand(load_config(str(REPO / "configs/demo.yaml"), [
        f"runs_dir={odd}", "train.output_note=a b  c", "iterations=2"]))
    script = shell_assignments(config, resumed=False) + (
        'printf "%s\\n" "$RUN_DIR" "${PROMPT_FILES[1]}" "${#TRAIN_ARGS[@]}" "${TRAIN_ARGS[3]}" "$HF_HUB_OFFLINE"')
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.splitlines() == [f"{odd}/demo", f"{odd}/demo/assets/task/iter_2.jsonl", "4", "a b  c", "1"]
    assert not (tmp_path / "pwned").exists()


def test_shared_keys_reach_every_stage_that_takes_them(tmp_path):
    def args(overrides, stage):
        config = expand(load_config(str(REPO / "configs/demo.yaml"), [f"runs_dir={tmp_path}", *overrides]))
        script = shell_assignments(config, resumed=False) + f'printf "%s\\n" "${{{stage.upper()}_ARGS[@]}}"'
        return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.split()

    assert args([], "merge") == ["--split", "train"]
    assert args(["split=test", "sample.batch_size=4"], "merge") == ["--split", "test"]  # the split generation read
    assert args(["split=test", "sample.batch_size=4"], "sample")[:4] == ["--prompt_type", "chat", "--split", "test"]
    assert args(["prompt_type=raw"], "eval")[:2] == ["--prompt_type", "raw"]


def test_missing_inputs_are_listed(tmp_path):
    config = expand(load_config(str(REPO / "configs/demo.yaml"), [f"runs_dir={tmp_path}", "train.config=nope.yaml"]))
    problems = "\n".join(missing_inputs(config))
    for expected in ("train.config: nope.yaml", "iter_1.jsonl", "iter_3.jsonl", "model folder not found"):
        assert expected in problems


def test_trainer_configs_are_checked_by_the_trainers_parsers(tiny_model_dir, tmp_path):
    overrides = [f"runs_dir={tmp_path}", f"model_name_or_path={tiny_model_dir}", "warmup={}",
                 "train={config: configs/dpo/qwen25_math_7b.yaml, bf16: false, gradient_checkpointing: false}"]
    assert trainer_problems(expand(load_config(str(REPO / "configs/demo.yaml"), overrides))) == []
    bad = expand(load_config(str(REPO / "configs/demo.yaml"), [*overrides, "train.betaa=0.1",
                                                               "warmup.config=configs/sft/qwen25_math_7b_warmup.yaml",
                                                               f"warmup.train_file={REPO / 'configs/micro.yaml'}",
                                                               "warmup.learning_rate=fast"]))
    problems = trainer_problems(bad)
    assert len(problems) == 2
    assert problems[0].startswith("warmup (dpo_iteration/sft.py ") and "learning_rate" in problems[0]
    assert problems[1].startswith("train (dpo_iteration/dpo.py ") and "betaa" in problems[1]


# ---------------------------------------------------------------- resume rules


def test_resume_keeps_the_config_or_refuses(tmp_path):
    base = [f"runs_dir={tmp_path}"]
    config = expand(load_config(str(REPO / "configs/demo.yaml"), base))
    path = Path(config.run_dir) / "config.yaml"
    assert write_or_check(config, path) is False
    assert write_or_check(config, path) is True
    longer = expand(load_config(str(REPO / "configs/demo.yaml"), [*base, "iterations=5"]))
    assert "iterations" in RESUMABLE_CHANGES and write_or_check(longer, path) is True
    assert yaml.safe_load(path.read_text())["iterations"] == 5
    faster = expand(load_config(str(REPO / "configs/demo.yaml"), [*base, "label.num_workers=2", "num_shards=2"]))
    assert write_or_check(faster, path) is True
    other = expand(load_config(str(REPO / "configs/demo.yaml"), [*base, "sample.K=4", "train.beta=0.3"]))
    with pytest.raises(ConfigError, match=r"different config \(sample.K: 8 -> 4, train.beta: None -> 0.3\)"):
        write_or_check(other, path)
    assert yaml.safe_load(path.read_text())["sample"]["K"] == 8  # the refused config was not written


def test_a_stage_timed_twice_keeps_its_last_time(tmp_path):
    record_time(tmp_path, 1, "label", 3.0)
    record_time(tmp_path, 1, "train", 7.25)
    record_time(tmp_path, 1, "label", 4.5)  # re-run after a kill between the output and the stats
    assert read_times(tmp_path / "iter_1" / "times.tsv") == {"label": 4.5, "train": 7.25}


def test_manifest_keeps_every_session(tmp_path):
    begin_session(tmp_path, "--config a.yaml")
    begin_session(tmp_path, "--config a.yaml")  # the first was killed: it never ended
    end_session(tmp_path, "complete")
    manifest = read_manifest(tmp_path)
    assert [s["status"] for s in manifest["sessions"]] == ["interrupted", "complete"]
    assert manifest["status"] == "complete" and manifest["finished"] == manifest["sessions"][1]["end"]
    session = manifest["sessions"][1]
    assert session["git"]["commit"] and session["train_packages"]["trl"] and session["host"]


# ---------------------------------------------------------------- report


def fake_iteration(run_dir: Path, i: int, accuracy: float | None, reward: float | None, model: bool = True):
    """An iteration directory as the stages leave it (the values are the test's, the layout the stages')."""
    folder = run_dir / f"iter_{i}"
    folder.mkdir(parents=True)
    if accuracy is not None:
        write_json(folder / "eval" / "summary.json", {"benchmarks": {"arith": {"accuracy": accuracy}},
                                                       "average_accuracy": accuracy})
    if reward is not None:
        write_json(folder / "stats.json", {
            "label": {"mean_reward": reward, "pass@1": 0.4, "pass@K": 0.9, "K": 8, "prompts": 16,
                      "mean_num_tokens": 30.5, "truncated": 2},
            "pairs": {"records": 11, "choose_type": "max_min", "chosen_tokens_mean": 28.0,
                      "rejected_tokens_mean": 33.0}})
    if model:
        (folder / "model").mkdir()
    record_time(run_dir, i, "eval", 2.0)


def test_report_of_a_run_in_progress(tmp_path):
    fake_iteration(tmp_path, 0, 0.30, None, model=False)
    fake_iteration(tmp_path, 1, 0.45, -0.2)
    fake_iteration(tmp_path, 2, None, 0.1, model=False)  # sampled and labeled, not trained yet
    summary = write_report(tmp_path, initial_model="base/model")
    assert [(r["iteration"], r["eval_accuracy"]) for r in summary["iterations"]] == [(0, 0.30), (1, 0.45), (2, None)]
    assert summary["iterations"][0]["model"] == "base/model"
    assert summary["final_model"] == str(tmp_path / "iter_1" / "model")
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    report = (tmp_path / "report.md").read_text()
    assert "| 1 | 45.0 | +15.0 | -0.200 | 40.0 | 90.0 | 11 | 28.0 | 33.0 | 30.5 | 2 |" in report
    assert "| 2 | - |" in report
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_without_iterations_points_at_the_initial_model(tmp_path):
    assert collect(tmp_path, "m") == {"iterations": [], "final_model": "m"}


# ---------------------------------------------------------------- the driver itself (no model loads)


def test_driver_rejects_a_bad_config_before_anything_runs(tmp_path):
    out = driver(f"runs_dir={tmp_path}", "sample.K=-1")
    assert out.returncode == 2
    assert "sample: n (samples per prompt) must be >= 1" in out.stderr
    assert not (tmp_path / "demo").exists()  # nothing written, no model built
    out = driver("--config", "configs/nope.yaml")
    assert out.returncode == 2 and "config file not found: " in out.stderr


def test_a_config_that_failed_its_input_check_can_be_corrected(tmp_path):
    base = ["--config", MICRO, f"runs_dir={tmp_path}", "build_demo=false"]
    out = driver(*base, "train.config=nope.yaml")
    assert out.returncode == 2 and "train.config: nope.yaml not found" in out.stderr
    assert not (tmp_path / "micro").exists()  # checked before the run folder is made
    out = driver(*base, "train.config=configs/dpo/demo.yaml")
    assert out.returncode == 2 and "different config" not in out.stderr
    assert "train.config: " not in out.stderr and "model folder not found" in out.stderr


def test_driver_records_its_command_line_in_the_manifest(tmp_path):
    # The demo is built, then the input check (after begin) stops the run: no prompts where they are said to be.
    recipe = {**yaml.safe_load((REPO / MICRO).read_text()), "runs_dir": str(tmp_path),
              "prompts": [str(tmp_path / "absent_{i}.jsonl")]}
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    out = driver(f"--config={tmp_path / 'recipe.yaml'}")  # one word starting with '--': argparse's trap
    assert out.returncode == 2 and "missing input" in out.stderr
    assert read_manifest(tmp_path / "micro")["sessions"][-1]["argv"] == f"--config={tmp_path / 'recipe.yaml'}"


def test_driver_refuses_a_run_directory_in_use(tmp_path):
    run_dir = tmp_path / "demo"
    run_dir.mkdir()
    with open(run_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        out = driver(f"runs_dir={tmp_path}")
    assert out.returncode != 0 and "is in use by another run_iter_dpo.sh" in out.stderr
    assert not (run_dir / "assets").exists()


def test_a_dry_run_prints_every_stage_and_creates_nothing(tmp_path):
    out = driver("--dry_run", "--config", MICRO, f"runs_dir={tmp_path}")
    assert out.returncode == 0, out.stderr[-2000:]
    stages = [line.split(": ")[1] for line in out.stdout.splitlines()]
    assert stages == ["assets", "warmup", "eval", "audit", "generation", "merge", "label", "pairs", "train", "eval"]
    assert "iteration 1: train: trainer dpo_iteration/dpo.py --config configs/dpo/demo.yaml " in out.stdout
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "files, sections, to_run",
    [
        # Where a killed run can stop: label.py writes labeled.jsonl, then its stats section; pairs.py
        # likewise. A file without its section is unfinished, and so is everything after it.
        ([], [], ["label", "pairs"]),
        (["labeled.jsonl"], [], ["label", "pairs"]),
        (["labeled.jsonl"], ["label"], ["pairs"]),
        (["labeled.jsonl", "pairs.jsonl"], ["label"], ["pairs"]),
        (["labeled.jsonl", "pairs.jsonl"], ["label", "pairs"], []),
    ],
)
def test_label_and_pairs_are_whole_only_with_their_file_and_their_stats_section(tmp_path, files, sections, to_run):
    """The driver's resume rule, as a dry run over an iteration killed between writing a file and its section."""
    folder = tmp_path / "micro" / "iter_1"
    folder.mkdir(parents=True)
    for name in ("audit.json", "samples.jsonl", *files):
        (folder / name).write_text("{}\n")
    write_json(folder / "stats.json", {"audit": {}, **{section: {"prompts": 1} for section in sections}})
    out = driver("--dry_run", "--config", MICRO, f"runs_dir={tmp_path}", "iterations=1")
    assert out.returncode == 0, out.stderr[-2000:]
    ran = [line.split(": ")[1] for line in out.stdout.splitlines() if line.startswith("iteration 1: ")]
    assert ran == [*to_run, "train", "eval"]
    for stage in {"label", "pairs"} - set(to_run):
        assert f"iteration 1: {stage}: skipped" in out.stderr


def test_driver_help_and_keys():
    out = driver("--help")
    assert out.returncode == 0 and "bash run_iter_dpo.sh --config" in out.stdout
    out = driver("--keys")
    assert out.returncode == 0 and "\n  train.ref_policy " in out.stdout and "\n  sample.K " in out.stdout
    assert "\n  iterations " in out.stdout and "\n  sample.output_dir" not in out.stdout  # the driver's own


# ---------------------------------------------------------------- whole runs (slow)

PROMPT_SCHEMAS = {"samples.jsonl": SAMPLES, "labeled.jsonl": LABELED}


def check_run_is_whole(run_dir: Path) -> None:
    """Every stage file parses whole; each prompt appears exactly once; the report is there."""
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    for i in range(1, config["iterations"] + 1):
        folder = run_dir / f"iter_{i}"
        prompts = [r["idx"] for r in read_records(Path(config["prompts"][0].replace("{i}", str(i))))]
        for name, schema in PROMPT_SCHEMAS.items():
            assert [r["idx"] for r in read_records(folder / name, schema)] == prompts, name
        data, schema = ("raft.jsonl", RAFT) if config["algorithm"] == "raft" else ("pairs.jsonl", PAIRS)
        made = [r["idx"] for r in read_records(folder / data, schema)]
        assert len(made) == len(set(made)) and set(made) <= set(prompts)
        stats = json.loads((folder / "stats.json").read_text())
        assert stats["label"]["prompts"] == len(prompts) and stats["pairs"]["records"] == len(made)
        assert (folder / "model" / "config.json").is_file() and not (folder / "model.partial").exists()
        assert not list(folder.rglob(".*.tmp")), "a temporary file was left behind"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [r["iteration"] for r in summary["iterations"]] == list(range(config["iterations"] + 1))
    assert all(0 <= r["eval_accuracy"] <= 1 for r in summary["iterations"])
    assert summary["final_model"] == str(run_dir / f"iter_{config['iterations']}" / "model")
    assert "| iter | accuracy %" in (run_dir / "report.md").read_text()
    assert (run_dir / "curves.png").stat().st_size > 0
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "complete"


@pytest.mark.slow
def test_micro_run_end_to_end(tmp_path):
    overrides = [f"runs_dir={tmp_path}"]
    out = driver("--config", MICRO, *overrides, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    run_dir = tmp_path / "micro"
    check_run_is_whole(run_dir)
    assert f"report {run_dir}/report.md" in out.stderr
    again = driver("--config", MICRO, *overrides, timeout=300)  # a finished run: every stage skipped
    assert again.returncode == 0
    skipped = again.stderr.count(": skipped, ")
    assert skipped == 9 and "resuming" in again.stderr, again.stderr[-3000:]  # 8 stages + the audit


def start_driver(args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled"}
    with open(log, "a") as out:
        # Its own session, so that the kill reaches the driver and every stage it started, as a crash would.
        return subprocess.Popen(["bash", str(DRIVER), *args], cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)


def kill_when(process: subprocess.Popen, ready, timeout: float = 600) -> None:
    """SIGKILL the driver's whole process group as soon as ``ready()`` holds."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, "the driver finished before it could be killed"
        assert time.monotonic() < deadline, "the kill point never came"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.mark.slow
def test_a_killed_run_resumes_losing_and_doubling_nothing(tmp_path):
    args = ["--config", MICRO, f"runs_dir={tmp_path}"]
    run_dir, log = tmp_path / "micro", tmp_path / "driver.out"
    driver_log = run_dir / "driver.log"

    # 1. Killed mid-generation: shard 0 of 2 written, shard 1 being sampled.
    first = start_driver(args, log)
    kill_when(first, lambda: (run_dir / "iter_1" / "shards" / "shard_0_of_2.jsonl").exists())
    # 2. Killed mid-training, a second after the trainer started.
    second = start_driver(args, log)
    training_since = []

    def training_for_a_second() -> bool:
        if not training_since and "iteration 1: train: " in driver_log.read_text().split("resuming")[-1]:
            training_since.append(time.monotonic())
        return bool(training_since) and time.monotonic() - training_since[0] > 1.0

    kill_when(second, training_for_a_second)
    assert not (run_dir / "iter_1" / "model").exists()
    # 3. Runs to the end.
    third = start_driver(args, log)
    assert third.wait(timeout=600) == 0, log.read_text()[-3000:]

    check_run_is_whole(run_dir)
    _, second_part, third_part = driver_log.read_text().split("resuming")
    assert "iteration 1: generation shard 0 of 2: skipped" in second_part
    assert "--shards 1 " in second_part  # only the unfinished shard was sampled again
    for stage in ("assets", "warmup", "eval"):
        assert f"iteration 0: {stage}: skipped" in second_part
    for stage in ("generation", "label", "pairs"):
        assert f"iteration 1: {stage}: skipped" in third_part
    assert "iteration 1: train: " in third_part
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert [s["status"] for s in manifest["sessions"]] == ["interrupted", "interrupted", "complete"]


def test_report_shows_the_warmups_validation_curve_and_the_checkpoint_kept(tmp_path):
    validation = {"val_file": "val.jsonl", "problems": 300, "val_steps": 100, "patience": 4,
                  "curve": [[100, 0.1], [200, 0.25], [300, 0.2]], "best_step": 200, "best_accuracy": 0.25,
                  "stopped_early": True, "last_step": 300, "max_steps": 1500}
    write_json(tmp_path / "iter_0" / "model" / "train_log.json", {"stage": "sft", "validation": validation})
    summary = write_report(tmp_path)
    assert summary["warmup_validation"] == validation
    report = (tmp_path / "report.md").read_text()
    assert "by step): 100: 10.0, 200: 25.0, 300: 20.0." in report
    assert "stopped early at step 300 of 1500" in report and "checkpoint of step 200 (25.0%)" in report
    # a warm-up without validation (or none at all) adds no such line
    write_json(tmp_path / "iter_0" / "model" / "train_log.json", {"stage": "sft"})
    assert "warmup_validation" not in write_report(tmp_path)
    assert "Warm-up validation" not in (tmp_path / "report.md").read_text()
