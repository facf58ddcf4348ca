"""`bash run_iter_dpo.sh --keys`: every settable key, section by section, with the default and help of the
stage's own dataclass; and a key of the earlier flat layout, refused with one line naming where it went."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path

import pytest

from common.config import trl_base
from pipeline.config import MOVED, SECTIONS, SHARED, STAGES, RunConfig, driver_flags, load_config

REPO = Path(__file__).resolve().parent.parent


def driver(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(["bash", "run_iter_dpo.sh", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.fixture(scope="module")
def keys() -> str:
    out = driver("--keys")
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_keys_lists_every_setting_with_the_default_and_help_of_its_dataclass(keys):
    sections = keys.split("\n\n")
    assert sections[0].startswith("The loop (run_iter_dpo.sh):")
    assert [s.split(":")[0] for s in sections[1:]] == list(SECTIONS)
    for f in dataclasses.fields(RunConfig):
        if f.name not in SECTIONS:
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            assert f"\n  {f.name:32} {json.dumps(default):24} {f.metadata['help']}" in sections[0], f.name
    example = load_config(None, ["train.config=configs/dpo/demo.yaml"])
    listed = 0
    for text, section in zip(sections[1:], SECTIONS, strict=True):
        set_elsewhere = {*driver_flags(example, section), *(k for k, stages in SHARED.items() if section in stages)}
        for cls in STAGES[section].dataclasses():
            if trl_base(cls) is not None:
                assert "every field of TRL's" in text  # thousands of lines: `dpo.py --help` has them
                continue
            for f in dataclasses.fields(cls):
                line = f"\n  {section + '.' + f.name:32} "
                if f.name in set_elsewhere:
                    assert line not in text, f"{section}.{f.name} is the driver's or shared"
                    continue
                default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
                assert f"{line}{json.dumps(default):24} {f.metadata['help']}" in text, f"{section}.{f.name}"
                listed += 1
    assert listed > 60


def test_an_old_flat_config_gets_one_line_per_key_naming_where_it_went(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text("run_name: old\niterations: 1\nreward_policy: recipe\n# a comment\neval_max_tokens: 64\n"
                   "train_overrides: {beta: 0.2}\n")
    out = driver("--config", str(old), f"runs_dir={tmp_path}")
    assert out.returncode == 2
    errors = [line for line in out.stderr.splitlines() if not line.startswith("setup.sh")]
    assert len(errors) == 3 and "Traceback" not in out.stderr
    assert errors[0].endswith(f"{old}:3: key 'reward_policy' has moved to label.reward_policy: write "
                              "`label: {reward_policy: \"recipe\"}`; `bash run_iter_dpo.sh --keys` lists every key")
    assert errors[1].startswith(f"{old}:5: key 'eval_max_tokens' has moved to eval.max_tokens_per_call: write "
                                "`eval: {max_tokens_per_call: 64}`")
    assert errors[2].startswith(f"{old}:6: key 'train_overrides' has moved to the train section (its keys are "
                                "dpo_iteration/dpo.py's flags)")
    assert list(tmp_path.iterdir()) == [old]


def test_every_old_key_moved_to_a_key_that_exists():
    for old, target in MOVED.items():
        section, _, name = target.split(" ")[0].partition(".")
        assert section in SECTIONS, old
        if name and not (name == "config" and STAGES[section].trainer):  # a trainer section's YAML
            assert any(name in {f.name for f in dataclasses.fields(cls)} for cls in STAGES[section].dataclasses()), old
