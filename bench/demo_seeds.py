"""The CPU demo on several seeds: per-seed curves, the mean and spread of the final gain, wall time per run.

For every seed and every config it runs ``bash run_iter_dpo.sh --config CONFIG seed=S run_name=<stem>_s<S>
runs_dir=RUNS_DIR`` (one at a time unless ``--jobs`` says more), then prints the greedy held-out accuracy
of each iteration, the final gain over the warm-up model (iteration 0), the largest drop between
consecutive iterations, and the run's wall time. Runs of the same seed whose assets and warm-up settings are identical (configs/demo.yaml
and configs/demo_raft.yaml) share one warm-up: the later run starts from a hard-linked copy of the
earlier run's ``assets/`` and ``iter_0/`` (the driver then skips those stages), so its wall time does
not include the warm-up. A finished run is not run again (the driver skips every stage), so a killed
sweep continues where it stopped when started again with the same command. ``--jobs 2`` runs two at a
time (each stage of the demo configs uses one thread), and a run's wall time then includes the other's load.

    python bench/demo_seeds.py                                     # seeds 42 43 44, DPO and RAFT demos
    python bench/demo_seeds.py --jobs 2                            # two runs at a time (2 cores)
    python bench/demo_seeds.py --seeds 42 43 --configs configs/demo.yaml --set iterations=2
    python bench/demo_seeds.py --report_only                       # print the runs already in runs/seeds
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pipeline.config import expand, load_config
from pipeline.report import collect

REPO = Path(__file__).resolve().parent.parent
# Run-config keys and sections that change nothing up to the warm-up model and its evaluation (iteration 0).
LOOP_KEYS = frozenset({
    "run_name", "runs_dir", "num_shards", "algorithm", "accelerate_config",
    "audit", "sample", "merge", "label", "pairs", "train",
})


def run_name(config_path: str, seed: int) -> str:
    return f"{Path(config_path).stem}_s{seed}"


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


def share_warmup(source: Path, target: Path) -> bool:
    """Give ``target`` (a run not yet started) ``source``'s assets and iteration 0, as hard links.

    Stages write atomically (a new file renamed into place), so no stage of either run writes into a
    file the other one reads. False, and nothing done, if ``target`` has started or ``source`` has no
    finished warm-up.
    """
    needed = [source / "assets" / "DONE", source / "iter_0" / "model", source / "iter_0" / "eval" / "summary.json"]
    if (target / "config.yaml").exists() or (target / "iter_0").exists() or not all(p.exists() for p in needed):
        return False
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source / "assets", target / "assets", copy_function=os.link, dirs_exist_ok=True)
    for part in ("model", "eval"):
        shutil.copytree(source / "iter_0" / part, target / "iter_0" / part, copy_function=os.link)
    times = source / "iter_0" / "times.tsv"
    if times.is_file():
        shutil.copyfile(times, target / "iter_0" / "times.tsv")
    return True


def curve(run_dir: Path) -> list[float | None]:
    """Greedy held-out accuracy (%) of iterations 0..N; None where an iteration has no evaluation."""
    rows = collect(run_dir)["iterations"] if (run_dir / "config.yaml").is_file() else []
    return [None if r["eval_accuracy"] is None else 100 * r["eval_accuracy"] for r in rows]


def largest_drop(points: list[float | None]) -> float:
    """The largest fall from one evaluated iteration to the next (0 when the curve never falls)."""
    values = [p for p in points if p is not None]
    return max([0.0] + [a - b for a, b in zip(values[:-1], values[1:], strict=True)])


def spread(values: list[float]) -> str:
    if not values:
        return "no finished runs"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"mean {statistics.mean(values):+.1f}, std {std:.1f}, min {min(values):+.1f}, max {max(values):+.1f} (n={len(values)})"


def machine_line() -> str:
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        model = names[0] if names else model
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    return (f"machine: {os.cpu_count()} CPUs ({model}); load average {load} (1/5/15 min); OMP_NUM_THREADS here "
            f"{threads} (a config's environment sets it for its stages)")


def run_one(config_file: str, overrides: list[str], log: Path) -> tuple[int, float]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled"}
    start = time.perf_counter()
    with open(log, "a", encoding="utf-8") as out:
        status = subprocess.run(["bash", str(REPO / "run_iter_dpo.sh"), "--config", config_file, *overrides],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
    return status, time.perf_counter() - start


def print_table(results: list[dict]) -> None:
    width = max([len(r["curve"]) for r in results] + [1])
    head = " ".join(f"{'it' + str(i):>6}" for i in range(width))
    print(f"{'run':<18} {head} {'gain':>6} {'drop':>5} {'wall':>8}  note")
    for r in results:
        cells = " ".join(f"{p:6.1f}" if p is not None else f"{'-':>6}" for p in r["curve"])
        cells += " " * (7 * (width - len(r["curve"])))
        gain = f"{r['gain']:+6.1f}" if r["gain"] is not None else f"{'-':>6}"
        wall = f"{r['wall']:7.0f}s" if r["wall"] is not None else f"{'-':>8}"
        print(f"{r['name']:<18} {cells} {gain} {largest_drop(r['curve']):5.1f} {wall}  {r['note']}")


def sweep(configs: list[str], seeds: list[int], runs_dir: str, extra: list[str], jobs: int,
          report_only: bool) -> list[dict]:
    """Run (or, with ``report_only``, only read) every config on every seed, ``jobs`` runs at a time.

    Runs are taken config-major, so the default demo's seeds come first; a later config's run of a seed
    whose warm-up key matches an earlier run waits for that run and starts from its warm-up.
    """
    plans = []
    for config_file in configs:
        for seed in seeds:
            name = run_name(config_file, seed)
            overrides = [f"runs_dir={runs_dir}", f"run_name={name}", f"seed={seed}", *extra]
            run_dir = Path(expand(load_config(config_file, overrides)).run_dir)
            plans.append({"name": name, "config": config_file, "overrides": overrides, "run_dir": run_dir,
                          "key": warmup_key(config_file, overrides)})
    first: dict[str, dict] = {}
    for plan in plans:
        plan["source"] = first.setdefault(plan["key"], plan)

    def execute(plan: dict, done: dict) -> dict:
        note, wall, status = "", None, 0
        if not report_only:
            source = plan["source"]
            if source is not plan:
                done[source["name"]].result()  # its warm-up first
                if share_warmup(source["run_dir"], plan["run_dir"]):
                    note = f"warm-up shared with {source['name']}"
            plan["run_dir"].mkdir(parents=True, exist_ok=True)
            status, wall = run_one(plan["config"], plan["overrides"], plan["run_dir"].parent / f"{plan['name']}.out")
            if status != 0:
                note = f"FAILED (exit {status}), see {plan['run_dir'].parent / (plan['name'] + '.out')}"
        points = curve(plan["run_dir"])
        if not report_only:
            shown = " -> ".join("-" if p is None else f"{p:.1f}" for p in points)
            print(f"{plan['name']}: exit {status}, {wall:.0f} s wall; accuracy {shown} {note}", flush=True)
        finished = len(points) > 1 and points[0] is not None and points[-1] is not None
        return {"name": plan["name"], "config": plan["config"], "curve": points, "wall": wall, "note": note,
                "gain": points[-1] - points[0] if finished else None}

    # Runs are submitted in order, so a run's warm-up source is running or done before the run waits on it.
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        done: dict = {}
        for plan in plans:
            done[plan["name"]] = pool.submit(execute, plan, done)
        return [done[plan["name"]].result() for plan in plans]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--configs", nargs="+", default=["configs/demo.yaml", "configs/demo_raft.yaml"])
    parser.add_argument("--runs_dir", default="runs/seeds", help="where the runs go (relative to the repository)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for every run")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs at a time (the demo configs use one thread per stage, so one per core)")
    parser.add_argument("--report_only", action="store_true", help="run nothing; print the runs that exist")
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    os.chdir(REPO)

    print(machine_line(), flush=True)
    results = sweep(args.configs, args.seeds, args.runs_dir, args.set, args.jobs, args.report_only)

    print()
    print_table(results)
    for config_file in args.configs:
        rows = [r for r in results if r["config"] == config_file and r["gain"] is not None]
        drops = [largest_drop(r["curve"]) for r in rows]
        finals = [r["curve"][-1] for r in rows]
        line = f"{config_file}: final gain {spread([r['gain'] for r in rows])}"
        if finals:
            p, n = statistics.mean(finals) / 100, load_config(config_file).value("build", "num_test")
            line += (f"; final accuracy {100 * p:.1f}; largest drop {max(drops):.1f}; "
                     f"standard error of one evaluation at that accuracy {100 * (p * (1 - p) / n) ** 0.5:.1f} (n={n})")
        print(line)
    if any("FAILED" in r["note"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
