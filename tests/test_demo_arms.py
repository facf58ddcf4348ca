"""The arms sweep's logic (bench/demo_arms.py: one warm-up per seed shared by every arm, when each arm
starts, what is skipped, arms.json) and, marked slow, the demo's determinism and the SFT control's draws."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def load_bench():
    spec = importlib.util.spec_from_file_location("demo_arms", REPO / "bench" / "demo_arms.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


demo_arms = load_bench()


def overrides(seed: int, *more: str) -> list[str]:
    return ["runs_dir=/tmp/unused", f"run_name=r{seed}", f"seed={seed}", *more]


def test_every_arm_of_a_seed_makes_the_loops_warmup(monkeypatch):
    key = demo_arms.warmup_key
    monkeypatch.chdir(REPO)  # the configs name their trainer configs relative to the repository
    for arm, (config, _) in demo_arms.DRIVER_ARMS.items():
        assert key(config, demo_arms.arm_overrides(arm, 42, "/tmp/unused", [])) == key(
            demo_arms.LOOP_CONFIG, demo_arms.arm_overrides("loop", 42, "/tmp/unused", [])), arm
    demo_arms.check_one_warmup([42, 43], "/tmp/unused", [])
    loop = demo_arms.LOOP_CONFIG
    assert key(loop, overrides(42, "train.beta=0.2", "sample.K=4")) == key(loop, overrides(42))
    # anything before the loop changes the warm-up model or its evaluation
    for change in ("warmup.learning_rate=1.0e-3", "build.num_sft=100", "eval.max_tokens_per_call=32",
                   "iterations=2", "build.one_line_share=0.5"):
        assert key(loop, overrides(42, change)) != key(loop, overrides(42)), change
    assert key(loop, overrides(43)) != key(loop, overrides(42))


def test_an_arm_whose_config_differs_before_the_loop_is_refused(monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.setitem(demo_arms.DRIVER_ARMS, "raft", ("configs/demo_raft.yaml", ["build.num_sft=100"]))
    with pytest.raises(SystemExit, match="raft"):
        demo_arms.check_one_warmup([42], "/tmp/unused", [])


def fake_warmup(folder: Path) -> None:
    for path in ("assets/DONE", "assets/model/model.safetensors", "iter_0/model/model.safetensors",
                 "iter_0/times.tsv"):
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(path)
    fake_eval(folder / "iter_0" / "eval", 0.30)


def fake_eval(folder: Path, accuracy: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps({"average_accuracy": accuracy}))


def test_a_warmup_is_shared_by_hard_links_only_with_a_run_not_started(tmp_path):
    source, target = tmp_path / "loop_s1", tmp_path / "raft_s1"
    assert not demo_arms.share_warmup(source, target)  # no finished warm-up to share
    fake_warmup(source)
    assert demo_arms.share_warmup(source, target)
    shared = target / "iter_0" / "model" / "model.safetensors"
    assert shared.read_text() == "iter_0/model/model.safetensors"
    assert shared.stat().st_ino == (source / "iter_0" / "model" / "model.safetensors").stat().st_ino
    assert (target / "assets" / "DONE").is_file() and (target / "iter_0" / "eval" / "summary.json").is_file()
    started = tmp_path / "started"
    started.mkdir()
    (started / "config.yaml").write_text("run_name: started\n")
    assert not demo_arms.share_warmup(source, started)
    assert not (started / "iter_0").exists()


# The final accuracy each fake arm reaches (iteration 0 is the warm-up's 0.30).
FINAL = {"loop": 0.60, "raft": 0.55, "sft_control": 0.32, "reward_blind": 0.31, "reward_reversed": 0.10}


@pytest.fixture
def fake_stages(monkeypatch):
    """run_driver and run_control stand-ins that write what the real ones would, and log when they ran."""
    events, lock = [], threading.Lock()

    def fake_run_driver(config_file, overrides, log):
        name = next(o.split("=", 1)[1] for o in overrides if o.startswith("run_name="))
        runs_dir = Path(next(o.split("=", 1)[1] for o in overrides if o.startswith("runs_dir=")))
        run_dir = runs_dir / name
        arm = name.rsplit("_s", 1)[0]
        with lock:
            events.append(("start", name, (run_dir / "iter_0" / "model").exists()))
        if arm == "loop":
            time.sleep(0.3)
            fake_warmup(run_dir)
            time.sleep(0.3)
        (run_dir / "config.yaml").write_text(f"run_name: {name}\n")
        for i in (1, 2):
            (run_dir / f"iter_{i}").mkdir(parents=True, exist_ok=True)
            (run_dir / f"iter_{i}" / "pairs.jsonl").write_text("{}\n" * (10 * i))
            fake_eval(run_dir / f"iter_{i}" / "eval", (0.30 + FINAL[arm]) / 2 if i == 1 else FINAL[arm])
        with lock:
            events.append(("end", name, True))
        return 0

    def fake_run_control(loop_dir, control_dir):
        with lock:
            events.append(("start", control_dir.name, (loop_dir / "iter_2" / "eval" / "summary.json").exists()))
        for i in (1, 2):
            fake_eval(control_dir / f"iter_{i}" / "eval", 0.31 if i == 1 else FINAL["sft_control"])
        with lock:
            events.append(("end", control_dir.name, True))

    monkeypatch.setattr(demo_arms, "run_driver", fake_run_driver)
    monkeypatch.setattr(demo_arms, "run_control", fake_run_control)
    monkeypatch.setattr(demo_arms, "POLL_S", 0.05)
    return events


def test_the_arms_share_one_warmup_started_after_it(tmp_path, monkeypatch, fake_stages):
    monkeypatch.chdir(REPO)
    tasks = demo_arms.plan([1, 2], list(demo_arms.ARMS), str(tmp_path), ["iterations=2"])
    demo_arms.sweep(tasks, jobs=2)
    starts = {name: had_warmup for kind, name, had_warmup in fake_stages if kind == "start"}
    assert set(starts) == {f"{arm}_s{seed}" for arm in demo_arms.ARMS for seed in (1, 2)}
    for seed in (1, 2):
        assert starts[f"loop_s{seed}"] is False  # the loop makes the warm-up
        for arm in ("raft", "reward_blind", "reward_reversed"):
            assert starts[f"{arm}_s{seed}"] is True  # every other driver arm finds it there, as hard links
            model = tmp_path / f"{arm}_s{seed}" / "iter_0" / "model" / "model.safetensors"
            assert model.stat().st_ino == (tmp_path / f"loop_s{seed}" / "iter_0" / "model" / "model.safetensors").stat().st_ino
        assert starts[f"sft_control_s{seed}"] is True  # the control starts after the loop has finished
    running, most = 0, 0
    for kind, _, _ in fake_stages:
        running += 1 if kind == "start" else -1
        most = max(most, running)
    assert most == 2  # two at a time, never more


def test_arms_json_has_the_final_accuracies_by_seed_and_arm(tmp_path, monkeypatch, fake_stages):
    monkeypatch.chdir(REPO)
    monkeypatch.setattr("sys.argv", ["demo_arms.py", "--seeds", "1", "2", "--jobs", "2", "--runs_dir", str(tmp_path),
                                     "--set", "iterations=2"])
    demo_arms.main()
    summary = json.loads((tmp_path / "arms.json").read_text())
    assert set(summary["seeds"]) == {"1", "2"}
    for row in summary["seeds"].values():
        assert list(row) == ["warmup", "loop", "raft", "sft_control", "reward_blind", "reward_reversed"]
        assert row == pytest.approx({"warmup": 0.30, **FINAL})
        assert all(isinstance(v, float) and 0 <= v <= 1 for v in row.values())
    assert summary["curves"]["1"]["loop"] == pytest.approx([0.30, 0.45, 0.60])
    assert summary["curves"]["2"]["sft_control"] == pytest.approx([0.30, 0.31, 0.32])
    assert set(summary["wall_s"]["1"]) == set(demo_arms.ARMS) and summary["num_test"] == 500


def test_finished_arms_are_not_run_again(tmp_path, monkeypatch, fake_stages):
    monkeypatch.chdir(REPO)
    demo_arms.sweep(demo_arms.plan([1], list(demo_arms.ARMS), str(tmp_path), ["iterations=2"]), jobs=2)
    first = len(fake_stages)
    (tmp_path / "reward_blind_s1" / "iter_2" / "eval" / "summary.json").unlink()  # as if killed before its last eval
    tasks = demo_arms.plan([1], list(demo_arms.ARMS), str(tmp_path), ["iterations=2"])
    demo_arms.sweep(tasks, jobs=2)
    assert [name for kind, name, _ in fake_stages[first:] if kind == "start"] == ["reward_blind_s1"]
    assert demo_arms.results(tasks, 500)["seeds"]["1"]["reward_blind"] == pytest.approx(FINAL["reward_blind"])


def test_an_unfinished_arm_is_null_in_arms_json(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    fake_warmup(tmp_path / "loop_s1")
    (tmp_path / "loop_s1" / "config.yaml").write_text("run_name: loop_s1\n")
    tasks = demo_arms.plan([1], ["loop"], str(tmp_path), ["iterations=2"])
    row = demo_arms.results(tasks, 500)["seeds"]["1"]
    assert row["warmup"] == pytest.approx(0.30) and row["loop"] is None and row["raft"] is None


def test_the_table_gives_the_loops_margins_with_the_standard_error():
    summary = {"num_test": 500, "seeds": {"42": {"warmup": 0.30, **FINAL}}}
    text = demo_arms.table(summary)
    assert "loop - sft_control +28.0" in text and "loop - reward_reversed +50.0" in text
    assert "standard error of one evaluation 2.2, n=500" in text


def digests(run_dir: Path) -> dict[str, str]:
    """The data a run produced (records and weights); logs, timings, reports and paths differ by design."""
    return {str(path.relative_to(run_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(run_dir.rglob("*")) if path.is_file() and path.suffix in (".jsonl", ".safetensors")}


@pytest.mark.slow
def test_same_machine_threads_and_seed_give_the_same_run(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    runs = []
    for name in ("a", "b"):
        out = subprocess.run(["bash", str(REPO / "run_iter_dpo.sh"), "--config", "configs/micro.yaml",
                              f"runs_dir={tmp_path}", f"run_name={name}"],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stderr[-3000:]
        runs.append(digests(tmp_path / name))
    a, b = runs
    for produced in ("iter_0/model/model.safetensors", "iter_1/samples.jsonl", "iter_1/labeled.jsonl",
                     "iter_1/pairs.jsonl", "iter_1/model/model.safetensors"):
        assert produced in a
    assert any(p.startswith("iter_1/eval/") for p in a)
    assert a == b


@pytest.mark.slow
def test_the_sft_control_trains_on_as_many_warmup_solutions_as_the_loop_had_pairs(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    out = subprocess.run(["bash", str(REPO / "run_iter_dpo.sh"), "--config", "configs/micro.yaml",
                          f"runs_dir={tmp_path}", "run_name=m"], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    run, control = tmp_path / "m", tmp_path / "control"
    demo_arms.run_control(run, control)
    solutions = {(r["prompt"], r["completion"]) for r in map(json.loads, (run / "assets/task/sft.jsonl").open())}
    pairs = sum(1 for _ in (run / "iter_1/pairs.jsonl").open())
    drawn = [json.loads(line) for line in (control / "iter_1/train.jsonl").open()]
    assert len(drawn) == pairs > 0 and all((r["prompt"], r["completion"]) in solutions for r in drawn)
    assert (control / "iter_1/model/model.safetensors").is_file()
    curve = demo_arms.control_curve(control, run, 1)
    assert len(curve) == 2 and all(0 <= p <= 1 for p in curve)
