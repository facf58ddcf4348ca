"""The seed sweep's logic (bench/demo_seeds.py: which runs share a warm-up, how it is shared, the curve
figures) and, marked slow, the demo's determinism: the same machine, threads and seed give the same run."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def load_bench():
    spec = importlib.util.spec_from_file_location("demo_seeds", REPO / "bench" / "demo_seeds.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo_seeds = load_bench()


def overrides(seed: int, *more: str) -> list[str]:
    return ["runs_dir=/tmp/unused", f"run_name=r{seed}", f"seed={seed}", *more]


def test_dpo_and_raft_demos_of_one_seed_share_a_warmup(monkeypatch):
    key = demo_seeds.warmup_key
    monkeypatch.chdir(REPO)  # the configs name their trainer configs relative to the repository
    dpo, raft = str(REPO / "configs/demo.yaml"), str(REPO / "configs/demo_raft.yaml")
    assert key(dpo, overrides(42)) == key(raft, overrides(42))
    assert key(dpo, overrides(42, "train.beta=0.2", "sample.K=4")) == key(dpo, overrides(42))
    # anything before the loop changes the warm-up model or its evaluation
    for change in ("warmup.learning_rate=1.0e-3", "build.num_sft=100", "eval.max_tokens_per_call=32",
                   "iterations=2"):
        assert key(dpo, overrides(42, change)) != key(dpo, overrides(42)), change
    assert key(dpo, overrides(43)) != key(dpo, overrides(42))


def fake_run(folder: Path) -> None:
    for path in ("assets/DONE", "assets/model/model.safetensors", "iter_0/model/model.safetensors",
                 "iter_0/eval/summary.json", "iter_0/times.tsv"):
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(path)


def test_a_warmup_is_shared_by_hard_links_only_with_a_run_not_started(tmp_path):
    source, target = tmp_path / "demo_s1", tmp_path / "demo_raft_s1"
    assert not demo_seeds.share_warmup(source, target)  # no finished warm-up to share
    fake_run(source)
    assert demo_seeds.share_warmup(source, target)
    shared = target / "iter_0" / "model" / "model.safetensors"
    assert shared.read_text() == "iter_0/model/model.safetensors"
    assert shared.stat().st_ino == (source / "iter_0" / "model" / "model.safetensors").stat().st_ino
    assert (target / "assets" / "DONE").is_file() and (target / "iter_0" / "eval" / "summary.json").is_file()
    started = tmp_path / "started"
    started.mkdir()
    (started / "config.yaml").write_text("run_name: started\n")
    assert not demo_seeds.share_warmup(source, started)
    assert not (started / "iter_0").exists()


def test_a_parallel_sweep_starts_each_raft_run_from_its_finished_dpo_warmup(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    events = []

    def fake_run_one(config_file, overrides, log):
        name = next(o.split("=", 1)[1] for o in overrides if o.startswith("run_name="))
        events.append(("start", name))
        run_dir = tmp_path / name
        if not (run_dir / "iter_0" / "model").exists():  # a DPO run makes the warm-up the RAFT run reuses
            time.sleep(0.2)
            fake_run(run_dir)
        events.append(("end", name))
        return 0, 0.2

    monkeypatch.setattr(demo_seeds, "run_one", fake_run_one)
    monkeypatch.setattr(demo_seeds, "curve", lambda run_dir: [10.0, 12.0, 15.0])
    results = demo_seeds.sweep(["configs/demo.yaml", "configs/demo_raft.yaml"], [1, 2], str(tmp_path), [],
                               jobs=2, report_only=False)
    assert [r["name"] for r in results] == ["demo_s1", "demo_s2", "demo_raft_s1", "demo_raft_s2"]
    for seed in (1, 2):
        raft = next(r for r in results if r["name"] == f"demo_raft_s{seed}")
        assert raft["note"] == f"warm-up shared with demo_s{seed}" and raft["gain"] == pytest.approx(5.0)
        assert events.index(("end", f"demo_s{seed}")) < events.index(("start", f"demo_raft_s{seed}"))
        shared = tmp_path / f"demo_raft_s{seed}" / "iter_0" / "model" / "model.safetensors"
        assert shared.stat().st_ino == (tmp_path / f"demo_s{seed}" / "iter_0" / "model" / "model.safetensors").stat().st_ino
    assert {e for e in events[:2]} == {("start", "demo_s1"), ("start", "demo_s2")}  # two at a time


@pytest.mark.parametrize(
    "points, drop", [([30.0, 35.0, 40.0], 0.0), ([30.0, 38.0, 34.5, 41.0, 40.0], 3.5), ([30.0, None, 28.0], 2.0)]
)
def test_largest_drop(points, drop):
    assert demo_seeds.largest_drop(points) == pytest.approx(drop)


def test_spread_states_mean_std_and_range():
    assert demo_seeds.spread([10.0, 12.0, 14.0]) == "mean +12.0, std 2.0, min +10.0, max +14.0 (n=3)"
    assert demo_seeds.spread([]) == "no finished runs"


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
def test_the_rate_control_trains_on_as_many_warmup_solutions_as_the_loop_did(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    out = subprocess.run(["bash", str(REPO / "run_iter_dpo.sh"), "--config", "configs/micro.yaml",
                          f"runs_dir={tmp_path}", "run_name=m"], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    run = tmp_path / "m"
    out = subprocess.run([str(REPO / ".venv/bin/python"), "bench/demo_control.py", str(run)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    solutions = {(r["prompt"], r["completion"]) for r in map(json.loads, (run / "assets/task/sft.jsonl").open())}
    pairs = sum(1 for _ in (run / "iter_1/pairs.jsonl").open())
    drawn = [json.loads(line) for line in (run / "control/iter_1/train.jsonl").open()]
    assert len(drawn) == pairs > 0 and all((r["prompt"], r["completion"]) in solutions for r in drawn)
    assert (run / "control/iter_1/model/model.safetensors").is_file()
    assert (run / "control/iter_1/eval/summary.json").is_file()
    lines = {line.split()[1]: line for line in out.stdout.splitlines() if line.startswith("m ")}
    assert set(lines) == {"loop", "control"}
