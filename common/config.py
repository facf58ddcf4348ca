"""The one argument system: dataclasses parsed by TRL's TrlParser.

A YAML file gives defaults (``script.py CONFIG.yaml`` or ``--config CONFIG.yaml``), ``--key value`` flags
override them, and an unknown key in either is an error. Every field carries ``metadata={"help": ...}``
so ``--help`` documents it; validation lives in each dataclass's ``__post_init__``.

    @dataclass
    class LabelArgs:
        dataset_name_or_path: str = field(metadata={"help": "samples JSONL"})

    (args,) = parse_config([LabelArgs])
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import inspect
import logging
import os
import re
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

YAML_SUFFIXES = (".yaml", ".yml")


class ConfigError(ValueError):
    """A configuration value that cannot work; raised before any model loads."""


def trl_base(cls: type) -> type | None:
    """The TRL config class ``cls`` extends (DPOConfig, SFTConfig), or None."""
    return next((base for base in cls.__mro__ if base.__module__.startswith("trl.")), None)


def own_fields(dataclass_types: Sequence[type]) -> list[dataclasses.Field]:
    """The project's own options: every field of its dataclasses, and those its subclasses add to TRL's."""
    fields = []
    for cls in dataclass_types:
        base = trl_base(cls)
        theirs = {f.name for f in dataclasses.fields(base)} if base else set()
        fields += [f for f in dataclasses.fields(cls) if f.name not in theirs]
    return fields


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The description as written (the script's docstring), the options with their defaults."""


def help_text(dataclass_types: Sequence[type], doc: str | None) -> dict[str, Any]:
    """ArgumentParser settings for ``--help``: the script's docstring first; for a trainer, whose options are
    mostly TRL's (800 lines), its usage with a YAML config and the project's own options before them."""
    settings: dict[str, Any] = {"description": (doc or "").strip() or None, "formatter_class": _HelpFormatter}
    bases = [base for base in map(trl_base, dataclass_types) if base is not None]
    if bases:
        settings["usage"] = "%(prog)s CONFIG.yaml [--key value ...]   (every option below is also a key of CONFIG.yaml)"
        lines = [f"The project's own options (TRL's {', '.join(b.__name__ for b in bases)} options follow, "
                 "under 'options:'):"]
        for f in own_fields(dataclass_types):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            lines.append(f"  --{f.name} (default: {default!r})")
            lines += textwrap.wrap(f.metadata.get("help", ""), 100, initial_indent=" " * 6, subsequent_indent=" " * 6)
        settings["description"] = "\n\n".join(filter(None, [settings["description"], "\n".join(lines)]))
    return settings


def parse_config(dataclass_types: Sequence[type], argv: Sequence[str] | None = None,
                 doc: str | None = None) -> tuple[Any, ...]:
    """Parse ``[CONFIG.yaml] [--config CONFIG.yaml] [--key value ...]`` into instances of ``dataclass_types``;
    ``doc`` (the script's docstring) heads ``--help``.

    Every mistake is a ConfigError of one line: an unknown key (``CONFIG.yaml:LINE`` for one in the file,
    with the closest known name), a value of the wrong type (named by its file and line when the file
    gave it), where argparse would print its usage, which for TRL's configs is 800 lines.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0].endswith(YAML_SUFFIXES) and not args[0].startswith("-"):
        args = ["--config", args[0], *args[1:]]
    config_file = None
    if "--config" in args:
        position = args.index("--config")
        if position + 1 >= len(args):
            raise ConfigError("--config needs a YAML file")
        config_file = args[position + 1]
        if not Path(config_file).is_file():
            raise ConfigError(f"config file not found: {config_file}")
    parser = _parser(dataclass_types, doc)
    lines = yaml_key_lines(config_file) if config_file else {}
    known = {option.lstrip("-").split("=")[0]: action.dest
             for action in parser._actions for option in action.option_strings}
    for key, line in lines.items():
        top_level = "." not in key  # yaml_key_lines also names the keys of nested mappings
        if top_level and key not in known and key != "env":  # TrlParser sets the environment from ``env``
            raise ConfigError(f"{config_file}:{line}: unknown key {key!r}{_closest(key, known)}")
    for arg in args:
        name = arg[2:].split("=")[0]
        if arg.startswith("--") and name != "config" and name not in known:
            raise ConfigError(f"unknown flag --{name}{_closest(name, known, '--')}")
    try:
        return tuple(parser.parse_args_and_config(args))
    except ConfigError as e:  # argparse's "argument --beta: invalid float value: 'abc'"
        flag = re.match(r"argument --([\w.-]+)", str(e))
        key = flag and known.get(flag.group(1))
        given = {arg[2:].split("=")[0] for arg in args if arg.startswith("--")}
        if key in lines and not given & {key, flag.group(1)}:
            raise ConfigError(f"{config_file}:{lines[key]}: key {key!r}: {e}") from None
        raise


def _parser(dataclass_types: Sequence[type], doc: str | None = None):
    """TRL's TrlParser, with argparse's errors raised as ConfigError and a file's numbers checked."""
    # Importing TRL sets VLLM_LOGGING_LEVEL=ERROR where it is unset (trl/_compat.py, TRL 1.16), which would
    # keep vLLM's INFO and WARNING lines (memory, KV cache, truncated prompts) out of the stage logs. vLLM's
    # own default first, so TRL leaves it alone; a level the user set is kept.
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "INFO")
    from trl import TrlParser

    class Parser(TrlParser):
        def error(self, message: str):
            raise ConfigError(message)

        def set_defaults_with_config(self, **kwargs) -> list[str]:
            # argparse converts (and so checks) only the defaults that are strings: a number field given a
            # list, a bool or 8.5 for an int would reach the dataclass unchecked.
            numbers = {a.dest for a in self._actions if a.type in (int, float) and a.nargs is None}
            return super().set_defaults_with_config(**{
                key: str(value) if key in numbers and value is not None and not isinstance(value, str) else value
                for key, value in kwargs.items()
            })

    return Parser(dataclass_types, **help_text(dataclass_types, doc))


def _closest(name: str, known, prefix: str = "") -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {prefix}{close[0]}?" if close else ""


def yaml_key_lines(path: str | os.PathLike) -> dict[str, int]:
    """The 1-based line of each key of a YAML mapping file, ``section.key`` for the keys of a nested
    mapping; {} for a file that is not a mapping. A file that is not YAML raises ConfigError."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            root = yaml.compose(f)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})".replace("\n", " ")) from None
    lines: dict[str, int] = {}
    for key, value in root.value if isinstance(root, yaml.MappingNode) else ():
        lines[str(key.value)] = key.start_mark.line + 1
        for sub, _ in value.value if isinstance(value, yaml.MappingNode) else ():
            lines[f"{key.value}.{sub.value}"] = sub.start_mark.line + 1
    return lines


def is_main_process() -> bool:
    """Rank 0 of a torchrun/accelerate launch, or a process that was not launched as one of many."""
    return int(os.environ.get("RANK", "0")) == 0


def setup_logging(level: int = logging.INFO) -> None:
    """Configure logging once per process: INFO on rank 0, warnings only elsewhere."""
    logging.basicConfig(
        level=level if is_main_process() else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


def run_cli(main, dataclass_types: Sequence[type], argv: Sequence[str] | None = None) -> None:
    """The body of every stage's ``__main__``: parse, log the resolved config, run.

    A bad config (unknown key, invalid value, missing file), a path that cannot serve (common/paths.py) or
    a malformed record ends the process with one error line and exit status 2, before or instead of a
    traceback through library code.
    """
    from common.paths import check_paths
    from common.records import RecordError

    setup_logging()
    log = logging.getLogger("config")
    try:
        parsed = parse_config(dataclass_types, argv, inspect.getmodule(main).__doc__)
        for args in parsed:
            check_paths(args)
    except ValueError as e:  # ConfigError, __post_init__ checks
        log.error("bad configuration: %s", e)
        sys.exit(2)
    for args in parsed:
        log.info("%s: %s", type(args).__name__, args)
    try:
        main(*parsed)
    except (ConfigError, RecordError, FileNotFoundError) as e:
        log.error("%s", e)
        sys.exit(2)
