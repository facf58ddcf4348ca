"""runs/<run_name>/manifest.json: what ran, where, with which code and library versions, and when.

Each start of the driver on a run directory is a session (a resumed run has several); the manifest keeps
them all, so a result can be traced to the commits and environments that produced it.

    python -m pipeline begin runs/demo --argv "--config configs/demo.yaml"
    python -m pipeline end runs/demo --status complete
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from common.records import write_json

MANIFEST = "manifest.json"
# The libraries whose versions change results; vllm is looked up in the generation environment.
TRAIN_PACKAGES = ("torch", "transformers", "trl", "accelerate", "deepspeed", "datasets", "tokenizers",
                  "latex2sympy2_extended", "sympy")
GEN_PACKAGES = ("vllm", "torch", "transformers")


def now() -> str:
    return datetime.datetime.now(datetime.UTC).astimezone().isoformat(timespec="seconds")


def package_versions(packages: tuple[str, ...]) -> dict[str, str | None]:
    versions = {}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def versions_in(python: str, packages: tuple[str, ...]) -> dict[str, str | None] | None:
    """Package versions as seen by another interpreter (the generation environment); None if it fails."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        "def v(n):\n"
        "    try: return m.version(n)\n"
        "    except m.PackageNotFoundError: return None\n"
        "print(json.dumps({n: v(n) for n in sys.argv[1:]}))"
    )
    try:
        out = subprocess.run([python, "-c", code, *packages], capture_output=True, text=True, timeout=60, check=True)
        return json.loads(out.stdout)
    except (subprocess.SubprocessError, OSError, json.JSONDecodeError):
        return None


def git_state(repo: str | os.PathLike = ".") -> dict[str, Any]:
    """The commit and whether the working tree differs from it (uncommitted changes change results too)."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=30, check=True)
        except (subprocess.SubprocessError, OSError):
            return None
        return out.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def read_manifest(run_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        return {"sessions": []}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def begin_session(run_dir: str | os.PathLike, argv: str, gen_python: str | None = None) -> dict[str, Any]:
    """Record a start of the driver; the first one also sets ``created``."""
    manifest = read_manifest(run_dir)
    manifest.setdefault("created", now())
    for session in manifest["sessions"]:
        if session["status"] == "running":  # the driver holds the run's lock, so that one was killed
            session["status"] = "interrupted"
    manifest["status"] = "running"
    manifest["sessions"].append({
        "start": now(),
        "end": None,
        "status": "running",
        "argv": argv,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "git": git_state(),
        "train_python": sys.executable,
        "train_packages": package_versions(TRAIN_PACKAGES),
        "gen_python": gen_python,
        "gen_packages": versions_in(gen_python, GEN_PACKAGES) if gen_python else None,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    })
    write_json(Path(run_dir) / MANIFEST, manifest)
    return manifest


def end_session(run_dir: str | os.PathLike, status: str) -> dict[str, Any]:
    """Close the latest session with ``status`` (complete or failed)."""
    manifest = read_manifest(run_dir)
    if not manifest["sessions"]:
        raise ValueError(f"{Path(run_dir) / MANIFEST}: no session to end")
    manifest["sessions"][-1].update(end=now(), status=status)
    manifest["status"] = status
    if status == "complete":
        manifest["finished"] = manifest["sessions"][-1]["end"]
    write_json(Path(run_dir) / MANIFEST, manifest)
    return manifest
