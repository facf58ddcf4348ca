"""The driver's helpers, one sub-command each; run_iter_dpo.sh calls them, users rarely need to.

    python -m pipeline resolve --config configs/demo.yaml iterations=2   # validate, write config.yaml, print shell
    python -m pipeline keys                                              # every config key, with its help
    python -m pipeline check runs/demo                 # inputs exist and are not empty (after the demo build)
    python -m pipeline begin runs/demo --argv "..." --gen_python .venv/bin/python
    python -m pipeline has_stats runs/demo/iter_1/stats.json label       # exit 0 if the section is there
    python -m pipeline time runs/demo 1 label 12.3                       # record a stage's wall time
    python -m pipeline report runs/demo                                  # summary.json, report.md, curves.png
    python -m pipeline compare runs/demo runs/demo_raft --output runs/compare   # one table + plot of runs
    python -m pipeline end runs/demo --status complete

A bad config or missing input ends with one line naming the problem and exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

from common.config import ConfigError, setup_logging, trl_base

logger = logging.getLogger("pipeline")


def resolve(args: argparse.Namespace) -> None:
    from pipeline.config import (
        expand,
        load_config,
        missing_inputs,
        shell_assignments,
        trainer_problems,
        write_or_check,
    )

    config = expand(load_config(args.config, args.overrides))
    # Everything that can be checked now is, before the run folder is made: a config that fails leaves none.
    # A demo build makes the inputs it names; `check` looks for them after it.
    # A dry run only prints the commands (a 7B recipe's, on a laptop without the model): it says what a run
    # would stop at, and goes on.
    input_problems = [] if config.build_demo else missing_inputs(config)
    if input_problems and args.dry_run:
        print("dry run: a run would stop here, missing input(s): " + "; ".join(input_problems), file=sys.stderr)
    elif input_problems:
        raise ConfigError("missing input(s): " + "; ".join(input_problems))
    trainer_config_problems = trainer_problems(config)
    if trainer_config_problems:
        raise ConfigError("bad trainer config: " + "; ".join(trainer_config_problems))
    resumed = write_or_check(config, Path(config.run_dir) / "config.yaml", write=not args.dry_run)
    sys.stdout.write(shell_assignments(config, resumed))


def keys(_: argparse.Namespace) -> None:
    """The loop's keys, then each section's: every flag of its stage, with the default and help the
    stage's dataclass gives it (the driver's own flags and the shared keys left out)."""
    from pipeline.config import SECTIONS, SHARED, STAGES, RunConfig, driver_flags, load_config

    def line(name: str, f: dataclasses.Field) -> str:
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        return f"  {name:32} {json.dumps(default):24} {f.metadata.get('help', '')}"

    print("The loop (run_iter_dpo.sh):")
    for f in dataclasses.fields(RunConfig):
        if f.name not in SECTIONS:
            print(line(f.name, f))
    example = load_config(None, ["train.config=configs/dpo/demo.yaml"])  # for the names of the driver's flags
    for section in SECTIONS:
        stage = STAGES[section]
        fixed = [*driver_flags(example, section), *(key for key, stages in SHARED.items() if section in stages)]
        print(f"\n{section}: {stage.script}, {stage.runs}; set by the driver or shared: {', '.join(fixed)}")
        for cls in stage.dataclasses():
            trl = trl_base(cls)
            if trl is not None:
                print(f"  {section + '.*':32} {'':24} every field of TRL's {trl.__name__} (`{stage.script} --help`)")
                continue
            for f in dataclasses.fields(cls):
                if f.name not in fixed:
                    print(line(f"{section}.{f.name}", f))
        if stage.trainer:
            print(f"  {section + '.config':32} {'':24} the trainer's YAML config (configs/dpo/, configs/sft/); "
                  "the section's other keys override it")


def check(args: argparse.Namespace) -> None:
    import yaml

    from pipeline.config import RunConfig, missing_inputs

    with open(Path(args.run_dir) / "config.yaml", encoding="utf-8") as f:
        config = RunConfig(**yaml.safe_load(f))
    problems = missing_inputs(config)
    if problems:
        raise ConfigError("missing input(s): " + "; ".join(problems))


def begin(args: argparse.Namespace) -> None:
    from pipeline.manifest import begin_session

    begin_session(args.run_dir, args.argv, args.gen_python)


def end(args: argparse.Namespace) -> None:
    from pipeline.manifest import end_session

    end_session(args.run_dir, args.status)


def has_stats(args: argparse.Namespace) -> None:
    from pipeline.report import read_json

    try:
        stats = read_json(Path(args.stats_file)) or {}
    except json.JSONDecodeError:
        stats = {}
    if args.section not in stats:
        sys.exit(1)


def time_stage(args: argparse.Namespace) -> None:
    from pipeline.report import record_time

    record_time(args.run_dir, args.iteration, args.stage, args.seconds)


def report(args: argparse.Namespace) -> None:
    from pipeline.report import write_report

    summary = write_report(args.run_dir, args.initial_model)
    accuracies = [r["eval_accuracy"] for r in summary["iterations"]]
    logger.info("report: %s (accuracy by iteration: %s)", Path(args.run_dir) / "report.md",
                ", ".join("-" if a is None else f"{100 * a:.1f}%" for a in accuracies))


def compare(args: argparse.Namespace) -> None:
    from pipeline.compare import compare as write_comparison

    write_comparison(args.dirs, args.output)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__.split("\n")[0])
    commands = top.add_subparsers(dest="command", required=True)

    p = commands.add_parser("resolve", help="validate a config, write <run_dir>/config.yaml, print bash")
    p.add_argument("--config", default=None, help="recipe YAML (configs/*.yaml)")
    p.add_argument("--dry_run", action="store_true", help="check against a config.yaml already there, write nothing")
    p.add_argument("overrides", nargs="*", help="key=value or section.key=value")
    p.set_defaults(run=resolve)

    p = commands.add_parser("keys", help="list every config key with its default and help")
    p.set_defaults(run=keys)

    p = commands.add_parser("check", help="check that a resolved config's inputs exist")
    p.add_argument("run_dir")
    p.set_defaults(run=check)

    p = commands.add_parser("begin", help="record a driver session in manifest.json")
    p.add_argument("run_dir")
    p.add_argument("--argv", default="", help="the driver's command line")
    p.add_argument("--gen_python", default=None, help="generation interpreter, for its package versions")
    p.set_defaults(run=begin)

    p = commands.add_parser("end", help="close the session in manifest.json")
    p.add_argument("run_dir")
    p.add_argument("--status", choices=("complete", "failed"), required=True)
    p.set_defaults(run=end)

    p = commands.add_parser("has_stats", help="exit 0 if a stats file has the section, else 1")
    p.add_argument("stats_file")
    p.add_argument("section")
    p.set_defaults(run=has_stats)

    p = commands.add_parser("time", help="record a stage's wall time in iter_<i>/times.tsv")
    p.add_argument("run_dir")
    p.add_argument("iteration", type=int)
    p.add_argument("stage")
    p.add_argument("seconds", type=float)
    p.set_defaults(run=time_stage)

    p = commands.add_parser("report", help="write summary.json, report.md and curves.png")
    p.add_argument("run_dir")
    p.add_argument("--initial_model", default=None, help="iteration 0's model when there is no warm-up")
    p.set_defaults(run=report)

    p = commands.add_parser("compare", help="one table (comparison.md) and plot of runs and evaluations")
    p.add_argument("dirs", nargs="+", metavar="RUN_OR_EVAL_DIR",
                   help="a run (rows: its iter_<i>/eval, step_<N>/eval) or an eval_math output directory")
    p.add_argument("--output", default="runs/compare", help="folder for comparison.md, .png and .json")
    p.set_defaults(run=compare)
    return top


def main(argv: list[str] | None = None) -> None:
    setup_logging()
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except (ValueError, FileNotFoundError) as e:  # ConfigError, __post_init__ checks, TrlParser's errors
        logger.error("%s", e)
        sys.exit(2)


if __name__ == "__main__":
    main()
