"""What the CPU demo's reward teaches: five arms from one shared warm-up model per seed.

For every seed, the arms start from the same SFT warm-up model (iteration 0) and train for the same
iterations on the same prompts:

    loop             the demo itself: bash run_iter_dpo.sh --config configs/demo.yaml (DPO+NLL on graded
                     best-vs-worst pairs)
    raft             configs/demo_raft.yaml: SFT on one correct sample per prompt
    sft_control      no sampling, no reward: per iteration, SFT at the loop's rate (configs/sft/demo_raft.yaml)
                     on as many of the warm-up's own worked solutions as the loop had pairs, drawn afresh
    reward_blind     the loop with pairs that never read the reward (pairs.choose_type=reward_blind)
    reward_reversed  the loop with chosen and rejected swapped (pairs.reverse_pairs=true)

The loop's run makes the seed's warm-up; the other runs start from hard links to its ``assets/`` and
``iter_0/`` (the driver then skips those stages) as soon as its iteration 0 is evaluated, and the
control waits for the loop's pairs. Each arm is ``<runs_dir>/<arm>_s<seed>``; an arm whose every
iteration is evaluated is not run again, so a killed sweep continues where it stopped when started
again with the same command (the driver itself skips every finished stage). ``--jobs 2`` runs two arms
at a time (each stage of the demo configs uses one thread). ``--set`` overrides every arm's run config
(e.g. ``iterations=2``; the control follows the loop).

It prints each arm's greedy held-out accuracy per iteration as it finishes, then a table of the final
accuracies, and writes ``<runs_dir>/arms.json``: ``{"seeds": {"42": {"warmup": 0.412, "loop": 0.583,
"raft": ..., "sft_control": ..., "reward_blind": ..., "reward_reversed": ...}}, "curves": {...},
"wall_s": {...}, "num_test": 500}``, final accuracies as fractions (null for an arm not finished),
curves from iteration 0, and each arm's wall time in this session.

    python bench/demo_arms.py --seeds 42 43 44 --jobs 2 --runs_dir runs/arms
    python bench/demo_arms.py --seeds 42 --arms loop sft_control --set iterations=2 --runs_dir runs/arms_try
    python bench/demo_arms.py --seeds 42 43 44 --runs_dir runs/arms --report_only
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import platform
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from common.records import read_records, write_json, write_jsonl
from pipeline.config import expand, load_config, stage_flags
from pipeline.report import collect, read_json

REPO = Path(__file__).resolve().parent.parent
LOOP_CONFIG = "configs/demo.yaml"
# Arms the driver runs: name -> (run config, overrides). sft_control is run here, from the loop's run.
DRIVER_ARMS = {
    "loop": (LOOP_CONFIG, []),
    "raft": ("configs/demo_raft.yaml", []),
    "reward_blind": (LOOP_CONFIG, ["pairs.choose_type=reward_blind"]),
    "reward_reversed": (LOOP_CONFIG, ["pairs.reverse_pairs=true"]),
}
CONTROL = "sft_control"
ARMS = ("loop", "raft", CONTROL, "reward_blind", "reward_reversed")
CONTROL_TRAINER = "configs/sft/demo_raft.yaml"  # SFT at the loop's rate, one epoch, the loop's batch size
# Run-config keys and sections that change nothing up to the warm-up model and its evaluation (iteration 0).
LOOP_KEYS = frozenset({
    "run_name", "runs_dir", "num_shards", "algorithm", "accelerate_config",
    "audit", "sample", "merge", "label", "pairs", "train",
})
POLL_S = 5.0


def run_name(arm: str, seed: int) -> str:
    return f"{arm}_s{seed}"


def arm_overrides(arm: str, seed: int, runs_dir: str, extra: list[str]) -> list[str]:
    return [f"runs_dir={runs_dir}", f"run_name={run_name(arm, seed)}", f"seed={seed}", *DRIVER_ARMS[arm][1], *extra]


def warmup_key(config_file: str, overrides: list[str]) -> str:
    """What determines a run's assets, warm-up model and iteration-0 evaluation, as one digest.

    Run-config values other than LOOP_KEYS, plus the bytes of the warm-up's trainer config.
    """
    config = load_config(config_file, overrides)
    values = {k: v for k, v in dataclasses.asdict(config).items() if k not in LOOP_KEYS}
    digest = hashlib.sha256(repr(sorted(values.items())).encode())
    if config.warmup.get("config"):
        digest.update(Path(config.warmup["config"]).read_bytes())
    return digest.hexdigest()


def check_one_warmup(seeds: list[int], runs_dir: str, extra: list[str]) -> None:
    """Every driver arm of a seed must make the same warm-up as the loop, or sharing it would be wrong."""
    for seed in seeds:
        keys = {arm: warmup_key(config, arm_overrides(arm, seed, runs_dir, extra))
                for arm, (config, _) in DRIVER_ARMS.items()}
        differ = sorted(arm for arm, key in keys.items() if key != keys["loop"])
        if differ:
            raise SystemExit(f"seed {seed}: arms {differ} would not start from the loop's warm-up (their configs "
                             "differ from configs/demo.yaml before the loop); align them first")


def warmup_ready(source: Path) -> bool:
    return all(p.exists() for p in (source / "assets" / "DONE", source / "iter_0" / "model",
                                    source / "iter_0" / "eval" / "summary.json"))


def share_warmup(source: Path, target: Path) -> bool:
    """Give ``target`` (a run not yet started) ``source``'s assets and iteration 0, as hard links.

    Stages write atomically (a new file renamed into place), so no stage of either run writes into a
    file the other one reads. False, and nothing done, if ``target`` has started or ``source`` has no
    finished warm-up.
    """
    if (target / "config.yaml").exists() or (target / "iter_0").exists() or not warmup_ready(source):
        return False
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source / "assets", target / "assets", copy_function=os.link, dirs_exist_ok=True)
    for part in ("model", "eval"):
        shutil.copytree(source / "iter_0" / part, target / "iter_0" / part, copy_function=os.link)
    times = source / "iter_0" / "times.tsv"
    if times.is_file():
        shutil.copyfile(times, target / "iter_0" / "times.tsv")
    return True


def accuracy(eval_dir: Path) -> float | None:
    """The evaluation's average accuracy (a fraction) as evaluate.py wrote it; None before it ran."""
    summary = read_json(eval_dir / "summary.json")
    return None if summary is None else summary["average_accuracy"]


def run_curve(run_dir: Path) -> list[float | None]:
    """Greedy held-out accuracy of a driver run's iterations 0..N; None where one has no evaluation."""
    rows = collect(run_dir)["iterations"] if (run_dir / "config.yaml").is_file() else []
    return [row["eval_accuracy"] for row in rows]


def control_curve(control_dir: Path, loop_dir: Path, iterations: int) -> list[float | None]:
    return [accuracy(loop_dir / "iter_0" / "eval")] + [accuracy(control_dir / f"iter_{i}" / "eval")
                                                      for i in range(1, iterations + 1)]


def finished(points: list[float | None], iterations: int) -> bool:
    return len(points) == iterations + 1 and all(p is not None for p in points)


def training_size(iter_dir: Path) -> int | None:
    """How many records the loop trained on in this iteration (pairs or RAFT responses)."""
    for name in ("pairs.jsonl", "raft.jsonl"):
        if (iter_dir / name).is_file():
            return len(read_records(iter_dir / name))
    return None


def stage_env(environment: dict) -> dict:
    return {**os.environ, **{key: str(value) for key, value in environment.items()}}


def python_stage(args: list[str], environment: dict, log: Path) -> None:
    """Run a stage script with the run config's environment (the demo's: one thread, offline)."""
    with open(log, "a", encoding="utf-8") as out:
        status = subprocess.run([sys.executable, *args], cwd=REPO, env=stage_env(environment), stdout=out,
                                stderr=subprocess.STDOUT)
    if status.returncode != 0:
        raise RuntimeError(f"{args[0]} failed (exit {status.returncode}); its log: {log}")


def run_control(loop_dir: Path, control_dir: Path) -> None:
    """The SFT control of a finished loop run: per iteration, SFT at the loop's rate on as many of the
    warm-up's own worked solutions as the loop had pairs, then the same evaluation; skips what exists."""
    config = expand(load_config(str(loop_dir / "config.yaml")))
    solutions = read_records(loop_dir / "assets" / "task" / "sft.jsonl")
    rng = random.Random(config.seed)
    model = loop_dir / "iter_0" / "model"
    for i in range(1, config.iterations + 1):
        size, out = training_size(loop_dir / f"iter_{i}"), control_dir / f"iter_{i}"
        if size is None:
            raise RuntimeError(f"{loop_dir / f'iter_{i}'}: no pairs.jsonl or raft.jsonl; the loop has not finished")
        drawn = rng.sample(solutions, min(size, len(solutions)))  # drawn even when skipped: same draws on resume
        out.mkdir(parents=True, exist_ok=True)
        if not (out / "model").is_dir():
            write_jsonl(out / "train.jsonl", drawn)
            python_stage(["dpo_iteration/sft.py", CONTROL_TRAINER, "--model_name_or_path", str(model),
                          "--train_file", str(out / "train.jsonl"), "--output_dir", str(out / "model"),
                          "--seed", str(config.seed)], config.environment, control_dir / "control.log")
        if accuracy(out / "eval") is None:
            python_stage(["eval_math/evaluate.py", "--model_name_or_path", str(out / "model"),
                          "--output_dir", str(out / "eval"), "--seed", str(config.seed),
                          *stage_flags(config, "eval")], config.environment, control_dir / "control.log")
        model = out / "model"


def run_driver(config_file: str, overrides: list[str], log: Path) -> int:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled"}
    with open(log, "a", encoding="utf-8") as out:
        return subprocess.run(["bash", str(REPO / "run_iter_dpo.sh"), "--config", config_file, *overrides],
                              cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT).returncode


def machine_line() -> str:
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        model = names[0] if names else model
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    return f"machine: {os.cpu_count()} CPUs ({model}); load average {load} (1/5/15 min)"


@dataclasses.dataclass
class Task:
    """One arm of one seed."""

    seed: int
    arm: str
    run_dir: Path
    loop_dir: Path
    iterations: int
    overrides: list[str]
    wall: float | None = None
    error: str | None = None
    state: str = "waiting"  # waiting, running, done

    def curve(self) -> list[float | None]:
        if self.arm == CONTROL:
            return control_curve(self.run_dir, self.loop_dir, self.iterations)
        return run_curve(self.run_dir)

    def done(self) -> bool:
        return finished(self.curve(), self.iterations)

    def ready(self, tasks: list[Task]) -> bool:
        """Whether what the arm starts from exists: nothing (the loop), the warm-up, or the whole loop."""
        if self.arm == "loop":
            return True
        loop = next(t for t in tasks if t.seed == self.seed and t.arm == "loop")
        if loop.error:
            self.error, self.state = f"the loop of seed {self.seed} failed", "done"
            return False
        return loop.state == "done" if self.arm == CONTROL else warmup_ready(self.loop_dir)

    def run(self) -> None:
        start = time.perf_counter()
        log = self.run_dir.parent / f"{self.run_dir.name}.out"
        try:
            if self.arm == CONTROL:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                run_control(self.loop_dir, self.run_dir)
            else:
                if self.arm != "loop":
                    share_warmup(self.loop_dir, self.run_dir)
                self.run_dir.mkdir(parents=True, exist_ok=True)
                status = run_driver(DRIVER_ARMS[self.arm][0], self.overrides, log)
                if status != 0:
                    self.error = f"exit {status}, see {log}"
        except (RuntimeError, OSError) as e:
            self.error = str(e)
        self.wall = time.perf_counter() - start
        shown = " -> ".join("-" if p is None else f"{100 * p:.1f}" for p in self.curve())
        status = f"FAILED ({self.error})" if self.error else "done"
        print(f"seed {self.seed} {self.arm}: {status}, {self.wall:.0f} s wall; accuracy {shown}", flush=True)
        self.state = "done"


def plan(seeds: list[int], arms: list[str], runs_dir: str, extra: list[str]) -> list[Task]:
    """The tasks in the order they are preferred: every loop first (they make the warm-ups), the control last."""
    tasks = []
    for arm in sorted(set(arms) | {"loop"}, key=ARMS.index):  # the loop always: the others start from it
        for seed in seeds:
            loop_overrides = arm_overrides("loop", seed, runs_dir, extra)
            loop_config = expand(load_config(LOOP_CONFIG, loop_overrides))
            if arm == CONTROL:
                run_dir, overrides = Path(runs_dir) / run_name(CONTROL, seed), []
            else:
                overrides = arm_overrides(arm, seed, runs_dir, extra)
                run_dir = Path(expand(load_config(DRIVER_ARMS[arm][0], overrides)).run_dir)
            tasks.append(Task(seed, arm, run_dir, Path(loop_config.run_dir), loop_config.iterations, overrides))
    order = {arm: i for i, arm in enumerate(("loop", "reward_blind", "reward_reversed", "raft", CONTROL))}
    return sorted(tasks, key=lambda t: order[t.arm])


def sweep(tasks: list[Task], jobs: int, on_finish=lambda: None) -> None:
    """Run the tasks not yet done, ``jobs`` at a time, each as soon as what it starts from exists."""
    for task in tasks:
        if task.done():
            task.state = "done"
    threads: list[threading.Thread] = []
    while any(t.state != "done" for t in tasks):
        running = sum(t.state == "running" for t in tasks)
        ready = [t for t in tasks if t.state == "waiting" and t.ready(tasks)]
        for task in ready[: jobs - running]:
            task.state = "running"

            def work(task=task):
                task.run()
                on_finish()

            threads.append(threading.Thread(target=work, daemon=True))
            threads[-1].start()
        if not running and not ready and any(t.state == "waiting" for t in tasks):
            raise RuntimeError("arms wait for something no arm will make")  # a bug, not a state of the runs
        time.sleep(POLL_S)
    for thread in threads:
        thread.join()


def results(tasks: list[Task], num_test: int) -> dict:
    """arms.json's content: final accuracies by seed and arm (null where not finished), curves, wall times."""
    seeds: dict[str, dict] = {}
    curves: dict[str, dict] = {}
    walls: dict[str, dict] = {}
    for task in tasks:
        key = str(task.seed)
        points = task.curve()
        seeds.setdefault(key, {"warmup": None, **dict.fromkeys(ARMS)})
        if points and points[0] is not None:
            seeds[key]["warmup"] = points[0]
        seeds[key][task.arm] = points[-1] if finished(points, task.iterations) else None
        curves.setdefault(key, {})[task.arm] = points
        if task.wall is not None:
            walls.setdefault(key, {})[task.arm] = round(task.wall, 1)
    return {"seeds": seeds, "curves": curves, "wall_s": walls, "num_test": num_test}


def merge_previous(path: Path, current: dict) -> dict:
    """Keep the wall times of arms finished in an earlier session (this one skipped them)."""
    previous = read_json(path) or {}
    for seed, walls in previous.get("wall_s", {}).items():
        for arm, wall in walls.items():
            current["wall_s"].setdefault(seed, {}).setdefault(arm, wall)
    return current


def standard_error(p: float, n: int) -> float:
    """Of one evaluation of n problems at accuracy p (a fraction)."""
    return (p * (1 - p) / n) ** 0.5


def table(summary: dict) -> str:
    """Final accuracies (%) per seed and arm, and the loop's margins over the controls with the standard error."""
    n = summary["num_test"]
    head = ["seed", "warmup", *ARMS]
    lines = [" ".join(f"{h:>15}" for h in head)]
    for seed, row in summary["seeds"].items():
        cells = [seed] + ["-" if row[k] is None else f"{100 * row[k]:.1f}" for k in head[1:]]
        lines.append(" ".join(f"{c:>15}" for c in cells))
    lines.append("")
    for seed, row in summary["seeds"].items():
        loop = row["loop"]
        if loop is None:
            continue
        parts = []
        for other in ("warmup", CONTROL, "reward_blind", "reward_reversed", "raft"):
            if row[other] is not None:
                parts.append(f"loop - {other} {100 * (loop - row[other]):+.1f}")
        se = 100 * standard_error(loop, n)
        lines.append(f"seed {seed}: " + ", ".join(parts) + f" (standard error of one evaluation {se:.1f}, n={n})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS,
                        help="arms to run (the loop always runs: the others start from its warm-up)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="arms at a time (the demo configs use one thread per stage, so one per core)")
    parser.add_argument("--runs_dir", default="runs/arms", help="where the runs go (relative to the repository)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for every driver arm")
    parser.add_argument("--report_only", action="store_true", help="run nothing; print what exists")
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    os.chdir(REPO)
    check_one_warmup(args.seeds, args.runs_dir, args.set)
    tasks = plan(args.seeds, args.arms, args.runs_dir, args.set)
    num_test = load_config(LOOP_CONFIG, args.set).value("build", "num_test")
    out = Path(args.runs_dir) / "arms.json"
    lock = threading.Lock()

    def save() -> dict:
        with lock:
            summary = merge_previous(out, results(tasks, num_test))
            out.parent.mkdir(parents=True, exist_ok=True)
            write_json(out, summary)
            return summary

    print(machine_line(), flush=True)
    if not args.report_only:
        sweep(tasks, args.jobs, on_finish=save)
    summary = save()
    print()
    print(table(summary))
    print(f"\nwritten: {out}")
    if any(t.error for t in tasks):
        sys.exit(1)


if __name__ == "__main__":
    main()
