"""Mistakes a new user makes, tried as they would try them: each stage, run by subprocess, must end with
exit status 2 and one error line that names the problem (no traceback, no usage dump), within seconds,
and leave no file behind (common/paths.py, common/config.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generation.engines import vllm_available

REPO = Path(__file__).resolve().parent.parent
# A stage imports TRL or transformers (about 10 s on 2 busy cores); the Hub retries this guards against
# took 50 s.
SECONDS = 40


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture
def inputs(tmp_path) -> dict[str, Path]:
    """One valid input file of each kind a stage reads, in ``tmp_path/in``, plus a fake model folder."""
    folder = tmp_path / "in"
    folder.mkdir()
    model = folder / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (folder / "arith").mkdir()
    write_jsonl(folder / "arith" / "test.jsonl", [{"idx": 0, "problem": "1+1", "gt": "2"}])
    samples = {"idx": 0, "gt": "2", "prompt": "1+1=", "responses": ["\\boxed{2}", "\\boxed{3}"]}
    return {
        "model": model,
        "prompts": write_jsonl(folder / "prompts.jsonl", [{"idx": 0, "problem": "1+1", "gt": "2"}]),
        "samples": write_jsonl(folder / "samples.jsonl", [samples]),
        "labeled": write_jsonl(folder / "labeled.jsonl", [{**samples, "rewards": [1.0, -0.5]}]),
        "pairs": write_jsonl(folder / "pairs.jsonl", [{"idx": 0, "prompt": "1+1=", "chosen": "2", "rejected": "3"}]),
        "sft": write_jsonl(folder / "sft.jsonl", [{"idx": 0, "prompt": "1+1=", "completion": "2"}]),
        "data_dir": folder,
        "empty": folder / "empty.jsonl",
        "file": folder / "a_file",
    }


def snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def run(argv: list[str], env: dict | None = None, user: list[str] = ()) -> subprocess.CompletedProcess:
    started = time.monotonic()
    out = subprocess.run([*user, sys.executable, *argv], cwd=REPO, capture_output=True, text=True, timeout=300,
                         env=env)
    out.seconds = time.monotonic() - started
    return out


def assert_one_line_error(out: subprocess.CompletedProcess, *expected: str) -> str:
    """Exit 2 within SECONDS, no traceback or usage, exactly one error line, holding every ``expected``."""
    text = out.stdout + out.stderr
    assert out.returncode == 2, text[-3000:]
    assert "Traceback" not in text and "usage:" not in text, text[-3000:]
    errors = [line for line in text.splitlines() if " ERROR " in line]
    assert len(errors) == 1, text[-3000:]
    for part in expected:
        assert part in errors[0], errors[0]
    assert out.seconds < SECONDS, f"took {out.seconds:.0f} s"
    return errors[0]


def stage_argv(stage: str, paths: dict[str, Path], out: Path, **given) -> list[str]:
    """A valid command line of ``stage`` writing under ``out``, with ``given`` flags replaced."""
    p = {**paths, **given}
    argv = {
        "sample": ["generation/sample.py", "--model_name_or_path", p["model"], "--dataset_name_or_path",
                   p.get("prompts_in", p["prompts"]), "--output_dir", p.get("output", out / "shards"), "--engine", "hf"],
        "merge": ["generation/merge.py", "--shard_dir", out / "shards", "--my_world_size", "1", "--output_file",
                  p.get("output", out / "samples.jsonl"), "--dataset_name_or_path", p.get("prompts_in", p["prompts"])],
        "audit": ["annotate/audit.py", p.get("prompts_in", p["prompts"]), "--output_file",
                  p.get("output", out / "audit.json")],
        "label": ["annotate/label.py", "--dataset_name_or_path", p.get("samples_in", p["samples"]), "--output_file",
                  p.get("output", out / "labeled.jsonl")],
        "pairs": ["annotate/pairs.py", "--dataset_name_or_path", p.get("labeled_in", p["labeled"]), "--output_file",
                  p.get("output", out / "pairs.jsonl")],
        "dpo": ["dpo_iteration/dpo.py", "configs/dpo/demo.yaml", "--model_name_or_path", p["model"], "--train_file",
                p.get("pairs_in", p["pairs"]), "--output_dir", p.get("output", out / "model")],
        "sft": ["dpo_iteration/sft.py", "configs/sft/demo_raft.yaml", "--model_name_or_path", p["model"],
                "--train_file", p.get("sft_in", p["sft"]), "--output_dir", p.get("output", out / "model")],
        "eval": ["eval_math/evaluate.py", "--model_name_or_path", p["model"], "--output_dir",
                 p.get("output", out / "eval"), "--engine", "hf", "--data_names", "arith", "--data_dir", p["data_dir"]],
        "score": ["eval_math/evaluate.py", "--score_only", p.get("samples_in", p["samples"]), "--data_names", "arith",
                  "--output_dir", p.get("output", out / "eval")],
        "build": ["demo/build.py", "--output_dir", p.get("output", out / "assets"), "--iterations", "1"],
    }[stage]
    return [str(a) for a in argv]


MODEL_STAGES = ["sample", "dpo", "sft", "eval"]


@pytest.mark.parametrize("stage", MODEL_STAGES)
@pytest.mark.parametrize("model", ["/no/such/model", "no_such_org/no_such_model"])
def test_a_model_that_is_not_there_is_named_in_one_line(stage, model, inputs, tmp_path):
    """An absolute path, and a relative org/name that is no folder: never a minute of Hub retries."""
    before = snapshot(tmp_path)
    out = run(stage_argv(stage, inputs, tmp_path / "out", model=model))
    assert_one_line_error(out, "model_name_or_path", model)
    assert snapshot(tmp_path) == before


def test_a_relative_model_name_asks_the_hub_once_when_online(inputs, tmp_path):
    """Online (HF_HUB_OFFLINE unset), an org/name that is no folder costs one request: here to a closed port."""
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(HF_ENDPOINT="http://127.0.0.1:9", HF_HOME=str(tmp_path / "hf_home"))
    out = run(stage_argv("sample", inputs, tmp_path / "out", model="no_such_org/no_such_model"), env=env)
    assert_one_line_error(out, "no_such_org/no_such_model", "could not be reached")
    assert not (tmp_path / "out").exists()


def test_a_folder_without_a_model_is_named(inputs, tmp_path):
    out = run(stage_argv("sample", inputs, tmp_path / "out", model=inputs["data_dir"] / "arith"))
    assert_one_line_error(out, "holds no model (no config.json)")


OUTPUT_STAGES = ["sample", "merge", "audit", "label", "pairs", "dpo", "sft", "eval", "score", "build"]


@pytest.mark.parametrize("stage", OUTPUT_STAGES)
def test_an_output_under_a_regular_file_is_refused_before_any_work(stage, inputs, tmp_path):
    inputs["file"].write_text("not a folder\n")
    (tmp_path / "out" / "shards").mkdir(parents=True)  # merge's input
    write_jsonl(tmp_path / "out" / "shards" / "shard_0_of_1.jsonl", [])
    before = snapshot(tmp_path)
    out = run(stage_argv(stage, inputs, tmp_path / "out", output=inputs["file"] / "sub" / "x.jsonl"))
    assert_one_line_error(out, f"{inputs['file']} is a file, not a folder")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("stage", ["merge", "audit", "label", "pairs"])
def test_a_folder_where_a_file_is_expected_is_refused(stage, inputs, tmp_path):
    before = snapshot(tmp_path)
    out = run(stage_argv(stage, inputs, tmp_path / "out", output=inputs["data_dir"]))
    assert_one_line_error(out, f"{inputs['data_dir']} is a folder; expected a file name")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("stage", ["sample", "dpo", "eval", "build"])
def test_a_file_where_a_folder_is_expected_is_refused(stage, inputs, tmp_path):
    inputs["file"].write_text("not a folder\n")
    before = snapshot(tmp_path)
    out = run(stage_argv(stage, inputs, tmp_path / "out", output=inputs["file"]))
    assert_one_line_error(out, f"{inputs['file']} is a file; expected a folder")
    assert snapshot(tmp_path) == before


def as_another_user() -> list[str]:
    """A command prefix under which a read-only folder is read-only: root writes anywhere."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root, and no setpriv to drop to another user")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.mark.parametrize("stage", ["label", "pairs", "audit"])
def test_a_read_only_folder_is_refused_before_any_work(stage, inputs):
    """label.py used to grade every response and fail only when writing."""
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="read_only_"))  # not under tmp_path: pytest's is private to root
    try:
        top.chmod(0o755)
        for path in inputs.values():
            if path.is_file():
                shutil.copy(path, top)
        read_only = top / "ro"
        read_only.mkdir(mode=0o555)
        read_only.chmod(0o555)
        local = {k: top / v.name if v.is_file() else v for k, v in inputs.items()}
        env = {**os.environ, "HOME": str(top), "HF_HOME": str(top / "hf_home")}
        before = snapshot(top)
        out = run(stage_argv(stage, local, top, output=read_only / "out.jsonl"), env=env, user=as_another_user())
        assert_one_line_error(out, f"{read_only} is not writable")
        assert snapshot(top) == before
    finally:
        (top / "ro").chmod(0o755)
        shutil.rmtree(top)


EMPTY_INPUTS = {  # stage -> the flag given an empty file
    "sample": "prompts_in", "merge": "prompts_in", "audit": "prompts_in", "label": "samples_in",
    "pairs": "labeled_in", "dpo": "pairs_in", "sft": "sft_in", "score": "samples_in",
}


@pytest.mark.parametrize("stage", sorted(EMPTY_INPUTS))
def test_an_empty_input_is_refused_alike_by_every_stage(stage, inputs, tmp_path):
    # 0 bytes, or only blank lines (half the stages each, to keep the time down)
    inputs["empty"].write_text("" if sorted(EMPTY_INPUTS).index(stage) % 2 else "\n  \n")
    (tmp_path / "out" / "shards").mkdir(parents=True)
    write_jsonl(tmp_path / "out" / "shards" / "shard_0_of_1.jsonl", [])
    before = snapshot(tmp_path)
    out = run(stage_argv(stage, inputs, tmp_path / "out", **{EMPTY_INPUTS[stage]: inputs["empty"]}))
    assert_one_line_error(out, f"{inputs['empty']} is empty")
    assert snapshot(tmp_path) == before


def test_an_empty_benchmark_file_is_refused_alike(inputs, tmp_path):
    benchmark = inputs["data_dir"] / "arith" / "test.jsonl"
    benchmark.write_text("")
    out = run(stage_argv("eval", inputs, tmp_path / "out"))
    assert_one_line_error(out, f"arith: {benchmark} is empty")
    assert not (tmp_path / "out").exists()


def test_the_driver_stops_at_an_empty_prompts_file_leaving_no_run_folder(inputs, tmp_path):
    inputs["empty"].write_text("")
    config = tmp_path / "run.yaml"
    config.write_text(
        f"run_name: empty\nruns_dir: {tmp_path / 'runs'}\nmodel_name_or_path: {inputs['model']}\niterations: 1\n"
        f"prompts: [{inputs['empty']}]\nevaluate: false\ntrain: {{config: configs/dpo/demo.yaml}}\n"
    )
    out = subprocess.run(["bash", "run_iter_dpo.sh", "--config", str(config)], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 2, out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    assert f"prompts (iteration 1): {inputs['empty']} is empty" in out.stderr
    assert not (tmp_path / "runs").exists()


def test_a_wrong_type_in_a_run_config_names_file_key_and_line(inputs, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(f"run_name: r\nruns_dir: {tmp_path / 'runs'}\nsample:\n  engine: hf\n  K: 8.5\n"
                      "train: {config: configs/dpo/demo.yaml}\n")
    out = run(["-m", "pipeline", "resolve", "--config", str(config)])
    assert_one_line_error(out, f"{config}:5: sample.K must be an integer, got 8.5")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("trainer, config", [("dpo", "configs/dpo/demo.yaml"), ("sft", "configs/sft/demo_raft.yaml")])
def test_a_wrong_type_in_a_trainer_yaml_names_file_key_and_line(trainer, config, inputs, tmp_path):
    bad = tmp_path / "trainer.yaml"
    bad.write_text(Path(REPO / config).read_text() + "\nlearning_rate: fast\n")
    line = bad.read_text().splitlines().index("learning_rate: fast") + 1
    argv = stage_argv(trainer, inputs, tmp_path / "out")
    argv[1] = str(bad)
    out = run(argv)
    assert_one_line_error(out, f"{bad}:{line}: key 'learning_rate'")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("trainer", ["dpo", "sft"])
def test_a_typo_in_trainer_overrides_is_caught_before_any_model(trainer, inputs, tmp_path):
    argv = stage_argv(trainer, inputs, tmp_path / "out")
    out = run([*argv, "--learning_rat", "1e-4"])
    assert_one_line_error(out, "unknown flag --learning_rat; did you mean --learning_rate?")
    bad = tmp_path / "trainer.yaml"
    bad.write_text("learning_rat: 1.0e-4\n")
    argv[1] = str(bad)
    out = run(argv)
    assert_one_line_error(out, f"{bad}:1: unknown key 'learning_rat'; did you mean learning_rate?")
    assert not (tmp_path / "out").exists()


def test_a_typo_in_a_run_configs_trainer_section_leaves_no_run_folder(inputs, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(f"run_name: r\nruns_dir: {tmp_path / 'runs'}\nmodel_name_or_path: {inputs['model']}\n"
                      f"prompts: [{inputs['prompts']}]\niterations: 1\nevaluate: false\n"
                      "train: {config: configs/dpo/demo.yaml, betta: 0.2}\n")
    out = run(["-m", "pipeline", "resolve", "--config", str(config)])
    assert_one_line_error(out, "bad trainer config", "--betta")
    assert not (tmp_path / "runs").exists()


def test_a_failed_training_leaves_no_partial_model(tiny_model_dir, tmp_path):
    """Every pair's prompt is over max_length: the trainer fails after staging its output folder."""
    pairs = write_jsonl(tmp_path / "pairs.jsonl",
                        [{"idx": i, "prompt": "1+1= " * 400, "chosen": "2", "rejected": "3"} for i in range(4)])
    out = run(["dpo_iteration/dpo.py", "configs/dpo/demo.yaml", "--model_name_or_path", str(tiny_model_dir),
               "--train_file", str(pairs), "--output_dir", str(tmp_path / "model")])
    assert_one_line_error(out, "longer than max_length")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs.jsonl"]


@pytest.mark.skipif(vllm_available(), reason="vLLM is installed here")
@pytest.mark.parametrize("stage", ["sample", "eval"])
def test_engine_vllm_without_vllm_says_what_to_do(stage, inputs, tmp_path):
    argv = stage_argv(stage, inputs, tmp_path / "out")
    argv[argv.index("hf")] = "vllm"
    out = run(argv)
    assert_one_line_error(out, "vLLM is not installed", "--engine hf", ".venv-vllm")
    assert not (tmp_path / "out").exists()


def test_a_json_error_gives_the_column_where_it_starts(inputs, tmp_path):
    bad = tmp_path / "samples.jsonl"
    bad.write_text(inputs["samples"].read_text() + '{"idx": 1, "gt": "unclosed\n')
    out = run(stage_argv("label", inputs, tmp_path / "out", samples_in=bad))
    assert_one_line_error(out, f"{bad}:2: not valid JSON (Unterminated string starting at column 18)")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flag", ["--output_file", "--output_dir"])
def test_output_file_and_the_originals_output_dir_name_the_same_file(flag, inputs, tmp_path):
    argv = stage_argv("label", inputs, tmp_path)
    argv[argv.index("--output_file")] = flag
    out = run(argv)
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "labeled.jsonl").is_file()


def test_every_stage_declares_paths_that_are_its_fields():
    """A renamed field would otherwise go unchecked (check_paths raises TypeError only when run)."""
    import dataclasses

    from common.paths import CHECKS, path_kinds
    from pipeline.config import STAGES

    declared = 0
    for stage in STAGES.values():
        for cls in stage.dataclasses():
            kinds = path_kinds(cls)
            assert set(kinds) <= {f.name for f in dataclasses.fields(cls)}, cls
            assert set(kinds.values()) <= set(CHECKS), cls
            declared += len(kinds)
    assert declared >= 20
