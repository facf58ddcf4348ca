"""Checks of the paths a stage is given, made by ``common.config.run_cli`` before any work is done.

Each stage's argument dataclass says which of its fields are paths, and of what kind, in a class
attribute (not a field, so no flag):

    @dataclass
    class LabelArgs:
        PATHS: ClassVar[dict[str, str]] = {"dataset_name_or_path": INPUT, "output_file": OUTPUT_FILE}

and ``check_paths`` checks them all, so that a model folder that is not there, an empty input or an
output that cannot be written ends the stage with one line (``ConfigError``, exit 2) in seconds, before a
model loads or a record is read, and leaves nothing behind. The kinds:

    MODEL        a model folder holding config.json, or a Hub id ("org/name") that is in the local
                 Hugging Face cache or, unless HF_HUB_OFFLINE is set, on the Hub (one request, no retries)
    INPUT        a file that exists and is not empty
    DATA         prompts: an INPUT file, a dataset folder, or a dataset name for datasets.load_dataset
    OUTPUT_FILE  a file that can be written: not a folder, not under a regular file, its folder writable
    OUTPUT_DIR   a folder that can be created or written in: not a regular file, not under one

These checks are not in ``__post_init__``: the driver validates a run config's sections through the
same dataclasses before the paths they name exist (pipeline/config.py).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from pathlib import Path

from common.config import ConfigError

MODEL, INPUT, DATA, OUTPUT_FILE, OUTPUT_DIR = "model", "input", "data", "output_file", "output_dir"
# A flag that names a file is --output_file; the original recipe's label and pairs scripts called it
# --output_dir, which stays as an alias for its users: field(metadata={..., **OUTPUT_DIR_ALIAS}).
OUTPUT_DIR_ALIAS = {"aliases": ["--output_dir"]}
# A Hub repository id: "org/name" of letters, digits and - _ . (huggingface_hub's rule, less its length cap).
HUB_ID_RE = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
# Files that prompts are read from locally (common/prompt_sets.py); another name may be a dataset.
PROMPT_SUFFIXES = (".jsonl", ".json", ".parquet")
HUB_TIMEOUT = 10  # seconds for the one request that asks the Hub whether a model exists


def looks_like_hub_id(path: str) -> bool:
    """``org/name`` that is not an existing local path: transformers and datasets would fetch it."""
    return HUB_ID_RE.fullmatch(path) is not None and not Path(path).exists()


def check_model(path: str, name: str) -> None:
    """A model folder with config.json, or a Hub id known to the cache or the Hub; else ConfigError."""
    local = Path(path)
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ConfigError(f"{name}: {path} holds no model (no config.json)")
        return
    if local.exists():
        raise ConfigError(f"{name}: {path} is a file; expected a model folder or a Hub id (org/name)")
    if not looks_like_hub_id(path):
        raise ConfigError(f"{name}: model folder not found: {path}")
    check_hub_model(path, name)


def check_hub_model(repo_id: str, name: str) -> None:
    """One look in the cache, then (online) one request: never transformers' minute of retries."""
    import huggingface_hub
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    if isinstance(huggingface_hub.try_to_load_from_cache(repo_id, "config.json"), str):
        return
    if huggingface_hub.constants.HF_HUB_OFFLINE:
        raise ConfigError(f"{name}: no folder {repo_id}, and no such model in the Hugging Face cache "
                          "(HF_HUB_OFFLINE is set)")
    try:
        huggingface_hub.model_info(repo_id, timeout=HUB_TIMEOUT)
    except GatedRepoError:
        return  # it exists; from_pretrained says what access it needs
    except RepositoryNotFoundError:
        raise ConfigError(f"{name}: no folder {repo_id}, and no such model on the Hugging Face Hub") from None
    except Exception as e:  # noqa: BLE001 - httpx's connection errors share no base class huggingface_hub exports
        raise ConfigError(f"{name}: no folder {repo_id}, and the Hugging Face Hub could not be reached to look it "
                          f"up as a model id ({type(e).__name__})") from None


def check_input(path: str, name: str) -> None:
    """A file that exists and holds something besides white space."""
    local = Path(path)
    if local.is_dir():
        raise ConfigError(f"{name}: {path} is a folder; expected a file")
    if not local.is_file():
        raise ConfigError(f"{name}: file not found: {path}")
    if is_empty(local):
        raise ConfigError(f"{name}: {path} is empty")


def is_empty(path: Path) -> bool:
    """No byte besides white space (read in blocks: inputs can be large)."""
    with open(path, "rb") as f:
        while block := f.read(1 << 16):
            if block.strip():
                return False
    return True


def check_data(path: str, name: str) -> None:
    """Prompts: a local file (checked as INPUT), a dataset folder, or a dataset name left to ``datasets``."""
    local = Path(path)
    if local.is_file() or local.suffix in PROMPT_SUFFIXES:
        check_input(path, name)


def check_output_file(path: str, name: str) -> None:
    """A file that can be written (atomically, through a temporary file beside it)."""
    if Path(path).is_dir():
        raise ConfigError(f"{name}: {path} is a folder; expected a file name")
    writable_folder(Path(path).parent, name, path)


def check_output_dir(path: str, name: str) -> None:
    """A folder that exists and can be written in, or that can be created."""
    local = Path(path)
    if local.exists() and not local.is_dir():
        raise ConfigError(f"{name}: {path} is a file; expected a folder")
    writable_folder(local, name, path)


def writable_folder(folder: Path, name: str, path: str) -> None:
    """``folder``, or the nearest part of it that exists, takes a new file; nothing is created for good."""
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{name}: cannot write {path}: {existing} is a file, not a folder")
    try:  # a real write: permissions, read-only file systems, quotas and root all answer truthfully
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        raise ConfigError(f"{name}: cannot write {path}: {existing} is not writable ({e.strerror})") from None


CHECKS = {MODEL: check_model, INPUT: check_input, DATA: check_data, OUTPUT_FILE: check_output_file,
          OUTPUT_DIR: check_output_dir}


def path_kinds(cls: type) -> dict[str, str]:
    """The ``PATHS`` of ``cls`` and of the classes it extends."""
    kinds: dict[str, str] = {}
    for base in reversed(cls.__mro__):
        kinds.update(vars(base).get("PATHS", {}))
    return kinds


def check_paths(args) -> None:
    """Check every path field of the dataclass instance ``args`` that is set; the first bad one raises."""
    names = {f.name for f in dataclasses.fields(args)}
    for field_name, kind in path_kinds(type(args)).items():
        if field_name not in names:
            raise TypeError(f"{type(args).__name__}.PATHS names {field_name!r}, which is not a field")
        value = getattr(args, field_name)
        if value:
            CHECKS[kind](os.fspath(value), field_name)
