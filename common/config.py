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
import inspect
import logging
import os
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
    ``doc`` (the script's docstring) heads ``--help``."""
    # Importing TRL sets VLLM_LOGGING_LEVEL=ERROR where it is unset (trl/_compat.py, TRL 1.16), which would
    # keep vLLM's INFO and WARNING lines (memory, KV cache, truncated prompts) out of the stage logs. vLLM's
    # own default first, so TRL leaves it alone; a level the user set is kept.
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "INFO")
    from trl import TrlParser

    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0].endswith(YAML_SUFFIXES) and not args[0].startswith("-"):
        args = ["--config", args[0], *args[1:]]
    if "--config" in args:
        position = args.index("--config")
        if position + 1 >= len(args):
            raise ConfigError("--config needs a YAML file")
        if not Path(args[position + 1]).is_file():
            raise ConfigError(f"config file not found: {args[position + 1]}")
    parser = TrlParser(dataclass_types, **help_text(dataclass_types, doc))
    return tuple(parser.parse_args_and_config(args))


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

    A bad config (unknown key, invalid value, missing file) or a malformed record ends the process with
    one error line and exit status 2, before or instead of a traceback through library code.
    """
    from common.records import RecordError

    setup_logging()
    log = logging.getLogger("config")
    try:
        parsed = parse_config(dataclass_types, argv, inspect.getmodule(main).__doc__)
    except ValueError as e:  # ConfigError, __post_init__ checks, TrlParser's unknown-key error
        log.error("bad configuration: %s", e)
        sys.exit(2)
    for args in parsed:
        log.info("%s: %s", type(args).__name__, args)
    try:
        main(*parsed)
    except (ConfigError, RecordError, FileNotFoundError) as e:
        log.error("%s", e)
        sys.exit(2)
