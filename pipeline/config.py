"""The run config: the loop's own keys beside one section per stage, whose keys are that stage's flags.

A run config (configs/*.yaml) holds the loop's keys (run_name, seed, iterations, model_name_or_path,
prompts, launcher, ...), the settings several stages must agree on, stated once (``SHARED``: the prompt
type; the split the prompts are read from), and a section per stage:

    sample: {K: 8, max_new_tokens: 64, engine: hf}     # generation/sample.py --K 8 --max_new_tokens 64 --engine hf
    label: {reward_policy: strict_box}                 # annotate/label.py --reward_policy strict_box
    train: {config: configs/dpo/demo.yaml, beta: 0.2}  # dpo_iteration/dpo.py --config configs/dpo/demo.yaml --beta 0.2

A section's keys are the stage's own flags: their names, defaults, help and checks live in the stage's
argument dataclass and nowhere else (``bash run_iter_dpo.sh --keys`` lists them from there). The driver
turns a section into flags without knowing its keys; a key left out keeps the stage's default, so a
stage run by hand with its defaults does what it does in a run that leaves the key out. The driver
itself passes what changes per call (``driver_flags``: paths, the seed, the shard); a section may not
set those.

``run_iter_dpo.sh`` calls ``python -m pipeline resolve`` (pipeline/__main__.py), which loads the config,
applies ``key=value`` / ``section.key=value`` overrides, checks every key and value (each section through
its stage's dataclass) before any model loads, writes the resolved config to
``runs/<run_name>/config.yaml`` and hands the driver the loop's settings as shell variables and each
stage's flags as a bash array.

Paths are relative to the repository root. Three placeholders are expanded when a config is resolved:
``{run_dir}`` (runs/<run_name>), ``{assets}`` (<run_dir>/assets, where the demo's model and task are
built) and, in ``prompts`` only, ``{i}`` (the iteration, from 1).

    python -m pipeline resolve --config configs/demo.yaml iterations=2 train.beta=0.2
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import json
import os
import re
import shlex
import subprocess
import tempfile
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from common.config import ConfigError, parse_config, yaml_key_lines
from common.paths import check_data, check_model, looks_like_hub_id
from common.prompts import check_prompt_type
from eval_math.benchmarks import BUNDLED_DATA_DIR, HUB
from pipeline.slurm import grader_workers, resolve_nodes

ALGORITHMS = ("dpo", "raft")
LAUNCHERS = ("local", "slurm")


@dataclass(frozen=True)
class Stage:
    """A stage the driver runs: its script and the dataclasses that hold its flags."""

    script: str
    module: str
    classes: tuple[str, ...]
    runs: str  # when the driver runs it, for --keys

    def dataclasses(self) -> list[type]:
        module = importlib.import_module(self.module)
        return [getattr(module, name) for name in self.classes]

    @property
    def trainer(self) -> bool:
        return self.module.startswith("dpo_iteration.")


# Section name -> stage, in the order the loop runs them. "train" is dpo.py, or sft.py for algorithm: raft.
STAGES = {
    "build": Stage("demo/build.py", "demo.build", ("BuildArgs",), "first, with build_demo: true"),
    "warmup": Stage("dpo_iteration/sft.py", "dpo_iteration.sft", ("ModelDataArgs", "SFTTrainConfig"),
                    "iteration 0, when warmup.config (an SFT trainer config) is set"),
    "audit": Stage("annotate/audit.py", "annotate.audit", ("AuditArgs",), "each iteration, on its prompts"),
    "sample": Stage("generation/sample.py", "generation.sample", ("SampleArgs",),
                    "each iteration, one process per shard (generation/launch.sh)"),
    "merge": Stage("generation/merge.py", "generation.merge", ("MergeArgs",), "each iteration, after sampling"),
    "label": Stage("annotate/label.py", "annotate.label", ("LabelArgs",), "each iteration"),
    "pairs": Stage("annotate/pairs.py", "annotate.pairs", ("PairsArgs",), "each iteration"),
    "train": Stage("dpo_iteration/dpo.py", "dpo_iteration.dpo", ("DPOScriptArgs", "DPOTrainConfig"),
                   "each iteration (algorithm: dpo; raft trains with sft.py and the keys of the warmup section)"),
    "eval": Stage("eval_math/evaluate.py", "eval_math.evaluate", ("EvalArgs",),
                  "iteration 0 and after each training, with evaluate: true"),
}
RAFT_TRAINER = STAGES["warmup"]

# Settings that stages must agree on: stated once, at the top of the run config, and passed to each of
# these stages (whose defaults for it agree; tests/test_hand_runs.py checks that). A section may not
# set one, except eval.prompt_type with allow_eval_mismatch: true.
SHARED = {
    "prompt_type": ("sample", "eval", "build"),
    "split": ("sample", "merge"),
}


def stage_field(stage: str, name: str) -> dataclasses.Field:
    for cls in STAGES[stage].dataclasses():
        for f in dataclasses.fields(cls):
            if f.name == name:
                return f
    raise KeyError(f"{stage} has no field {name!r}")


def stage_default(stage: str, name: str) -> Any:
    f = stage_field(stage, name)
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def _shared(name: str) -> Any:
    """A shared key's field: the default and help of the first stage that takes it, not restated."""
    first = SHARED[name][0]
    help_text = f"{stage_field(first, name).metadata['help']} (passed to {', '.join(SHARED[name])})"
    return field(default=stage_default(first, name), metadata={"help": help_text})


def _section(stage: str, example: str) -> Any:
    return field(default_factory=dict, metadata={
        "help": f"{STAGES[stage].script}'s flags, e.g. {{{example}}}; runs {STAGES[stage].runs}"})


@dataclass
class RunConfig:
    """Everything ``run_iter_dpo.sh`` needs to run the loop; see configs/*.yaml for the recipes."""

    # The run
    run_name: str = field(default="demo", metadata={"help": "the run directory is <runs_dir>/<run_name>"})
    runs_dir: str = field(default="runs", metadata={"help": "where run directories are created"})
    seed: int = field(default=42, metadata={"help": "one seed for every stage (iteration i samples with seed+i)"})
    iterations: int = field(default=3, metadata={"help": "DPO (or RAFT) iterations after iteration 0"})
    environment: dict = field(
        default_factory=dict,
        metadata={"help": "environment variables for every stage, e.g. {HF_HUB_OFFLINE: 1, WANDB_MODE: disabled}"},
    )

    # The starting model and the data
    model_name_or_path: str = field(
        default="{assets}/model", metadata={"help": "the initial policy: a local directory or a Hub model id"}
    )
    build_demo: bool = field(
        default=False, metadata={"help": "build the embedded tiny model and task into {assets} first (demo/build.py)"}
    )
    prompts: list[str] = field(
        default_factory=lambda: ["{assets}/task/iter_{i}.jsonl"],
        metadata={"help": "prompt files (idx/problem/gt JSONL) or datasets: one per iteration, or one pattern with {i}"},
    )
    prompt_type: str = _shared("prompt_type")
    split: str = _shared("split")
    algorithm: str = field(
        default="dpo", metadata={"help": "dpo: pairs + dpo.py; raft: one correct response per prompt + sft.py"}
    )

    # Where the stages run
    num_gpus: int = field(
        default=-1, metadata={"help": "GPUs to use (per node under slurm); -1: count them (common/gpus.sh: "
                                       "CUDA_VISIBLE_DEVICES, else nvidia-smi; 0 without a GPU)"}
    )
    num_shards: int = field(
        default=0,
        metadata={"help": "generation shards; 0: one per GPU (or per sample.tensor_parallel_size GPUs), 1 on CPU"},
    )
    accelerate_config: str = field(
        default="", metadata={"help": "accelerate config for training on GPUs (configs/accelerate/*.yaml)"}
    )
    launcher: str = field(
        default="local",
        metadata={"help": "local: this machine; slurm: inside a SLURM allocation (configs/slurm/iter_dpo.sbatch), "
                          "generation, training and evaluation spread over its nodes with srun (shared filesystem)"},
    )
    num_nodes: int = field(
        default=0, metadata={"help": "nodes to use under launcher slurm; 0: every node of the allocation"}
    )

    # Evaluation of every iteration's model on the held-out set
    evaluate: bool = field(default=True, metadata={"help": "evaluate iteration 0 and every trained model"})
    allow_eval_mismatch: bool = field(
        default=False,
        metadata={"help": "allow eval.prompt_type to differ from prompt_type (otherwise an error: the model "
                          "would be scored on a prompt it was never trained on)"},
    )

    # The stages, in the order the loop runs them
    build: dict = _section("build", "num_test: 500, max_value: 10")
    warmup: dict = _section("warmup", "config: configs/sft/demo_warmup.yaml, train_file: '{assets}/task/sft.jsonl'")
    audit: dict = _section("audit", "max_fail_share: 0.05")
    sample: dict = _section("sample", "K: 8, temperature: 1.0, max_new_tokens: 4096, engine: vllm")
    merge: dict = _section("merge", "")
    label: dict = _section("label", "reward_policy: recipe, num_workers: 8")
    pairs: dict = _section("pairs", "choose_type: max_min")
    train: dict = _section("train", "config: configs/dpo/qwen25_math_7b.yaml, beta: 0.1")
    eval: dict = _section("eval", "data_names: 'math500,aime24', max_tokens_per_call: 3000, engine: vllm")

    def __post_init__(self):
        check_types(self)
        if self.iterations < 1:
            raise ConfigError(f"iterations must be >= 1, got {self.iterations}")
        for name in ("num_shards", "num_nodes"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.num_gpus < -1:
            raise ConfigError(f"num_gpus must be -1 (detect) or >= 0, got {self.num_gpus}")
        for name, allowed in (("algorithm", ALGORITHMS), ("launcher", LAUNCHERS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.launcher == "local" and self.num_nodes > 1:
            raise ConfigError(f"num_nodes {self.num_nodes} needs launcher: slurm")
        if self.launcher == "slurm" and not self.accelerate_config:
            # Without one, accelerate would start an independent trainer on each node.
            raise ConfigError("launcher: slurm needs accelerate_config (configs/accelerate/multinode_zero3.yaml)")
        if not self.run_name or "/" in self.run_name or self.run_name.startswith("."):
            raise ConfigError(f"run_name must be a plain directory name, got {self.run_name!r}")
        if not self.model_name_or_path:
            raise ConfigError("model_name_or_path must be set")
        if not self.train.get("config"):
            raise ConfigError("train.config must be set: the trainer config (configs/dpo/*.yaml, or configs/sft/*.yaml "
                              "for algorithm: raft)")
        if self.warmup.get("config") and not self.warmup.get("train_file"):
            raise ConfigError("warmup.train_file must be set: the warm-up's prompt/completion JSONL")
        patterns = [p for p in self.prompts if "{i}" in p]
        if patterns and len(self.prompts) > 1:
            raise ConfigError("prompts: a pattern with {i} must be the only entry")
        if not patterns and len(self.prompts) < self.iterations:
            raise ConfigError(
                f"prompts lists {len(self.prompts)} file(s) for {self.iterations} iterations; "
                "give one per iteration or a pattern with {i}"
            )
        for key, value in self.environment.items():
            if not str(key).isidentifier() or isinstance(value, (dict, list)):
                raise ConfigError(f"environment: {key!r}: expected NAME: value")
        choose_type = self.pairs.get("choose_type")
        if self.algorithm == "dpo" and choose_type == "raft":
            raise ConfigError("pairs.choose_type raft: for RAFT set algorithm: raft")
        if self.algorithm == "raft" and choose_type not in (None, "raft"):
            raise ConfigError(f"pairs.choose_type {choose_type!r}: algorithm raft picks one correct response per "
                              "prompt (choose_type raft); leave choose_type out")
        check_prompt_type(self.prompt_type)  # once, for every stage in SHARED["prompt_type"]
        eval_prompt = self.eval.get("prompt_type", self.prompt_type)
        if self.evaluate and eval_prompt != self.prompt_type and not self.allow_eval_mismatch:
            raise ConfigError(
                f"eval.prompt_type {eval_prompt!r} differs from prompt_type {self.prompt_type!r}: every "
                "model would be evaluated on a prompt it never trained on; use the same one, or set "
                "allow_eval_mismatch: true if that is meant"
            )
        for name in STAGES:
            check_section(self, name)

    @property
    def run_dir(self) -> str:
        return os.path.join(self.runs_dir, self.run_name)

    @property
    def assets_dir(self) -> str:
        return os.path.join(self.run_dir, "assets")

    def prompt_file(self, iteration: int) -> str:
        """The prompt set of ``iteration`` (1-based)."""
        if len(self.prompts) == 1 and "{i}" in self.prompts[0]:
            return self.prompts[0].replace("{i}", str(iteration))
        return self.prompts[iteration - 1]

    def stage(self, name: str) -> Stage:
        """The stage a section's flags go to (sft.py trains under algorithm: raft)."""
        return RAFT_TRAINER if name == "train" and self.algorithm == "raft" else STAGES[name]

    def value(self, stage: str, name: str) -> Any:
        """What ``stage`` runs with for flag ``name``: the section's value, the shared one, or the stage's default."""
        return section_value(vars(self), stage, name)


SECTIONS = tuple(STAGES)


def section_value(config: dict[str, Any], stage: str, name: str) -> Any:
    """What ``stage`` runs with for flag ``name`` under the run config ``config`` (a resolved config.yaml):
    the section's value, else the shared one, else the stage's default."""
    section = config.get(stage) or {}
    if name in section:
        return section[name]
    if stage in SHARED.get(name, ()) and name in config:
        return config[name]
    return stage_default(stage, name)


def driver_flags(config: RunConfig, stage: str) -> dict[str, Any]:
    """The flags the driver passes ``stage`` itself on every call (run_iter_dpo.sh), with their values in
    iteration 1. A section may not set them; a section is checked with these values filled in."""
    run, it = config.run_dir, os.path.join(config.run_dir, "iter_1")
    warmup_model = os.path.join(run, "iter_0", "model")
    flags_of = {
        "build": {"output_dir": config.assets_dir, "seed": config.seed, "iterations": config.iterations},
        "warmup": {"model_name_or_path": config.model_name_or_path, "output_dir": warmup_model, "seed": config.seed},
        "audit": {"dataset_name_or_path": config.prompt_file(1), "output_file": os.path.join(it, "audit.json"),
                  "stats_file": None},
        "sample": {"model_name_or_path": config.model_name_or_path, "dataset_name_or_path": config.prompt_file(1),
                   "output_dir": os.path.join(it, "shards"), "seed": config.seed + 1, "local_index": 0,
                   "my_world_size": 1},
        "merge": {"shard_dir": os.path.join(it, "shards"), "my_world_size": 1,
                  "output_file": os.path.join(it, "samples.jsonl"), "dataset_name_or_path": config.prompt_file(1)},
        "label": {"dataset_name_or_path": os.path.join(it, "samples.jsonl"),
                  "output_file": os.path.join(it, "labeled.jsonl"), "audit_file": os.path.join(it, "audit.json"),
                  "stats_file": None},
        "pairs": {"dataset_name_or_path": os.path.join(it, "labeled.jsonl"),
                  "output_file": os.path.join(it, "raft.jsonl" if config.algorithm == "raft" else "pairs.jsonl"),
                  "seed": config.seed, "stats_file": None},
        "train": {"model_name_or_path": config.model_name_or_path, "train_file": os.path.join(it, "pairs.jsonl"),
                  "output_dir": os.path.join(it, "model"), "seed": config.seed},
        "eval": {"model_name_or_path": config.model_name_or_path, "output_dir": os.path.join(it, "eval"),
                 "seed": config.seed, "write_summary": True},
    }
    if config.algorithm == "dpo":
        flags_of["train"]["initial_model_name_or_path"] = config.model_name_or_path
    if config.algorithm == "raft":
        flags_of["pairs"]["choose_type"] = "raft"
    return flags_of[stage]


def check_section(config: RunConfig, stage: str) -> None:
    """The section's keys are the stage's flags, none of them the driver's or a shared one, and its values
    pass the stage's own checks (its dataclass's types and ``__post_init__``). Trainer sections are
    parsed by the trainer's own parser in ``trainer_problems``, which needs TRL."""
    section = getattr(config, stage)
    for key, value in section.items():
        if not isinstance(key, str) or not key.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"{stage}: {key!r} is not a flag name")
        if isinstance(value, dict):
            raise ConfigError(f"{stage}.{key}: expected a scalar or a list, got a mapping")
        if key in driver_flags(config, stage):
            raise ConfigError(f"{stage}.{key} is set by the driver on every call; leave it out")
        if stage in SHARED.get(key, ()) and not (stage == "eval" and key == "prompt_type"):
            raise ConfigError(f"{stage}.{key}: set {key} at the top of the run config; it is passed to "
                              f"{', '.join(SHARED[key])} alike")
    if config.stage(stage).trainer:
        return
    (cls,) = config.stage(stage).dataclasses()
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in section.items():
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{stage}: unknown key {key!r}{hint} ({config.stage(stage).script} --help lists them)")
        values[key] = checked(f"{stage}.{key}", value, hints[key])
    shared = {key: getattr(config, key) for key, stages in SHARED.items() if stage in stages}
    try:
        cls(**{**driver_flags(config, stage), **shared, **values})
    except ConfigError as e:
        raise ConfigError(f"{stage}: {e}") from None


def check_types(config: Any) -> None:
    """Check each field's value against its annotation (ints given for floats become floats)."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        setattr(config, f.name, checked(f.name, getattr(config, f.name), hints[f.name]))


def checked(name: str, value: Any, expected: Any) -> Any:
    """``value`` if it is of type ``expected`` (as a float if a float is expected), else ConfigError.

    TrlParser takes YAML values as defaults without converting them, so a ``K: 8.5`` or ``evaluate: maybe``
    would otherwise pass through unnoticed or end in an argparse usage dump.
    """
    args = typing.get_args(expected)
    if type(None) in args:  # X | None
        if value is None:
            return value
        (expected,) = [a for a in args if a is not type(None)]
    origin = typing.get_origin(expected) or expected
    item = (typing.get_args(expected) or (str,))[0] if origin is list else None
    if origin is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif origin is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif origin is list:
        ok = isinstance(value, list) and all(isinstance(v, item) and not isinstance(v, bool) for v in value)
    else:
        ok = isinstance(value, origin)
    if not ok:
        kinds = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
                 dict: "a mapping (key: value, ...)"}
        kind = f"a list of {kinds[item][2:]}s" if origin is list else kinds.get(origin, str(expected))
        raise ConfigError(f"{name} must be {kind}, got {value!r}")
    return value


def _field_types() -> dict[str, Any]:
    return typing.get_type_hints(RunConfig)


# The flat keys of the run config before it had a section per stage, and where each went.
MOVED = {
    "K": "sample.K", "temperature": "sample.temperature", "top_p": "sample.top_p",
    "max_new_tokens": "sample.max_new_tokens", "engine": "sample.engine", "generation_overrides": "sample",
    "label_workers": "label.num_workers", "reward_policy": "label.reward_policy", "label_overrides": "label",
    "audit_max_fail_share": "audit.max_fail_share", "choose_type": "pairs.choose_type", "pairs_overrides": "pairs",
    "train_config": "train.config", "train_overrides": "train", "ref_policy": "train.ref_policy",
    "warmup_config": "warmup.config", "warmup_data": "warmup.train_file", "warmup_overrides": "warmup",
    "demo_num_test": "build.num_test", "demo_num_sft": "build.num_sft",
    "demo_num_iter_prompts": "build.num_iter_prompts", "demo_overrides": "build",
    "eval_data_dir": "eval.data_dir", "eval_data_names": "eval.data_names",
    "eval_prompt_type": "eval.prompt_type (with allow_eval_mismatch: true; else it is prompt_type)",
    "eval_max_tokens": "eval.max_tokens_per_call", "eval_engine": "eval.engine", "eval_overrides": "eval",
}


def _unknown_key(key: str, where: str, value: Any = None) -> ConfigError:
    if key in MOVED:
        target = MOVED[key]
        if target in STAGES:
            moved = f"the {target} section (its keys are {STAGES[target].script}'s flags)"
        elif "." in target and " " not in target and value is not None:
            section, name = target.split(".")
            moved = f"{target}: write `{section}: {{{name}: {json.dumps(value)}}}`"
        else:
            moved = target
        return ConfigError(f"{where}: key {key!r} has moved to {moved}; `bash run_iter_dpo.sh --keys` lists every key")
    names = [f.name for f in dataclasses.fields(RunConfig)]
    close = difflib.get_close_matches(key, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"{where}: unknown key {key!r}{hint} (`bash run_iter_dpo.sh --keys` lists them)")


def parse_override(text: str, types: dict[str, Any]) -> tuple[list[str], Any]:
    """``key=value`` -> (key path, value). Strings stay as written; other values are read as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected key=value")
    key, raw = text.split("=", 1)
    path = key.strip().split(".")
    if path[0] not in types:
        raise _unknown_key(path[0], "command line")
    if len(path) > 2 or (len(path) == 2 and path[0] not in SECTIONS + ("environment",)):
        raise ConfigError(f"override {text!r}: dotted keys go one level into a stage's section "
                          f"({', '.join(SECTIONS)}) or environment")
    if len(path) == 1 and types[path[0]] is str:
        return path, raw
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"override {text!r}: not a valid value ({e.problem})") from None
    if len(path) == 1 and typing.get_origin(types[path[0]]) is list and not isinstance(value, list):
        value = [raw]  # a single prompt file or pattern
    return path, value


def load_config(config_file: str | None, overrides: list[str] = ()) -> RunConfig:
    """The recipe in ``config_file`` with ``overrides`` (``key=value``, ``section.key=value``) applied.

    A bad value from the file is named by its line there (``configs/x.yaml:12: sample.K must be ...``).
    """
    values: dict[str, Any] = {}
    types = _field_types()
    lines: dict[str, int] = {}
    if config_file:
        if not Path(config_file).is_file():
            raise ConfigError(f"config file not found: {config_file}")
        lines = yaml_key_lines(config_file)
        with open(config_file, encoding="utf-8") as f:
            values = yaml.safe_load(f) or {}
        if not isinstance(values, dict):
            raise ConfigError(f"{config_file}: expected a mapping of keys to values")
        unknown = [key for key in values if key not in types]
        if unknown:  # every one at once, each on its own line, at its line of the file
            raise ConfigError("\n".join(str(_unknown_key(key, f"{config_file}:{lines[str(key)]}", values[key]))
                                        for key in unknown))
    overridden = set()
    for text in overrides:
        path, value = parse_override(text, types)
        overridden.add(".".join(path))
        if len(path) == 2:
            section = dict(values.get(path[0]) or {})
            section[path[1]] = value
            values[path[0]] = section
        else:
            values[path[0]] = value
    try:
        for key, value in values.items():
            checked(key, value, types[key])
        # Through the project's parser (TrlParser: YAML defaults, unknown keys rejected) from one merged file.
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="run_config_", encoding="utf-8") as tmp:
            yaml.safe_dump(values, tmp, sort_keys=False)
            tmp.flush()
            (config,) = parse_config([RunConfig], ["--config", tmp.name])
    except ConfigError as e:
        # Messages start with the key they are about: "sample.K must be ...", "label: unknown key ...".
        key = re.match(r"[A-Za-z_]\w*(\.\w+)?", str(e))
        key = key and key.group(0)
        line = key and key not in overridden and (lines.get(key) or lines.get(key.split(".")[0]))
        if line:
            raise ConfigError(f"{config_file}:{line}: {e}") from None
        raise
    return config


def expand(config: RunConfig) -> RunConfig:
    """Placeholders filled in and the GPU count detected: what the run will actually use."""
    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("{run_dir}", config.run_dir).replace("{assets}", config.assets_dir)
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    changes = {f.name: fill(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if config.num_gpus == -1:
        changes["num_gpus"] = count_gpus()
    changes["num_nodes"] = resolve_nodes(config.launcher, config.num_nodes)
    return dataclasses.replace(config, **changes)


def count_gpus() -> int:
    """GPUs this process may use, as common/gpus.sh lists them (CUDA_VISIBLE_DEVICES if set, else what
    nvidia-smi lists, else none): the count generation/launch.sh shards by."""
    script = Path(__file__).resolve().parent.parent / "common" / "gpus.sh"
    listing = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60, check=True)
    return len(listing.stdout.split())


def to_dict(config: RunConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def flat(values: dict[str, Any]) -> dict[str, Any]:
    """``{sample: {K: 8}, seed: 1}`` -> ``{"sample.K": 8, "seed": 1}`` (an empty section stays as {})."""
    out = {}
    for key, value in values.items():
        if key in SECTIONS and isinstance(value, dict) and value:
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


# Keys that may differ when a run is resumed: they change how fast stages run, not what they produce,
# or (iterations) extend the run. Anything else would mix two experiments in one run directory.
RESUMABLE_CHANGES = frozenset({"iterations", "num_gpus", "num_shards", "label.num_workers", "accelerate_config",
                               "launcher", "num_nodes", "allow_eval_mismatch"})


def write_or_check(config: RunConfig, path: str | os.PathLike, write: bool = True) -> bool:
    """Write the resolved config to ``path`` (unless ``write`` is false), or check it matches the one a
    previous start wrote.

    Returns True when the run is being resumed. Resuming with a different config would mix two
    experiments in one run directory, so it is an error, except for ``RESUMABLE_CHANGES``.
    """
    from common.records import atomic_open

    path = Path(path)
    resumed = path.is_file()
    if resumed:
        with open(path, encoding="utf-8") as f:
            previous = flat(yaml.safe_load(f) or {})
        current = flat(to_dict(config))
        changed = sorted(k for k in current.keys() | previous.keys()
                         if current.get(k) != previous.get(k) and k not in RESUMABLE_CHANGES)
        if changed:
            detail = ", ".join(f"{k}: {previous.get(k)!r} -> {current.get(k)!r}" for k in changed[:5])
            raise ConfigError(
                f"{path.parent} was started with a different config ({detail}); "
                "use another run_name, or delete the run directory to start over"
            )
    if write:
        with atomic_open(path) as f:
            yaml.safe_dump(to_dict(config), f, sort_keys=False)
    return resumed


def flags(values: dict[str, Any]) -> list[str]:
    """``{beta: 0.1, loss_type: [sigmoid, sft], bf16: false}`` -> ``--beta 0.1 --loss_type sigmoid sft --bf16 false``."""
    out = []
    for key, value in values.items():
        out.append(f"--{key}")
        items = value if isinstance(value, list) else [value]
        out += ["true" if v is True else "false" if v is False else str(v) for v in items]
    return out


def stage_flags(config: RunConfig, stage: str) -> list[str]:
    """The run config's flags for ``stage``: the shared settings it takes, then its section."""
    shared = {key: getattr(config, key) for key, stages in SHARED.items() if stage in stages}
    section = dict(getattr(config, stage))
    if stage == "label" and config.launcher == "slurm":
        # Grading runs on the driver's node: a worker per core there unless the section says otherwise.
        section.setdefault("num_workers", grader_workers())
    return flags({**shared, **section})


def shell_assignments(config: RunConfig, resumed: bool) -> str:
    """The settings the driver needs, as bash assignments (values quoted with shlex, arrays for flags)."""
    gpus_per_shard = int(config.value("sample", "tensor_parallel_size"))
    gpus_per_eval = int(config.value("eval", "tensor_parallel_size"))
    scalars = {
        "RUN_DIR": config.run_dir, "ASSETS_DIR": config.assets_dir, "RESUMED": int(resumed),
        "SEED": config.seed, "ITERATIONS": config.iterations, "MODEL": config.model_name_or_path,
        "BUILD_DEMO": int(config.build_demo), "WARMUP": int(bool(config.warmup.get("config"))),
        "NUM_SHARDS": config.num_shards or max(1, max(1, config.num_nodes) * config.num_gpus // gpus_per_shard),
        "LAUNCHER": config.launcher, "NUM_NODES": max(1, config.num_nodes),
        # srun tasks per node: one per GPU (or tensor-parallel group), one per node without a GPU
        "GEN_TASKS_PER_NODE": max(1, config.num_gpus // gpus_per_shard),
        "EVAL_TASKS_PER_NODE": max(1, config.num_gpus // gpus_per_eval), "EVAL_GPUS_PER_TASK": gpus_per_eval,
        "EVAL_DATA_NAMES": config.value("eval", "data_names"),
        "ALGORITHM": config.algorithm, "NUM_GPUS": config.num_gpus,
        "ACCELERATE_CONFIG": config.accelerate_config, "EVALUATE": int(config.evaluate),
    }
    lines = [f"{name}={shlex.quote(str(value))}" for name, value in scalars.items()]
    prompt_files = [config.prompt_file(i) for i in range(1, config.iterations + 1)]
    arrays = {"PROMPT_FILES": prompt_files}
    arrays.update({f"{stage.upper()}_ARGS": stage_flags(config, stage) for stage in SECTIONS})
    lines += [f"{name}=({' '.join(shlex.quote(v) for v in values)})" for name, values in arrays.items()]
    lines += [f"export {name}={shlex.quote(str(value))}" for name, value in config.environment.items()]
    return "\n".join(lines) + "\n"


def missing_inputs(config: RunConfig) -> list[str]:
    """Inputs that must exist, and data files that must not be empty, before the first model loads
    (checked after the demo assets are built): a run stops at the first empty input, not after stages
    have run on nothing."""
    problems = []
    files = {"train.config": config.train["config"]}
    data = {f"prompts (iteration {i})": config.prompt_file(i) for i in range(1, config.iterations + 1)
            if not looks_like_hub_id(config.prompt_file(i))}
    if config.warmup.get("config"):
        files["warmup.config"] = config.warmup["config"]
        data["warmup.train_file"] = config.warmup["train_file"]
    if (config.num_gpus > 0 or config.launcher == "slurm") and config.accelerate_config:
        files["accelerate_config"] = config.accelerate_config
    for what, path in files.items():
        if not Path(path).is_file():
            problems.append(f"{what}: {path} not found")
    for what, path in data.items():
        try:
            if not Path(path).exists():
                raise ConfigError(f"{what}: {path} not found")
            check_data(path, what)
        except ConfigError as e:
            problems.append(str(e))
    data_dir = config.value("eval", "data_dir")
    if config.evaluate and data_dir != HUB:
        for name in config.value("eval", "data_names").split(","):
            if not (Path(data_dir or BUNDLED_DATA_DIR) / name.strip()).is_dir():
                problems.append(f"eval.data_names: {Path(data_dir or BUNDLED_DATA_DIR) / name.strip()} not found")
    try:
        check_model(config.model_name_or_path, "model_name_or_path")
    except ConfigError as e:
        problems.append(str(e))
    return problems


def trainer_jobs(config: RunConfig) -> list[tuple[str, Stage, dict]]:
    """(section, trainer, section values) of every training the run will do."""
    jobs = []
    if config.warmup.get("config"):
        jobs.append(("warmup", STAGES["warmup"], config.warmup))
    jobs.append(("train", config.stage("train"), config.train))
    return jobs


def trainer_problems(config: RunConfig) -> list[str]:
    """Parse each trainer section through the trainer's own dataclasses, loading no model.

    A bad key or value in a trainer config would otherwise surface only when the trainer starts, after
    the iteration's sampling and grading (hours, at the recipe's scale). Paths are not checked here (the
    trainer's CLI checks them, common/paths.py): the model and the data may not exist yet.
    """
    import torch

    gpu_visible = torch.cuda.is_available()
    problems = []
    with tempfile.TemporaryDirectory(prefix="trainer_check_") as scratch:
        for section, stage, values in trainer_jobs(config):
            argv = [*flags(values), "--model_name_or_path", config.model_name_or_path,
                    "--train_file", values.get("train_file", values["config"]), "--output_dir", scratch]
            if values.get("val_file"):  # written by the demo build, which has not run yet: the config stands in
                argv += ["--val_file", values["config"]]
            if not gpu_visible:  # a GPU recipe checked on a machine without one (a dry run): bf16 would fail
                argv += ["--use_cpu", "true"]
            try:
                parse_config(stage.dataclasses(), argv)
            except ValueError as e:  # ConfigError: unknown keys, bad values, __post_init__ checks
                problems.append(f"{section} ({stage.script} {shlex.join(flags(values))}): {e}")
    return problems
