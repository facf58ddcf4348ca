"""--help of the entry points a user starts from: eval.sh exits 0 with its usage; the trainers (dpo.py,
sft.py) show their YAML usage and the project's own options before TRL's several hundred lines."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.config import own_fields

REPO = Path(__file__).resolve().parent.parent


def run(*command: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(list(command), cwd=REPO, capture_output=True, text=True, timeout=120, env=env)


def test_eval_sh_help_exits_0_and_a_missing_argument_2():
    out = run("bash", "eval_math/eval.sh", "--help")
    assert out.returncode == 0 and "bash eval_math/eval.sh MODEL OUTPUT_DIR" in out.stdout
    out = run("bash", "eval_math/eval.sh", "only_a_model")
    assert out.returncode == 2 and "bash eval_math/eval.sh MODEL OUTPUT_DIR" in out.stderr


@pytest.mark.parametrize("script, module, classes, theirs", [
    ("dpo_iteration/dpo.py", "dpo_iteration.dpo", ("DPOScriptArgs", "DPOTrainConfig"), "DPOConfig"),
    ("dpo_iteration/sft.py", "dpo_iteration.sft", ("ModelDataArgs", "SFTTrainConfig"), "SFTConfig"),
])
def test_a_trainer_help_puts_its_yaml_usage_and_own_options_before_trls(script, module, classes, theirs):
    out = run(sys.executable, script, "--help")
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"usage: {Path(script).name} CONFIG.yaml [--key value ...]")
    head, _, options = out.stdout.partition("\noptions:\n")
    assert options.count("\n") > 300  # TRL's options, after ours
    assert f"The project's own options (TRL's {theirs} options follow" in head
    imported = __import__(module, fromlist=list(classes))
    own = own_fields([getattr(imported, name) for name in classes])
    assert {f.name for f in own} >= {"model_name_or_path", "train_file", "global_batch_size"}
    for f in own:
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        assert f"\n  --{f.name} (default: {default!r})\n" in head, f.name
    assert "\n  --learning_rate (default" not in head  # TRL's own field: listed under options only
    assert len(head.splitlines()) < 120
