"""The driver's configuration: one dataclass, loaded from a recipe YAML plus ``key=value`` overrides.

``run_iter_dpo.sh`` calls ``python -m pipeline resolve`` (see pipeline/__main__.py), which loads the
recipe, applies the overrides, validates everything through the project's config system
(common/config.py: TrlParser, unknown keys are errors, ConfigError from ``__post_init__``) before any
model loads, writes the resolved config to ``runs/<run_name>/config.yaml`` and hands the driver its
settings as shell variables.

Paths are relative to the repository root. Three placeholders are expanded when a config is resolved:
``{run_dir}`` (runs/<run_name>), ``{assets}`` (<run_dir>/assets, where the demo's model and task are
built) and, in ``prompts`` only, ``{i}`` (the iteration, from 1).

    python -m pipeline resolve --config configs/demo.yaml iterations=2 train_overrides.beta=0.2
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import io
import os
import shlex
import shutil
import subprocess
import tempfile
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from annotate.label import REWARD_POLICIES
from annotate.pairs import STRATEGIES
from common.config import ConfigError, parse_config
from common.prompts import PROMPT_TYPES
from dpo_iteration.training import check_model_path
from eval_math.benchmarks import BUNDLED_DATA_DIR, HUB
from pipeline.slurm import resolve_nodes

ALGORITHMS = ("dpo", "raft")
REF_POLICIES = ("previous", "initial")
ENGINES = ("auto", "vllm", "hf")
LAUNCHERS = ("local", "slurm")
# The pair strategies of annotate/pairs.py; "raft" is chosen by algorithm: raft, not here.
DPO_CHOOSE_TYPES = tuple(STRATEGIES)
# Keys that may differ when a run is resumed: they change how fast stages run, not what they produce,
# or (iterations) extend the run. Anything else would mix two experiments in one run directory.
RESUMABLE_CHANGES = frozenset({"iterations", "num_gpus", "num_shards", "label_workers", "accelerate_config",
                               "launcher", "num_nodes", "allow_eval_mismatch"})


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
    demo_num_test: int = field(default=200, metadata={"help": "demo: held-out test problems"})
    demo_num_sft: int = field(default=2000, metadata={"help": "demo: worked solutions for the SFT warm-up"})
    demo_num_iter_prompts: int = field(default=256, metadata={"help": "demo: prompts per iteration"})
    demo_overrides: dict = field(
        default_factory=dict, metadata={"help": "further flags for demo/build.py, e.g. {max_operands: 2, max_value: 10}"}
    )
    prompts: list[str] = field(
        default_factory=lambda: ["{assets}/task/iter_{i}.jsonl"],
        metadata={"help": "prompt files (idx/problem/gt JSONL): one per iteration, or one pattern with {i}"},
    )
    prompt_type: str = field(default="chat", metadata={"help": f"prompt rendering (common/prompts.py), one of {PROMPT_TYPES}"})

    # Iteration 0: an optional SFT warm-up, whose model is then the initial policy
    warmup_config: str = field(
        default="", metadata={"help": "SFT config (configs/sft/*.yaml) for a warm-up before iteration 1; empty: none"}
    )
    warmup_data: str = field(
        default="{assets}/task/sft.jsonl", metadata={"help": "prompt/completion JSONL for the warm-up"}
    )
    warmup_overrides: dict = field(default_factory=dict, metadata={"help": "flags for the warm-up's sft.py"})

    # Generation
    K: int = field(default=8, metadata={"help": "responses sampled per prompt"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling threshold"})
    max_new_tokens: int = field(default=2048, metadata={"help": "length limit of a sampled response"})
    engine: str = field(default="auto", metadata={"help": f"generation engine, one of {ENGINES}"})
    num_shards: int = field(
        default=0,
        metadata={"help": "generation shards; 0: one per GPU (or per tensor_parallel_size GPUs), 1 on CPU"},
    )
    generation_overrides: dict = field(default_factory=dict, metadata={"help": "further flags for generation/sample.py"})

    # Rewards and pairs
    label_workers: int = field(default=0, metadata={"help": "grading processes; 0: the labeler's default"})
    label_overrides: dict = field(
        default_factory=dict, metadata={"help": "flags for annotate/label.py, e.g. the reward scheme"}
    )
    reward_policy: str = field(
        default="recipe",
        metadata={"help": f"annotate/label.py --reward_policy, one of {REWARD_POLICIES}: recipe (the original's "
                          "labeler: correct by any extraction rule) or strict_box (correct only inside \\boxed{{}})"},
    )
    audit_max_fail_share: float = field(
        default=0.05,
        metadata={"help": "ground-truth audit (annotate/audit.py) before each iteration: failing prompts are left "
                          "out of its labels; more than this share failing stops the run"},
    )
    algorithm: str = field(
        default="dpo", metadata={"help": "dpo: pairs + dpo.py; raft: best correct responses + sft.py"}
    )
    choose_type: str = field(
        default="max_min", metadata={"help": f"DPO pair strategy, one of {DPO_CHOOSE_TYPES} (ignored by raft)"}
    )
    pairs_overrides: dict = field(default_factory=dict, metadata={"help": "flags for annotate/pairs.py"})

    # Training
    train_config: str = field(
        default="configs/dpo/demo.yaml", metadata={"help": "trainer config: configs/dpo/*.yaml, or configs/sft/*.yaml for raft"}
    )
    train_overrides: dict = field(
        default_factory=dict, metadata={"help": "flags for the trainer, e.g. {beta: 0.1, learning_rate: 5.0e-7}"}
    )
    ref_policy: str = field(
        default="previous", metadata={"help": "DPO reference: previous (the iteration's start) or initial"}
    )
    num_gpus: int = field(
        default=-1, metadata={"help": "GPUs to use (per node under slurm); -1: count them with nvidia-smi (0 on CPU)"}
    )
    accelerate_config: str = field(
        default="", metadata={"help": "accelerate config for training on GPUs (configs/accelerate/*.yaml)"}
    )

    # Where the stages run
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
    eval_data_dir: str = field(
        default="{assets}/task",
        metadata={"help": f"eval_math --data_dir (<dir>/<name>/test.jsonl); empty: the bundled eval_math/data; "
                          f"{HUB}: the Hugging Face Hub"},
    )
    eval_data_names: str = field(default="arith", metadata={"help": "eval_math --data_names (comma-separated)"})
    eval_prompt_type: str = field(default="chat", metadata={"help": "eval_math --prompt_type"})
    eval_max_tokens: int = field(default=2048, metadata={"help": "eval_math --max_tokens_per_call"})
    allow_eval_mismatch: bool = field(
        default=False,
        metadata={"help": "allow eval_prompt_type to differ from prompt_type (otherwise an error: the model "
                          "would be scored on a prompt it was never trained on)"},
    )
    eval_engine: str = field(default="auto", metadata={"help": f"eval engine, one of {ENGINES}"})
    eval_overrides: dict = field(default_factory=dict, metadata={"help": "further flags for eval_math/evaluate.py"})

    def __post_init__(self):
        check_types(self)
        for name in ("iterations", "K", "max_new_tokens", "eval_max_tokens", "demo_num_test", "demo_num_sft",
                     "demo_num_iter_prompts"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("num_shards", "label_workers", "num_nodes"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.num_gpus < -1:
            raise ConfigError(f"num_gpus must be -1 (detect) or >= 0, got {self.num_gpus}")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.temperature < 0:
            raise ConfigError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 <= self.audit_max_fail_share <= 1:
            raise ConfigError(f"audit_max_fail_share must be in [0, 1], got {self.audit_max_fail_share}")
        for name, allowed in (("reward_policy", REWARD_POLICIES), ("algorithm", ALGORITHMS),
                              ("ref_policy", REF_POLICIES), ("engine", ENGINES),
                              ("eval_engine", ENGINES), ("launcher", LAUNCHERS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.launcher == "local" and self.num_nodes > 1:
            raise ConfigError(f"num_nodes {self.num_nodes} needs launcher: slurm")
        if self.launcher == "slurm" and not self.accelerate_config:
            # Without one, accelerate would start an independent trainer on each node.
            raise ConfigError("launcher: slurm needs accelerate_config (configs/accelerate/multinode_zero3.yaml)")
        if self.algorithm == "dpo" and self.choose_type not in DPO_CHOOSE_TYPES:
            hint = " (for RAFT set algorithm: raft)" if self.choose_type == "raft" else ""
            raise ConfigError(f"choose_type must be one of {DPO_CHOOSE_TYPES}{hint}, got {self.choose_type!r}")
        if not self.run_name or "/" in self.run_name or self.run_name.startswith("."):
            raise ConfigError(f"run_name must be a plain directory name, got {self.run_name!r}")
        for name in ("train_config", "model_name_or_path"):
            if not getattr(self, name):
                raise ConfigError(f"{name} must be set")
        patterns = [p for p in self.prompts if "{i}" in p]
        if patterns and len(self.prompts) > 1:
            raise ConfigError("prompts: a pattern with {i} must be the only entry")
        if not patterns and len(self.prompts) < self.iterations:
            raise ConfigError(
                f"prompts lists {len(self.prompts)} file(s) for {self.iterations} iterations; "
                "give one per iteration or a pattern with {i}"
            )
        for name in ("prompt_type", "eval_prompt_type"):
            if getattr(self, name) not in PROMPT_TYPES:
                raise ConfigError(f"{name} must be one of {PROMPT_TYPES}, got {getattr(self, name)!r}")
        if self.evaluate and self.eval_prompt_type != self.prompt_type and not self.allow_eval_mismatch:
            raise ConfigError(
                f"eval_prompt_type {self.eval_prompt_type!r} differs from prompt_type {self.prompt_type!r}: every "
                "model would be evaluated on a prompt it never trained on; use the same one, or set "
                "allow_eval_mismatch: true if that is meant"
            )
        for key, value in self.environment.items():
            if not str(key).isidentifier() or isinstance(value, (dict, list)):
                raise ConfigError(f"environment: {key!r}: expected NAME: value")
        for name in OVERRIDE_FIELDS:
            for key, value in getattr(self, name).items():
                if not isinstance(key, str) or not key.replace("_", "").replace("-", "").isalnum():
                    raise ConfigError(f"{name}: {key!r} is not a flag name")
                if isinstance(value, dict):
                    raise ConfigError(f"{name}.{key}: expected a scalar or a list, got a mapping")

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


OVERRIDE_FIELDS = tuple(f.name for f in dataclasses.fields(RunConfig) if f.name.endswith("_overrides"))


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
    origin = typing.get_origin(expected) or expected
    if origin is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif origin is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif origin is list:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    else:
        ok = isinstance(value, origin)
    if not ok:
        kind = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
                dict: "a mapping (key: value, ...)", list: "a list of strings"}.get(origin, str(expected))
        raise ConfigError(f"{name} must be {kind}, got {value!r}")
    return value


def _field_types() -> dict[str, Any]:
    return typing.get_type_hints(RunConfig)


def _unknown_key(key: str, where: str) -> ConfigError:
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
    if len(path) > 2 or (len(path) == 2 and path[0] not in OVERRIDE_FIELDS):
        raise ConfigError(f"override {text!r}: dotted keys go one level into {OVERRIDE_FIELDS}")
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
    """The recipe in ``config_file`` with ``overrides`` (``key=value``, ``section.key=value``) applied."""
    values: dict[str, Any] = {}
    types = _field_types()
    if config_file:
        if not Path(config_file).is_file():
            raise ConfigError(f"config file not found: {config_file}")
        with open(config_file, encoding="utf-8") as f:
            try:
                values = yaml.safe_load(f) or {}
            except yaml.YAMLError as e:
                raise ConfigError(f"{config_file}: not valid YAML ({e})") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{config_file}: expected a mapping of keys to values")
        for key in values:
            if key not in types:
                raise _unknown_key(key, config_file)
    for text in overrides:
        path, value = parse_override(text, types)
        if len(path) == 2:
            section = dict(values.get(path[0]) or {})
            section[path[1]] = value
            values[path[0]] = section
        else:
            values[path[0]] = value
    for key, value in values.items():
        checked(key, value, types[key])
    # Through the project's parser (TrlParser: YAML defaults, unknown keys rejected) from one merged file.
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="run_config_", encoding="utf-8") as tmp:
        yaml.safe_dump(values, tmp)
        tmp.flush()
        (config,) = parse_config([RunConfig], ["--config", tmp.name])
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
    """GPUs this process may use: CUDA_VISIBLE_DEVICES if set, else what nvidia-smi lists, else 0."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30, check=True)
    except (subprocess.SubprocessError, OSError):
        return 0
    return sum(line.startswith("GPU") for line in listing.stdout.splitlines())


def to_dict(config: RunConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


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
            previous = yaml.safe_load(f) or {}
        current = to_dict(config)
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


def flags(overrides: dict[str, Any]) -> list[str]:
    """``{beta: 0.1, loss_type: [sigmoid, sft], bf16: false}`` -> ``--beta 0.1 --loss_type sigmoid sft --bf16 false``."""
    out = []
    for key, value in overrides.items():
        out.append(f"--{key}")
        items = value if isinstance(value, list) else [value]
        out += ["true" if v is True else "false" if v is False else str(v) for v in items]
    return out


def shell_assignments(config: RunConfig, resumed: bool) -> str:
    """The settings the driver needs, as bash assignments (values quoted with shlex, arrays for flags)."""
    gpus_per_shard = int(config.generation_overrides.get("tensor_parallel_size", 1))
    gpus_per_eval = int(config.eval_overrides.get("tensor_parallel_size", 1))
    scalars = {
        "RUN_DIR": config.run_dir, "ASSETS_DIR": config.assets_dir, "RESUMED": int(resumed),
        "SEED": config.seed, "ITERATIONS": config.iterations, "MODEL": config.model_name_or_path,
        "BUILD_DEMO": int(config.build_demo), "DEMO_NUM_TEST": config.demo_num_test,
        "DEMO_NUM_SFT": config.demo_num_sft, "DEMO_NUM_ITER_PROMPTS": config.demo_num_iter_prompts,
        "PROMPT_TYPE": config.prompt_type, "WARMUP_CONFIG": config.warmup_config,
        "WARMUP_DATA": config.warmup_data, "K": config.K, "TEMPERATURE": config.temperature,
        "TOP_P": config.top_p, "MAX_NEW_TOKENS": config.max_new_tokens, "ENGINE": config.engine,
        "NUM_SHARDS": config.num_shards or max(1, max(1, config.num_nodes) * config.num_gpus // gpus_per_shard),
        "LABEL_WORKERS": config.label_workers, "REWARD_POLICY": config.reward_policy,
        "AUDIT_MAX_FAIL_SHARE": config.audit_max_fail_share, "LAUNCHER": config.launcher, "NUM_NODES": max(1, config.num_nodes),
        # srun tasks per node: one per GPU (or tensor-parallel group), one per node without a GPU
        "GEN_TASKS_PER_NODE": max(1, config.num_gpus // gpus_per_shard),
        "EVAL_TASKS_PER_NODE": max(1, config.num_gpus // gpus_per_eval), "EVAL_GPUS_PER_TASK": gpus_per_eval,
        "ALGORITHM": config.algorithm,
        "CHOOSE_TYPE": "raft" if config.algorithm == "raft" else config.choose_type,
        "TRAIN_CONFIG": config.train_config, "REF_POLICY": config.ref_policy, "NUM_GPUS": config.num_gpus,
        "ACCELERATE_CONFIG": config.accelerate_config, "EVALUATE": int(config.evaluate),
        "EVAL_DATA_DIR": config.eval_data_dir, "EVAL_DATA_NAMES": config.eval_data_names,
        "EVAL_PROMPT_TYPE": config.eval_prompt_type, "EVAL_MAX_TOKENS": config.eval_max_tokens,
        "EVAL_ENGINE": config.eval_engine,
    }
    lines = [f"{name}={shlex.quote(str(value))}" for name, value in scalars.items()]
    prompt_files = [config.prompt_file(i) for i in range(1, config.iterations + 1)]
    arrays = {
        "PROMPT_FILES": prompt_files,
        "DEMO_ARGS": flags(config.demo_overrides), "WARMUP_ARGS": flags(config.warmup_overrides),
        "GENERATION_ARGS": flags(config.generation_overrides),
        # merge.py re-reads the prompts to check every one was sampled: from the split generation read.
        "MERGE_ARGS": flags({k: v for k, v in config.generation_overrides.items() if k == "split"}),
        "LABEL_ARGS": flags(config.label_overrides), "PAIRS_ARGS": flags(config.pairs_overrides),
        "TRAIN_ARGS": flags(config.train_overrides), "EVAL_ARGS": flags(config.eval_overrides),
    }
    lines += [f"{name}=({' '.join(shlex.quote(v) for v in values)})" for name, values in arrays.items()]
    lines += [f"export {name}={shlex.quote(str(value))}" for name, value in config.environment.items()]
    return "\n".join(lines) + "\n"


def is_hub_id(path: str) -> bool:
    """"org/name" that is not a local path: left to datasets/transformers to fetch."""
    return not os.path.isabs(path) and not path.startswith(".") and path.count("/") == 1 and not Path(path).exists()


def missing_inputs(config: RunConfig) -> list[str]:
    """Inputs that must exist before the first model loads (checked after the demo assets are built)."""
    problems = []
    files = {"train_config": config.train_config}
    files.update({f"prompts (iteration {i})": config.prompt_file(i) for i in range(1, config.iterations + 1)
                  if not is_hub_id(config.prompt_file(i))})
    if config.warmup_config:
        files.update(warmup_config=config.warmup_config, warmup_data=config.warmup_data)
    if (config.num_gpus > 0 or config.launcher == "slurm") and config.accelerate_config:
        files["accelerate_config"] = config.accelerate_config
    for what, path in files.items():
        if not Path(path).is_file():
            problems.append(f"{what}: {path} not found")
    if config.evaluate and config.eval_data_dir != HUB:
        for name in config.eval_data_names.split(","):
            if not (Path(config.eval_data_dir or BUNDLED_DATA_DIR) / name.strip()).is_dir():
                problems.append(f"eval_data_names: {Path(config.eval_data_dir or BUNDLED_DATA_DIR) / name.strip()} "
                                "not found")
    try:
        check_model_path(config.model_name_or_path, "model_name_or_path")
    except ConfigError as e:
        problems.append(str(e))
    return problems


# The argument dataclasses each training script hands to run_cli (dpo_iteration/dpo.py, sft.py).
TRAINER_ARGUMENTS = {
    "dpo": ("dpo_iteration.dpo", ("DPOScriptArgs", "DPOTrainConfig")),
    "sft": ("dpo_iteration.sft", ("ModelDataArgs", "SFTTrainConfig")),
}


def trainer_jobs(config: RunConfig) -> list[tuple[str, str, str, dict]]:
    """(what, script kind, config file, overrides) of every training the run will do."""
    jobs = []
    if config.warmup_config:
        jobs.append(("warmup_config", "sft", config.warmup_config, config.warmup_overrides))
    kind = "sft" if config.algorithm == "raft" else "dpo"
    jobs.append(("train_config", kind, config.train_config, config.train_overrides))
    return jobs


def trainer_problems(config: RunConfig) -> list[str]:
    """Parse each trainer config with its overrides through the trainer's own dataclasses, loading no model.

    A bad key or value in a trainer config would otherwise surface only when the trainer starts, after
    the iteration's sampling and grading (hours, at the recipe's scale). ``train_file`` must exist at
    parse time; the trainer config itself stands in for the data that later stages will write.
    """
    import importlib

    problems = []
    with tempfile.TemporaryDirectory(prefix="trainer_check_") as scratch:
        for what, kind, path, overrides in trainer_jobs(config):
            module_name, class_names = TRAINER_ARGUMENTS[kind]
            module = importlib.import_module(module_name)
            argv = [path, "--model_name_or_path", config.model_name_or_path, "--train_file", path,
                    "--output_dir", scratch, *flags(overrides)]
            usage = io.StringIO()
            try:
                with contextlib.redirect_stderr(usage):  # argparse prints its usage and exits on a bad flag
                    parse_config([getattr(module, name) for name in class_names], argv)
            except ValueError as e:  # ConfigError, __post_init__ checks, unknown keys
                problems.append(f"{what} {path} with {flags(overrides)}: {e}")
            except SystemExit:
                error = usage.getvalue().strip().splitlines()[-1:] or ["invalid arguments"]
                problems.append(f"{what} {path} with {flags(overrides)}: {error[0]}")
    return problems
