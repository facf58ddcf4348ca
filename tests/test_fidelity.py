"""The recipe as the original published it: prompt strings, the train/eval parity check, the report's
statement of both prompts, and the 7B configs' key values, each pinned to the Online-DPO-R1 sources
(run_iter_dpo.sh, generation/gen_hf.py, eval_math/utils.py, eval_math/sh/eval.sh)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tokenizers import Tokenizer, models
from transformers import PreTrainedTokenizerFast

from common.config import ConfigError
from common.prompts import PROMPT_TYPES, render_prompt
from pipeline.config import load_config
from pipeline.report import write_report

REPO = Path(__file__).resolve().parent.parent
PROBLEM = "What is $1+1$?"

# A ChatML template that, like Qwen2.5-Math's, adds a default system turn when none is given (the
# original's generation sends the user turn alone and relies on it).
QWEN_MATH_LIKE_TEMPLATE = (
    "{% if messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nPlease reason step by step, and put your final answer within \\\\boxed{}.<|im_end|>\\n' }}"
    "{% endif %}"
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
# A plain ChatML template (the demo's): no default system turn.
CHATML_TEMPLATE = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def tokenizer_with(template: str) -> PreTrainedTokenizerFast:
    backend = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    return PreTrainedTokenizerFast(tokenizer_object=backend, chat_template=template)


# The strings, written out. online-dpo-r1 is the original's eval_math/utils.py "qwen25-math-cot" entry
# and what its gen_hf.py renders with Qwen2.5-Math's template; qwen25-math-cot is upstream Qwen2.5-Math's.
EXPECTED = {
    "online-dpo-r1": (
        "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
        "<|im_start|>user\nWhat is $1+1$? Let's think step by step and output the final answer within "
        "\\boxed{}<|im_end|>\n<|im_start|>assistant\n"
    ),
    "qwen25-math-cot": (
        "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
        "<|im_start|>user\nWhat is $1+1$?<|im_end|>\n<|im_start|>assistant\n"
    ),
    "chat": (
        "<|im_start|>user\nWhat is $1+1$?\nLet's think step by step and output the final answer within "
        "\\boxed{}.<|im_end|>\n<|im_start|>assistant\n"
    ),
    "raw": "Question: What is $1+1$?\nLet's think step by step and output the final answer within \\boxed{}.\nAnswer: ",
}


@pytest.mark.parametrize("prompt_type", PROMPT_TYPES)
def test_every_prompt_type_renders_its_exact_string(prompt_type):
    assert set(EXPECTED) == set(PROMPT_TYPES)
    assert render_prompt(tokenizer_with(CHATML_TEMPLATE), PROBLEM, prompt_type) == EXPECTED[prompt_type]


def test_online_dpo_r1_is_the_originals_generation_prompt_whatever_the_default_system():
    qwen_math = tokenizer_with(QWEN_MATH_LIKE_TEMPLATE)
    # gen_hf.py: the user turn alone, the template adds the system turn
    original = qwen_math.apply_chat_template(
        [{"role": "user", "content": PROBLEM + " Let's think step by step and output the final answer within \\boxed{}"}],
        tokenize=False, add_generation_prompt=True,
    )
    assert original == EXPECTED["online-dpo-r1"]
    assert render_prompt(qwen_math, PROBLEM, "online-dpo-r1") == original
    assert render_prompt(tokenizer_with(CHATML_TEMPLATE), PROBLEM, "online-dpo-r1") == original


def test_recipe_prompts_ignore_the_instruction_flag_and_need_no_template_for_qwen25_math_cot():
    plain = tokenizer_with(CHATML_TEMPLATE)
    for prompt_type in ("online-dpo-r1", "qwen25-math-cot"):
        assert render_prompt(plain, PROBLEM, prompt_type, instruction="Other.") == EXPECTED[prompt_type]
    no_template = tokenizer_with(CHATML_TEMPLATE)
    no_template.chat_template = None
    assert render_prompt(no_template, PROBLEM, "qwen25-math-cot") == EXPECTED["qwen25-math-cot"]
    with pytest.raises(ValueError, match="needs a tokenizer with a chat template"):
        render_prompt(no_template, PROBLEM, "online-dpo-r1")


# ---- the driver's parity check and the report ---------------------------------------------------------

def test_a_config_whose_eval_prompt_differs_is_refused_unless_allowed(tmp_path):
    recipe = str(REPO / "configs/qwen25_math_7b_dpo.yaml")
    with pytest.raises(ConfigError, match="eval.prompt_type 'qwen25-math-cot' differs from prompt_type 'online-dpo-r1'"):
        load_config(recipe, ["eval.prompt_type=qwen25-math-cot"])
    config = load_config(recipe, ["eval.prompt_type=qwen25-math-cot", "allow_eval_mismatch=true"])
    assert (config.prompt_type, config.value("eval", "prompt_type")) == ("online-dpo-r1", "qwen25-math-cot")
    assert config.value("sample", "prompt_type") == "online-dpo-r1"
    assert load_config(recipe, ["eval.prompt_type=qwen25-math-cot", "evaluate=false"]).evaluate is False


@pytest.mark.parametrize(
    "eval_prompt_type, mismatch_said",
    [("online-dpo-r1", False), ("qwen25-math-cot", True)],
)
def test_report_states_both_prompts_and_both_token_limits(tmp_path, eval_prompt_type, mismatch_said):
    config = {"prompt_type": "online-dpo-r1", "sample": {"max_new_tokens": 4096, "K": 8},
              "eval": {"prompt_type": eval_prompt_type, "max_tokens_per_call": 3000},
              "allow_eval_mismatch": mismatch_said}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "iter_0").mkdir()
    summary = write_report(tmp_path, initial_model="m")
    assert summary["settings"] == {"prompt_type": "online-dpo-r1", "sample.max_new_tokens": 4096,
                                   "eval.prompt_type": eval_prompt_type, "eval.max_tokens_per_call": 3000,
                                   "allow_eval_mismatch": mismatch_said}
    report = (tmp_path / "report.md").read_text()
    assert ("Sampling: prompt `online-dpo-r1`, up to 4096 new tokens. "
            f"Evaluation: prompt `{eval_prompt_type}`, up to 3000 new tokens.") in report
    assert ("The two prompts differ" in report) is mismatch_said


# ---- the 7B recipes against the original's values --------------------------------------------------------

RUN_CONFIGS = sorted((REPO / "configs").glob("qwen25_math_7b_*.yaml"))
DPO_CONFIGS = sorted((REPO / "configs" / "dpo").glob("qwen25_math_7b*.yaml"))

# run_iter_dpo.sh / gen_hf.py / reward_labeling.py / eval_math/sh/eval.sh
# What each stage runs with (the run config's value, else the stage's default), by flag.
ORIGINAL_RUN = {
    "model_name_or_path": "Qwen/Qwen2.5-Math-7B",
    "iterations": 9,  # for i in {1..9}
    "prompts": ["RLHFlow/numia_prompt_dpo{i}"],
    "prompt_type": "online-dpo-r1",
    "sample.prompt_type": "online-dpo-r1",
    "sample.K": 8,  # best_of_k=8
    "sample.temperature": 1.0,
    "sample.top_p": 1.0,
    "sample.max_new_tokens": 4096,  # gen_hf.py's default, with the model's 4096-token context
    "sample.max_model_len": 4096,
    "sample.stop_at_end_of_turn": False,  # vLLM's stop_token_ids=[tokenizer.eos_token_id] + eos_ids ([])
    "label.reward_policy": "recipe",
    "label.reward_correct": 1.0,
    "label.reward_wrong": -0.5,
    "label.reward_no_box": -1.0,
    "eval.prompt_type": "online-dpo-r1",  # its eval "qwen25-math-cot" is this string
    "eval.max_tokens_per_call": 3000,  # --max_tokens_per_call 3000
    "eval.n_sampling": 1,
    "eval.temperature": 0.0,  # greedy
    "eval.data_names": "math500,aime24,amc23,minerva_math,olympiadbench",
    "eval.data_dir": "eval_math/data",
    "accelerate_config": "configs/accelerate/zero3.yaml",
}
# The dpo_config.yaml that run_iter_dpo.sh writes (TRL 0.9.6 defaults for what it leaves out: beta 0.1,
# no warm-up).
ORIGINAL_DPO = {
    "learning_rate": 5.0e-7,
    "num_train_epochs": 2,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 0,
    "beta": 0.1,
    "label_smoothing": 0.1,
    "max_length": 4096,
    "per_device_train_batch_size": 1,
    # its gradient_accumulation_steps 16 on 8 GPUs; ours derives 16 there (tests/test_train.py), 8 on 16
    "global_batch_size": 1 * 16 * 8,
    "bf16": True,
    "gradient_checkpointing": True,
    "eos_token": "<|im_end|>",  # its eot_token
    "ref_policy": "previous",  # ref_model: the iteration's starting model
}


# The published table's "Qwen-DPO-R1" row: the same loop from the original's released warm-up checkpoint
# (README "Models": Qwen Warm-Up SFT).
STARTING_MODELS = {"qwen25_math_7b_dpo_from_released_sft.yaml": "RLHFlow/Qwen2.5-7B-SFT"}


@pytest.mark.parametrize("path", RUN_CONFIGS, ids=lambda p: p.name)
def test_7b_run_configs_hold_the_originals_values(path):
    config = load_config(str(path))
    used = {key: config.value(*key.split(".")) if "." in key else getattr(config, key) for key in ORIGINAL_RUN}
    assert used == {**ORIGINAL_RUN, "model_name_or_path": STARTING_MODELS.get(path.name, "Qwen/Qwen2.5-Math-7B")}
    if config.algorithm == "dpo":  # and the DPO configs' ref_policy: previous (below)
        assert config.value("pairs", "choose_type") == "max_min" and "ref_policy" not in config.train
    assert config.allow_eval_mismatch is False


@pytest.mark.parametrize("path", DPO_CONFIGS, ids=lambda p: p.name)
def test_7b_dpo_configs_hold_the_originals_values(path):
    config = yaml.safe_load(path.read_text())
    assert {key: config.get(key) for key in ORIGINAL_DPO} == ORIGINAL_DPO
    assert config["loss_type"][0] == "sigmoid" and "warmup_ratio" not in config
    zero3 = yaml.safe_load((REPO / "configs/accelerate/zero3.yaml").read_text())
    # 8 GPUs, ZeRO-3, bf16: the original's configs/zero3.yaml
    assert (zero3["num_processes"], zero3["deepspeed_config"]["zero_stage"], zero3["mixed_precision"]) == (8, 3, "bf16")


# ---- the original's records flow through every stage ----------------------------------------------------

def test_the_originals_samples_label_and_pair(tmp_path):
    """gen_hf.py's {prompt, responses, gt} lines: labeled (lengths unknown), then paired with TRL's keys."""
    from annotate.label import LabelArgs
    from annotate.label import main as label_main
    from annotate.pairs import PairsArgs
    from annotate.pairs import main as pairs_main
    from common.records import PAIRS, read_records, write_jsonl

    samples = tmp_path / "Train1_data.jsonl"
    write_jsonl(samples, [{"prompt": EXPECTED["online-dpo-r1"], "responses": ["so \\boxed{2}", "\\boxed{3}", "two"],
                           "gt": "2"},
                          {"prompt": "p", "responses": ["\\boxed{5}", "\\boxed{5}"], "gt": "5"}])
    stats = label_main(LabelArgs(dataset_name_or_path=str(samples), output_file=str(tmp_path / "labeled.jsonl")))
    assert (stats["prompts"], stats["responses"], stats["truncated"], stats["mean_num_tokens"]) == (2, 5, 0, None)
    labeled = read_records(tmp_path / "labeled.jsonl")
    assert [r["idx"] for r in labeled] == [0, 1] and labeled[0]["rewards"] == [1.0, -0.5, -1.0]
    pairs_main(PairsArgs(dataset_name_or_path=str(tmp_path / "labeled.jsonl"), output_file=str(tmp_path / "p.jsonl")))
    (pair,) = read_records(tmp_path / "p.jsonl", PAIRS)
    assert (pair["prompt"], pair["chosen"], pair["rejected"]) == (EXPECTED["online-dpo-r1"], "so \\boxed{2}", "two")
