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

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

YAML_SUFFIXES = (".yaml", ".yml")


class ConfigError(ValueError):
    """A configuration value that cannot work; raised before any model loads."""


def parse_config(dataclass_types: Sequence[type], argv: Sequence[str] | None = None) -> tuple[Any, ...]:
    """Parse ``[CONFIG.yaml] [--config CONFIG.yaml] [--key value ...]`` into instances of ``dataclass_types``."""
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
    parser = TrlParser(dataclass_types)
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
        parsed = parse_config(dataclass_types, argv)
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
