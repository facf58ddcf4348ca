"""The time of each stage of a run and the driver's own overhead, printed.

Runs ``bash run_iter_dpo.sh`` (the CPU demo by default) into a fresh run directory, then reads the stage
times the driver recorded (``iter_<i>/times.tsv``). The driver's overhead is the wall time of the whole
command minus the time inside stages: set-up check, config resolution, manifest, skip checks, reports.
A second start of the finished run skips every stage, so its wall time is the overhead of a resume.

    python bench/pipeline_bench.py                                   # the demo (configs/demo.yaml)
    python bench/pipeline_bench.py --config configs/micro.yaml       # a minute or two
    python bench/pipeline_bench.py --run_dir runs/demo               # only print an existing run's times
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline.report import STAGES, collect

REPO = Path(__file__).resolve().parent.parent


def run_driver(args: list[str]) -> tuple[float, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled"}
    start = time.perf_counter()
    out = subprocess.run(["bash", str(REPO / "run_iter_dpo.sh"), *args], cwd=REPO, env=env,
                         capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"run_iter_dpo.sh failed (exit {out.returncode}):\n{out.stderr[-4000:]}")
    return seconds, out.stderr


def print_times(run_dir: Path, wall: float | None) -> None:
    summary = collect(run_dir)
    rows = summary["iterations"]
    used = [s for s in STAGES if any(s in r["times"] for r in rows)]
    print(f"run: {run_dir}")
    print(f"{'iter':>4} " + " ".join(f"{s:>10}" for s in used) + f" {'total':>10} {'accuracy':>9}")
    in_stages = 0.0
    for r in rows:
        total = sum(r["times"].values())
        in_stages += total
        acc = "-" if r["eval_accuracy"] is None else f"{100 * r['eval_accuracy']:.1f}%"
        cells = " ".join(f"{r['times'][s]:10.1f}" if s in r["times"] else f"{'-':>10}" for s in used)
        print(f"{r['iteration']:>4} {cells} {total:10.1f} {acc:>9}")
    per_stage = {s: sum(r["times"].get(s, 0.0) for r in rows) for s in used}
    print("all  " + " ".join(f"{per_stage[s]:10.1f}" for s in used) + f" {in_stages:10.1f}")
    if wall is not None:
        overhead = wall - in_stages
        print(f"wall {wall:.1f} s; in stages {in_stages:.1f} s; driver overhead {overhead:.1f} s "
              f"({100 * overhead / wall:.1f}%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/demo.yaml", help="recipe to run")
    parser.add_argument("--run_dir", default=None, help="print the times of this finished run instead")
    parser.add_argument("overrides", nargs="*", help="key=value overrides for the driver")
    args = parser.parse_args()
    if args.run_dir:
        print_times(Path(args.run_dir), None)
        return
    with tempfile.TemporaryDirectory(prefix="pipeline_bench_") as runs:
        driver_args = ["--config", args.config, f"runs_dir={runs}", *args.overrides]
        wall, log = run_driver(driver_args)
        run_dir = next(p for p in Path(runs).iterdir() if p.is_dir())
        print_times(run_dir, wall)
        resume_wall, log = run_driver(driver_args)
        print(f"resume of the finished run (every stage skipped: {log.count(': skipped, ')} skip lines): "
              f"{resume_wall:.1f} s")


if __name__ == "__main__":
    main()
