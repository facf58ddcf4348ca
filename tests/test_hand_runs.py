"""A stage run by hand with its defaults does what it does in a driver run: the driver passes a stage only
its own per-call flags (paths, seed, shard) and what the run config sets, never a value of its own.

Each committed run config is dry-run through run_iter_dpo.sh (configs/demo.yaml is the default one); every
stage command it prints is read back flag by flag, and every field of the stage's argument dataclasses is
checked: set by the driver, or set by the run config (and then passed with the config's value), or else
passed with the stage's default or not at all. Every key a section sets must reach its stage.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import subprocess
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.config import SHARED, RunConfig, driver_flags, expand, flags, load_config, stage_default

REPO = Path(__file__).resolve().parent.parent
RECIPES = sorted(str(p.relative_to(REPO)) for p in (REPO / "configs").glob("*.yaml"))
# The driver's stage names (run_iter_dpo.sh's `run NAME ...`) -> run config sections.
SECTION_OF = {"assets": "build", "warmup": "warmup", "audit": "audit", "generation": "sample", "merge": "merge",
              "label": "label", "pairs": "pairs", "train": "train", "eval": "eval"}
# generation/launch.sh's own flags (it passes the rest to sample.py, adding local_index and my_world_size).
LAUNCHER_FLAGS = {"world_size", "shards", "srun", "nodes", "tasks_per_node"}


def dry_run(recipe: str, runs_dir: Path, *overrides: str) -> list[tuple[str, list[str]]]:
    """(section, command) of every stage the driver would start, as its --dry_run prints them."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run(["bash", "run_iter_dpo.sh", "--dry_run", "--config", recipe, f"runs_dir={runs_dir}",
                          *overrides], cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    commands = []
    for line in out.stdout.splitlines():
        _, stage, command = line.split(": ", 2)
        commands.append((SECTION_OF[stage], shlex.split(command)))
    return commands


def stage_flags_of(command: list[str], script: str) -> dict[str, list[str]]:
    """``... script --a 1 --b x y`` -> {a: [1], b: [x, y]}: the flags after the stage's script."""
    start = next(i for i, token in enumerate(command) if token.endswith(script) or token.endswith("generation/launch.sh"))
    passed: dict[str, list[str]] = {}
    key = None
    for token in command[start + 1:]:
        if token.startswith("--"):
            key = token[2:]
            assert key not in passed, f"--{key} passed twice: {shlex.join(command)}"
            passed[key] = []
        else:
            assert key is not None, f"a value before any flag: {shlex.join(command)}"
            passed[key].append(token)
    return {k: v for k, v in passed.items() if k not in LAUNCHER_FLAGS}


def as_passed(value: Any) -> list[str]:
    """A value as the driver writes it on a command line (pipeline.config.flags)."""
    return flags({"x": value})[1:]


def mismatches(config: RunConfig, section: str, command: list[str]) -> list[str]:
    """What the command passes that a hand run with the stage's defaults would not do, and section keys
    that did not reach it."""
    stage = config.stage(section)
    passed = stage_flags_of(command, stage.script)
    own = set(driver_flags(config, section))
    from_config = dict(getattr(config, section))
    from_config.update({key: getattr(config, key) for key, stages in SHARED.items() if section in stages})
    problems = []
    fields = {f.name: f for cls in stage.dataclasses() for f in dataclasses.fields(cls)}
    for name, f in fields.items():  # every setting of the stage
        if name in own or name not in passed and name not in from_config:
            continue
        if name in from_config:
            if passed.get(name) != as_passed(from_config[name]):
                problems.append(f"{section}.{name}: the run config says {from_config[name]!r}, "
                                f"the driver passes {passed.get(name)}")
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if passed[name] != as_passed(default):
            problems.append(f"{section}.{name}: the driver passes {passed[name]}, which the run config does not "
                            f"set; the stage's default is {default!r}")
    for name in set(passed) - set(fields) - set(from_config):
        problems.append(f"{section}: --{name} is no flag of {stage.script}")
    return problems


def check(recipe: str, tmp_path: Path, *overrides: str) -> int:
    config = expand(load_config(str(REPO / recipe), [f"runs_dir={tmp_path}", "num_gpus=0", *overrides]))
    commands = dry_run(recipe, tmp_path, "num_gpus=0", *overrides)
    problems = [p for section, command in commands for p in mismatches(config, section, command)]
    assert problems == []
    ran = {section for section, _ in commands}  # no stage is left out of the check
    expected = {"audit", "sample", "merge", "label", "pairs", "train"}
    expected |= {"build"} if config.build_demo else set()
    expected |= {"warmup"} if config.warmup.get("config") else set()
    expected |= {"eval"} if config.evaluate else set()
    assert ran == expected
    return len(commands)


def test_the_default_run_config_passes_only_what_it_sets(tmp_path):
    assert yaml.safe_load((REPO / "run_iter_dpo.sh").read_text().split("CONFIG=", 1)[1].split("\n")[0]) \
        == "configs/demo.yaml"
    assert check("configs/demo.yaml", tmp_path) == 3 + 7 * 3  # assets, warm-up, eval; 7 stages in each of the 3 iterations


@pytest.mark.parametrize("recipe", [r for r in RECIPES if r != "configs/demo.yaml"])
def test_every_committed_run_config_passes_only_what_it_sets(recipe, tmp_path):
    check(recipe, tmp_path, "iterations=1")


def test_a_flag_the_driver_adds_of_its_own_is_found(tmp_path, monkeypatch):
    """The check can fail: a driver that passes a value of its own (here sample.py's temperature) is caught,
    and so is one whose value for a key differs from the run config's."""
    config = expand(load_config(str(REPO / "configs/demo.yaml"), [f"runs_dir={tmp_path}"]))
    ((_, generation),) = [(s, c) for s, c in dry_run("configs/demo.yaml", tmp_path, "iterations=1") if s == "sample"]
    assert mismatches(config, "sample", generation) == []
    assert mismatches(config, "sample", [*generation, "--top_k", "5"]) == [
        "sample: --top_k is no flag of generation/sample.py"]
    assert mismatches(config, "sample", [*generation, "--batch_size", "4"]) == [
        "sample.batch_size: the driver passes ['4'], which the run config does not set; the stage's default is 16"]
    changed = [generation[0], *("9" if previous == "--K" else token for previous, token in pairwise(generation))]
    assert mismatches(config, "sample", changed) == ["sample.K: the run config says 8, the driver passes ['9']"]


@pytest.mark.parametrize("key", sorted(SHARED))
def test_a_shared_setting_has_one_default_in_every_stage_that_takes_it(key):
    """A shared key is passed to each of its stages only when the run config states it: their defaults must
    agree, or a stage run by hand would use another value than its neighbours."""
    defaults = {stage: stage_default(stage, key) for stage in SHARED[key]}
    assert set(defaults.values()) == {getattr(RunConfig, key)}, defaults
