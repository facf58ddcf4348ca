"""Set-up, the config system, the embedded tiny model and task, and every stage's --help."""

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from common.config import ConfigError, parse_config
from demo.build import BuildArgs
from demo.build import main as build
from demo.task import TaskSpec, make_splits

REPO = Path(__file__).resolve().parent.parent
STAGE_SCRIPTS = sorted(
    str(p.relative_to(REPO))
    for folder in ("demo", "generation", "annotate", "dpo_iteration", "eval_math")
    for p in (REPO / folder).glob("*.py")
    if 'if __name__ == "__main__":' in p.read_text()
)


@pytest.mark.parametrize("script", STAGE_SCRIPTS)
def test_every_stage_script_has_help(script):
    out = subprocess.run([sys.executable, script, "--help"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "usage:" in out.stdout


def test_stage_scripts_were_found():
    assert {"demo/build.py"} <= set(STAGE_SCRIPTS)


@dataclass
class Example:
    name: str = field(default="a", metadata={"help": "a name"})
    beta: float = field(default=0.1, metadata={"help": "a positive number"})

    def __post_init__(self):
        if self.beta <= 0:
            raise ConfigError(f"beta must be > 0, got {self.beta}")


def test_yaml_gives_defaults_and_flags_override(tmp_path):
    (tmp_path / "c.yaml").write_text("name: from_yaml\nbeta: 0.5\n")
    (args,) = parse_config([Example], [str(tmp_path / "c.yaml"), "--beta", "0.25"])
    assert (args.name, args.beta) == ("from_yaml", 0.25)
    (args,) = parse_config([Example], ["--config", str(tmp_path / "c.yaml")])
    assert args.beta == 0.5


@pytest.mark.parametrize(
    "yaml_text, flags, message",
    [
        ("nmae: typo\n", [], "nmae"),
        ("beta: -1\n", [], "beta must be > 0"),
    ],
)
def test_bad_config_is_an_error(tmp_path, yaml_text, flags, message):
    (tmp_path / "c.yaml").write_text(yaml_text)
    with pytest.raises(ValueError, match=message):
        parse_config([Example], [str(tmp_path / "c.yaml"), *flags])


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        parse_config([Example], [str(tmp_path / "absent.yaml")])


def test_cli_bad_flag_exits_2_in_one_line(tmp_path):
    out = subprocess.run([sys.executable, "demo/build.py", "--output_dir", str(tmp_path), "--iterations", "0"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "iterations must be >= 1" in out.stderr


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_build_is_deterministic(tmp_path):
    kwargs = dict(seed=3, iterations=1, num_test=10, num_sft=50, num_iter_prompts=10)
    build(BuildArgs(output_dir=str(tmp_path / "a"), **kwargs))
    build(BuildArgs(output_dir=str(tmp_path / "b"), **kwargs))
    a, b = digest(tmp_path / "a"), digest(tmp_path / "b")
    assert "model/model.safetensors" in a and "task/sft.jsonl" in a
    assert a == b
    build(BuildArgs(output_dir=str(tmp_path / "c"), **dict(kwargs, seed=4)))
    assert digest(tmp_path / "c")["model/model.safetensors"] != a["model/model.safetensors"]


def test_splits_are_disjoint_and_test_set_is_stable():
    small = make_splits(7, {"test": 30, "sft": 100})
    large = make_splits(7, {"test": 30, "sft": 400, "iter_1": 50})
    assert small["test"] == large["test"]
    problems = [r["problem"] for split in large.values() for r in split]
    assert len(problems) == len(set(problems))
    assert all(r["solution"].endswith(f"\\boxed{{{r['gt']}}}.") for r in large["sft"])


def test_solution_styles_mix_without_changing_the_problems():
    steps = make_splits(7, {"test": 20, "sft": 400}, TaskSpec(one_line_share=0.0))
    mixed = make_splits(7, {"test": 20, "sft": 400}, TaskSpec(one_line_share=0.65))
    one_line = make_splits(7, {"test": 20, "sft": 400}, TaskSpec(one_line_share=1.0))
    assert [r["problem"] for r in steps["sft"]] == [r["problem"] for r in mixed["sft"]] == [r["problem"] for r in one_line["sft"]]
    assert {r["style"] for r in steps["sft"]} == {"steps"} and {r["style"] for r in one_line["sft"]} == {"one_line"}
    share = sum(r["style"] == "one_line" for r in mixed["sft"]) / 400
    assert 0.58 < share < 0.72
    for record in one_line["sft"]:  # the chain as stated, then its value at once
        chain = record["problem"].removeprefix("Compute ").removesuffix(".")
        assert record["solution"] == f"{chain} = \\boxed{{{record['gt']}}}."
    for record in mixed["sft"]:
        assert record["solution"].endswith(f"\\boxed{{{record['gt']}}}.")
        assert ("The answer is" in record["solution"]) == (record["style"] == "steps")


@pytest.mark.parametrize("spec, message", [(dict(operators="+/"), "operators"), (dict(operators=""), "operators"),
                                           (dict(one_line_share=1.5), "one_line_share")])
def test_bad_task_specs_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        TaskSpec(**spec)


def test_operators_limit_the_problems():
    splits = make_splits(5, {"test": 200}, TaskSpec(operators="+-", max_value=9, min_operands=3, max_operands=5))
    for record in splits["test"]:
        terms = record["problem"].removeprefix("Compute ").removesuffix(".").split()
        assert "*" not in terms and 3 <= (len(terms) + 1) // 2 <= 5
        assert all(1 <= int(t) <= 9 for t in terms[::2])


def test_a_product_of_a_sum_is_parenthesised_and_the_statement_gives_the_answer():
    """The steps go left to right; the statement's parentheses make the usual precedence agree with them."""
    import ast

    splits = make_splits(5, {"test": 300}, TaskSpec(operators="+-*", max_value=9, max_factor=4, max_operands=5))
    assert any("(" in r["problem"] for r in splits["test"]) and any("*" in r["problem"] for r in splits["test"])

    def value(node):  # the statement read with Python's own precedence (our text, not model output)
        if isinstance(node, ast.Constant):
            return node.value
        left, right = value(node.left), value(node.right)
        return {ast.Add: left + right, ast.Sub: left - right, ast.Mult: left * right}[type(node.op)]

    for record in splits["test"]:
        chain = record["problem"].removeprefix("Compute ").removesuffix(".")
        assert value(ast.parse(chain, mode="eval").body) == int(record["gt"]), chain
        assert "(" not in chain or "*" in chain


def test_build_writes_a_validation_split_apart_from_every_other(tmp_path):
    build(BuildArgs(output_dir=str(tmp_path), seed=3, iterations=2, num_test=30, num_val=40, num_sft=100,
                    num_iter_prompts=30, one_line_share=0.5))
    task = tmp_path / "task"
    val = [json.loads(line) for line in (task / "val.jsonl").open()]
    assert len(val) == 40 and all({"idx", "problem", "gt"} <= set(r) for r in val)
    others = [task / "arith" / "test.jsonl", task / "iter_1.jsonl", task / "iter_2.jsonl"]
    seen = {json.loads(line)["problem"] for path in others for line in path.open()}
    prompts = [json.loads(line)["prompt"] for line in (task / "sft.jsonl").open()]
    assert not {r["problem"] for r in val} & seen
    assert not any(r["problem"] in prompt for r in val for prompt in prompts)


def test_tokenizer_ids_survive_reload(tiny_model_dir):
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    raw = Tokenizer.from_file(str(tiny_model_dir / "tokenizer.json"))
    text = "<|im_start|>user\nCompute 12 + 7 * 3.<|im_end|>\n<|im_start|>assistant\n12 + 7 = 19. \\boxed{57}<|im_end|>"
    assert tokenizer(text)["input_ids"] == raw.encode(text).ids
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.bos_token is None
    unseen = "héllo ∑ 你好"
    assert tokenizer.decode(tokenizer(unseen)["input_ids"]) == unseen


def test_tiny_model_generates(tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    inputs = tokenizer(["Compute 1 + 2."], return_tensors="pt")
    torch.manual_seed(0)
    out = model.generate(**inputs, max_new_tokens=5, do_sample=True)
    assert out.shape[1] > inputs["input_ids"].shape[1]


@pytest.mark.parametrize(
    "env, message",
    [
        ({"PYTHON": "no-such-python"}, "Python interpreter 'no-such-python' not found"),
        ({"PYTHON": "/bin/true"}, "is not Python >= 3.11"),
        ({"TRAIN_PYTHON": "/bin/false"}, "is not Python >= 3.11"),
    ],
)
def test_setup_rejects_bad_python_in_one_line(env, message):
    out = subprocess.run(["bash", "setup.sh"], cwd=REPO, capture_output=True, text=True, timeout=60,
                         env={**os.environ, **env})
    assert out.returncode != 0
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1


# A stand-in vllm package (vLLM itself needs a GPU and .venv-vllm): like vLLM, it reads
# VLLM_LOGGING_LEVEL once, when imported (vllm/envs.py, default INFO), and logs through the "vllm" logger.
STAND_IN_VLLM = '''
import logging, os, sys
from types import SimpleNamespace

LEVEL = os.environ.get("VLLM_LOGGING_LEVEL", "INFO").upper()
logger = logging.getLogger("vllm")
logger.addHandler(logging.StreamHandler(sys.stderr))
logger.setLevel(LEVEL)
logger.propagate = False


class SamplingParams:
    def __init__(self, **kwargs):
        self.n = kwargs["n"]


class LLM:
    def __init__(self, **kwargs):
        logger.info("stand-in vllm INFO: KV cache for %s", kwargs["model"])
        logger.warning("stand-in vllm WARNING: prompt truncated")

    def generate(self, requests, params, use_tqdm=True):
        done = SimpleNamespace(text="\\\\boxed{1}", token_ids=[1, 2], finish_reason="stop")
        return [SimpleNamespace(outputs=[done] * p.n) for p in params]
'''


@pytest.mark.parametrize("user_level, info_shown", [(None, True), ("WARNING", False)])
def test_vllm_logs_reach_the_stage_log(tiny_model_dir, tmp_path, user_level, info_shown):
    """TRL's import sets VLLM_LOGGING_LEVEL=ERROR where it is unset (trl/_compat.py); a stage must keep
    vLLM's own default (INFO) so its INFO/WARNING lines reach the log, and keep a level the user set."""
    (tmp_path / "vllm").mkdir()
    (tmp_path / "vllm" / "__init__.py").write_text(STAND_IN_VLLM)
    (tmp_path / "prompts.jsonl").write_text('{"idx": 0, "problem": "Compute 1 + 0.", "gt": "1"}\n')
    env = {k: v for k, v in os.environ.items() if k != "VLLM_LOGGING_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(REPO)])
    if user_level:
        env["VLLM_LOGGING_LEVEL"] = user_level
    cmd = [sys.executable, "generation/sample.py", "--model_name_or_path", str(tiny_model_dir), "--dataset_name_or_path",
           str(tmp_path / "prompts.jsonl"), "--output_dir", str(tmp_path / "out"), "--engine", "vllm", "--K", "2"]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "stand-in vllm WARNING: prompt truncated" in out.stderr
    assert ("stand-in vllm INFO: KV cache" in out.stderr) == info_shown
