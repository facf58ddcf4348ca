"""The README's "One stage by hand" block runs as written in a fresh clone after setup.sh: it names
.venv/bin/python and the hf engine, and (slow: about 1.5 minutes on CPU) runs on the tiny model and task of
configs/micro.yaml."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from common.records import PAIRS, read_records

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def by_hand_block() -> str:
    section = README.split("### One stage by hand\n", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "no ```bash block under 'One stage by hand'"
    return match.group(1)


def test_the_by_hand_block_names_the_environment_and_the_cpu_engine():
    block = by_hand_block()
    commands = [c for c in re.split(r"(?<!\\)\n", block) if c.strip()]
    assert len(commands) >= 8
    for command in commands:
        assert command.startswith(".venv/bin/python "), command  # a fresh clone has no `python` with our packages
    for script in ("generation/sample.py", "eval_math/evaluate.py"):
        (command,) = [c for c in commands if script in c]
        assert "--engine hf" in command, script
    micro = (REPO / "configs" / "micro.yaml").read_text()
    assert "max_new_tokens: 48" in micro and "--max_new_tokens 48" in block  # the micro config's sizes


@pytest.mark.slow
def test_the_by_hand_block_runs_verbatim(tmp_path):
    """In a folder that looks like a fresh clone after setup.sh (the repository's files and .venv), the block
    runs with bash -e and leaves every stage's output."""
    clone = tmp_path / "clone"
    clone.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in {"runs", ".git"}:
            (clone / entry.name).symlink_to(entry)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled",
           "PYTHONPATH": str(REPO)}
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", by_hand_block()], cwd=clone, capture_output=True,
                         text=True, timeout=900, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    hand = clone / "runs" / "hand"
    assert len(read_records(hand / "pairs.jsonl", PAIRS)) > 0
    assert (hand / "model" / "config.json").is_file()
    summary = json.loads((hand / "eval" / "summary.json").read_text())
    assert 0 <= summary["average_accuracy"] <= 1
