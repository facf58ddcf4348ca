"""The training stage on the tiny model: DPO, DPO+NLL, SFT, the tokens trainers see, saving, bad configs.

The multi-process runs (DDP over gloo, DeepSpeed ZeRO-3 on CPU) are marked slow: each starts fresh
interpreters and DeepSpeed, ~30 s to minutes on 2 shared cores.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

from common.config import ConfigError, parse_config
from common.prompts import render_prompt
from common.records import RecordError, read_records, write_jsonl
from dpo_iteration import dpo, sft, training

REPO = Path(__file__).resolve().parent.parent
ONE_THREAD_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # see one_thread below

DPO_YAML = """\
learning_rate: 5.0e-3
num_train_epochs: 1
per_device_train_batch_size: 4
beta: 0.1
label_smoothing: 0.1
loss_type: [sigmoid]
max_length: 256
precompute_ref_log_probs: true
gradient_checkpointing: false
save_strategy: "no"
logging_steps: 1
report_to: none
"""
SFT_YAML = """\
learning_rate: 5.0e-3
num_train_epochs: 1
per_device_train_batch_size: 8
max_length: 256
gradient_checkpointing: false
save_strategy: "no"
logging_steps: 1
report_to: none
"""


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: the tiny model gains nothing from two, and on shared cores OpenMP's spin-waiting
    made these runs 10-50x slower (build + 8 DPO steps: 1.5 s on one thread, 54 s on two, load average 9)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def wrong_answer(completion: str) -> str:
    """The worked solution with its boxed answer off by one and unboxed: a rejected response."""
    return re.sub(r"\\boxed\{(-?\d+)\}", lambda m: str(int(m.group(1)) + 1), completion)


@pytest.fixture(scope="module")
def data(tiny_assets, tmp_path_factory) -> Path:
    """sft.jsonl (32 worked solutions), pairs.jsonl (16 pairs: right vs wrong answer) and the two configs."""
    out = tmp_path_factory.mktemp("train_data")
    records = read_records(tiny_assets / "task" / "sft.jsonl")[:32]
    write_jsonl(out / "sft.jsonl", records)
    write_jsonl(
        out / "pairs.jsonl",
        ({"idx": r["idx"], "prompt": r["prompt"], "chosen": r["completion"], "rejected": wrong_answer(r["completion"]),
          "chosen_reward": 1.0, "rejected_reward": -1.0, "margin": 2.0} for r in records[:16]),
    )
    (out / "dpo.yaml").write_text(DPO_YAML)
    (out / "sft.yaml").write_text(SFT_YAML)
    return out


def run_dpo(data: Path, model: Path, output_dir: Path, *flags: str) -> Path:
    argv = [str(data / "dpo.yaml"), "--model_name_or_path", str(model), "--train_file", str(data / "pairs.jsonl"),
            "--output_dir", str(output_dir), "--seed", "1", *flags]
    dpo.main(*parse_config([dpo.DPOScriptArgs, dpo.DPOTrainConfig], argv))
    return output_dir


def response_logprobs(model_dir: Path, records: list[dict], key: str) -> torch.Tensor:
    """Sum of log p(response tokens + eos | prompt) under the model in ``model_dir``, one per record."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    prompts = training.encode(tokenizer, [r["prompt"] for r in records])
    responses = training.response_ids(tokenizer, [r[key] for r in records])
    out = []
    with torch.no_grad():
        for prompt, response in zip(prompts, responses, strict=True):
            ids = torch.tensor([prompt + response])
            logprobs = model(ids).logits[0, :-1].log_softmax(-1)
            targets = ids[0, 1:]
            out.append(logprobs[len(prompt) - 1 :].gather(-1, targets[len(prompt) - 1 :, None]).sum())
    return torch.stack(out)


@pytest.fixture(scope="module")
def dpo_model(data, tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model after DPO on the pairs; a stale .partial directory of a killed run is in the way."""
    output_dir = tmp_path_factory.mktemp("dpo") / "model"
    stale = training.partial_dir(output_dir)
    stale.mkdir()
    (stale / "junk.txt").write_text("left by a killed run")
    return run_dpo(data, tiny_model_dir, output_dir)


def test_dpo_raises_the_chosen_over_rejected_margin(data, tiny_model_dir, dpo_model):
    pairs = read_records(data / "pairs.jsonl")
    before = response_logprobs(tiny_model_dir, pairs, "chosen") - response_logprobs(tiny_model_dir, pairs, "rejected")
    after = response_logprobs(dpo_model, pairs, "chosen") - response_logprobs(dpo_model, pairs, "rejected")
    assert after.mean() > before.mean() + 1.0, (before.mean(), after.mean())
    assert (after > before).float().mean() >= 0.9


def test_dpo_output_is_whole_and_clean(dpo_model):
    names = {p.name for p in dpo_model.iterdir()}
    assert {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "train_log.json"} <= names
    assert not any(n.startswith("checkpoint-") or n in ("cache", "junk.txt", "training_args.bin") for n in names)
    assert not training.partial_dir(dpo_model).exists()
    log = json.loads((dpo_model / "train_log.json").read_text())
    assert (log["ref_policy"], log["pairs"], log["eos_token"]) == ("previous", 16, "<|im_end|>")
    # label smoothing 0.1 on the sigmoid loss became conservative DPO: 2(1-e)*sigmoid - (1-2e)*robust
    assert log["loss_type"] == ["sigmoid", "robust"]
    assert log["loss_weights"] == pytest.approx([1.8, -0.8])


def test_saved_model_reloads_and_generates(dpo_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(dpo_model)
    model = AutoModelForCausalLM.from_pretrained(dpo_model)
    assert model.config.use_cache
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in model.generation_config.eos_token_id
    prompt = render_prompt(tokenizer, "Compute 2 + 3.")
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    out = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]


def test_existing_output_dir_is_refused(data, tiny_model_dir, dpo_model):
    with pytest.raises(ConfigError, match="already holds a model"):
        run_dpo(data, tiny_model_dir, dpo_model)


def test_dpo_plus_nll_runs_and_raises_the_chosen(data, tiny_model_dir, tmp_path):
    out = run_dpo(data, tiny_model_dir, tmp_path / "model", "--loss_type", "sigmoid", "sft",
                  "--loss_weights", "1.0", "1.0", "--label_smoothing", "0")
    log = json.loads((out / "train_log.json").read_text())
    assert log["loss_type"] == ["sigmoid", "sft"]
    pairs = read_records(data / "pairs.jsonl")
    assert response_logprobs(out, pairs, "chosen").mean() > response_logprobs(tiny_model_dir, pairs, "chosen").mean()


@pytest.fixture(scope="module")
def perturbed_model_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model with noise on its weights: a reference that differs from the policy."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path_factory.mktemp("perturbed")
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.05 * torch.randn_like(param))
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(out)
    return out


def test_initial_reference_and_conservative_dpo_loss(data, tiny_model_dir, perturbed_model_dir, tmp_path):
    """ref_policy initial takes the reference log-probs from the initial model, and label smoothing e gives
    (1-e)*softplus(-m) + e*softplus(m) for reward margin m, as the recipe's TRL 0.9 sigmoid loss did."""
    eps = 0.2
    argv = [str(data / "dpo.yaml"), "--model_name_or_path", str(tiny_model_dir), "--train_file",
            str(data / "pairs.jsonl"), "--output_dir", str(tmp_path / "m"), "--ref_policy", "initial",
            "--initial_model_name_or_path", str(perturbed_model_dir), "--label_smoothing", str(eps),
            "--per_device_train_batch_size", "1"]
    args, config = parse_config([dpo.DPOScriptArgs, dpo.DPOTrainConfig], argv)
    trainer, _ = dpo.build_trainer(args, config)
    assert trainer.ref_model is None  # dropped once its log-probs were computed
    row = trainer.train_dataset[0]
    expected = response_logprobs(perturbed_model_dir, read_records(data / "pairs.jsonl")[:1], "chosen")
    assert row["ref_chosen_logps"] == pytest.approx(expected.item(), abs=1e-3)

    batch = trainer.data_collator([row])
    trainer.model.train()
    loss = trainer.compute_loss(trainer.model, batch).item()
    margin = trainer._metrics["train"]["rewards/margins"][-1]
    softplus = lambda x: math.log1p(math.exp(x))  # noqa: E731
    assert abs(margin) > 0.01  # the reference differs from the policy, so the check below is not at m = 0
    assert loss == pytest.approx((1 - eps) * softplus(-margin) + eps * softplus(margin), abs=1e-5)


def tricky_records(tokenizer) -> list[dict]:
    """A chat prompt, and a raw prompt ending in a space before a word: tokenising prompt + response as one
    string merges " The" across the boundary there, which is what generation never did."""
    chat = render_prompt(tokenizer, "Compute 2 + 3.")
    raw = render_prompt(tokenizer, "Compute 2 + 3.", "raw")
    return [
        {"idx": "a", "prompt": chat, "chosen": "2 + 3 = 5. The answer is \\boxed{5}.", "rejected": "\n\nIt is 6."},
        {"idx": "b", "prompt": raw, "chosen": "The answer is \\boxed{5}.", "rejected": "The answer is 6."},
    ]


def test_dpo_trainer_sees_prompt_ids_then_response_ids_then_one_eos(tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    records = tricky_records(tokenizer)
    raw = records[1]
    joined = tokenizer(raw["prompt"] + raw["chosen"], add_special_tokens=False)["input_ids"]
    alone = tokenizer(raw["prompt"], add_special_tokens=False)["input_ids"]
    assert joined[: len(alone)] != alone  # the trap is real for this tokenizer
    pairs = tmp_path / "pairs.jsonl"
    write_jsonl(pairs, [{**r, "chosen_reward": 1.0, "rejected_reward": -1.0, "margin": 2.0} for r in records])
    (tmp_path / "c.yaml").write_text(DPO_YAML)
    args, config = parse_config(
        [dpo.DPOScriptArgs, dpo.DPOTrainConfig],
        [str(tmp_path / "c.yaml"), "--model_name_or_path", str(tiny_model_dir), "--train_file", str(pairs),
         "--output_dir", str(tmp_path / "m"), "--precompute_ref_log_probs", "false"],
    )
    trainer, _ = dpo.build_trainer(args, config)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(records))])
    rows = [(r, "chosen") for r in records] + [(r, "rejected") for r in records]  # chosen half, then rejected
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    for (record, key), ids, attention, completion in zip(
        rows, batch["input_ids"], batch["attention_mask"], batch["completion_mask"], strict=True
    ):
        prompt = tokenizer(record["prompt"])["input_ids"]
        expected = prompt + tokenizer(record[key])["input_ids"] + [eos]
        assert ids[attention.bool()].tolist() == expected
        assert completion.tolist()[: len(expected)] == [0] * len(prompt) + [1] * (len(expected) - len(prompt))
        assert expected.count(eos) == prompt.count(eos) + 1


def test_sft_trainer_sees_prompt_ids_then_completion_ids_then_one_eos_and_learns_only_those(
    tiny_model_dir, tmp_path
):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    records = [{"idx": r["idx"], "prompt": r["prompt"], "completion": r["chosen"]} for r in tricky_records(tokenizer)]
    records[0]["completion"] += "<|im_end|>"  # a response that kept its eos text still gets exactly one
    write_jsonl(tmp_path / "sft.jsonl", records)
    (tmp_path / "c.yaml").write_text(SFT_YAML)
    args, config = parse_config(
        [training.ModelDataArgs, sft.SFTTrainConfig],
        [str(tmp_path / "c.yaml"), "--model_name_or_path", str(tiny_model_dir), "--train_file",
         str(tmp_path / "sft.jsonl"), "--output_dir", str(tmp_path / "m"), "--shuffle_dataset", "false"],
    )
    trainer, _ = sft.build_trainer(args, config)
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    for record, row in zip(records, trainer.train_dataset, strict=True):
        prompt = tokenizer(record["prompt"])["input_ids"]
        completion = tokenizer(record["completion"].removesuffix("<|im_end|>"))["input_ids"] + [eos]
        assert row["input_ids"] == prompt + completion
        assert row["labels"] == [-100] * len(prompt) + completion


def test_sft_lowers_the_completion_loss(data, tiny_model_dir, tmp_path):
    argv = [str(data / "sft.yaml"), "--model_name_or_path", str(tiny_model_dir), "--train_file",
            str(data / "sft.jsonl"), "--output_dir", str(tmp_path / "model"), "--seed", "1"]
    sft.main(*parse_config([training.ModelDataArgs, sft.SFTTrainConfig], argv))
    records = read_records(data / "sft.jsonl")
    before = response_logprobs(tiny_model_dir, records, "completion").mean()
    after = response_logprobs(tmp_path / "model", records, "completion").mean()
    assert after > before + 5.0, (before, after)
    assert json.loads((tmp_path / "model" / "train_log.json").read_text())["completion_only_loss"] is True


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--nmae", "x"], "nmae"),
        (["--beta", "-1"], "beta must be > 0"),
        (["--ref_policy", "initial"], "needs initial_model_name_or_path"),
        (["--ref_policy", "latest"], "ref_policy must be one of"),
        (["--loss_type", "sigmod"], "unknown loss_type"),
        (["--loss_type", "ipo"], "no effect on loss_type"),
        (["--label_smoothing", "0.5"], "label_smoothing must be in"),
        (["--dtype", "int8"], "dtype must be one of"),
        (["--sync_ref_model", "true"], "cannot be precomputed"),
    ],
)
def test_bad_dpo_config_is_refused_while_parsing(data, tiny_model_dir, tmp_path, flags, message):
    """Values; paths that are not there are the CLI's check (tests/test_cli_errors.py)."""
    argv = [str(data / "dpo.yaml"), "--model_name_or_path", str(tiny_model_dir), "--train_file",
            str(data / "pairs.jsonl"), "--output_dir", str(tmp_path / "m"), *flags]
    with pytest.raises(ValueError, match=message):  # ConfigError, or TrlParser's unknown-key error
        parse_config([dpo.DPOScriptArgs, dpo.DPOTrainConfig], argv)


# ---- the batch over all processes ------------------------------------------------------------------------

STAGES = {"dpo": [dpo.DPOScriptArgs, dpo.DPOTrainConfig], "sft": [training.ModelDataArgs, sft.SFTTrainConfig]}
SEVEN_B_CONFIGS = [("dpo", "configs/dpo/qwen25_math_7b.yaml"), ("dpo", "configs/dpo/qwen25_math_7b_nll.yaml"),
                   ("sft", "configs/sft/qwen25_math_7b_warmup.yaml"), ("sft", "configs/sft/qwen25_math_7b_raft.yaml")]


def parse_on(processes: int, stage: str, config: str, data: Path, model: Path, out: Path, monkeypatch, *flags: str):
    """A stage's config parsed as each of ``processes`` launched processes parses it (their WORLD_SIZE, without
    the process group that WORLD_SIZE itself would make the Trainer's arguments start)."""
    monkeypatch.setattr(training, "world_size", lambda: processes)
    train_file = data / ("pairs.jsonl" if stage == "dpo" else "sft.jsonl")
    argv = [config, "--model_name_or_path", str(model), "--train_file", str(train_file), "--output_dir", str(out),
            "--bf16", "false", *flags]
    return parse_config(STAGES[stage], argv)[1]


@pytest.mark.parametrize("stage, config", SEVEN_B_CONFIGS, ids=[c for _, c in SEVEN_B_CONFIGS])
def test_7b_configs_keep_the_batch_of_128_on_1_2_and_4_nodes(data, tiny_model_dir, tmp_path, monkeypatch, stage, config):
    accumulation = {}
    for nodes in (1, 2, 4):
        parsed = parse_on(nodes * 8, stage, str(REPO / config), data, tiny_model_dir, tmp_path / "m", monkeypatch)
        assert parsed.global_batch_size == 128
        assert parsed.per_device_train_batch_size * nodes * 8 * parsed.gradient_accumulation_steps == 128
        accumulation[nodes] = parsed.gradient_accumulation_steps
    # the original's 1 x 16 x 8 GPUs for DPO; 2 per device for SFT
    assert accumulation == ({1: 16, 2: 8, 4: 4} if stage == "dpo" else {1: 8, 2: 4, 4: 2})
    if stage == "dpo":  # TRL 1.16's DPOConfig option: 8 pairs per reference forward on each GPU
        assert parsed.precompute_ref_batch_size == 8 and parsed.precompute_ref_log_probs


def test_a_batch_the_processes_cannot_share_is_refused(data, tiny_model_dir, tmp_path, monkeypatch):
    config = str(REPO / "configs/dpo/qwen25_math_7b.yaml")
    with pytest.raises(ConfigError, match=r"global_batch_size 128 is not a multiple of per_device_train_batch_size 1 "
                                          r"x 24 processes = 24"):
        parse_on(24, "dpo", config, data, tiny_model_dir, tmp_path / "m", monkeypatch)
    with pytest.raises(ConfigError, match=r"gradient_accumulation_steps 16 contradicts global_batch_size 128, which on "
                                          r"16 processes x 1 per device needs 8"):
        parse_on(16, "dpo", config, data, tiny_model_dir, tmp_path / "m", monkeypatch, "--gradient_accumulation_steps", "16")
    with pytest.raises(ConfigError, match="global_batch_size must be >= 1"):
        parse_on(1, "dpo", config, data, tiny_model_dir, tmp_path / "m", monkeypatch, "--global_batch_size", "0")
    # a matching value is accepted; without global_batch_size the accumulation is as given (the demo configs)
    parsed = parse_on(16, "dpo", config, data, tiny_model_dir, tmp_path / "m", monkeypatch, "--gradient_accumulation_steps", "8")
    assert parsed.gradient_accumulation_steps == 8
    parsed = parse_on(16, "sft", str(REPO / "configs/sft/demo_raft.yaml"), data, tiny_model_dir, tmp_path / "m", monkeypatch)
    assert parsed.global_batch_size is None and parsed.gradient_accumulation_steps == 1


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"idx": 1, "prompt": "p", "chosen": "a"}', "missing key 'rejected'"),
        ('{"idx": 1, "prompt": "p", "chosen": null, "rejected": "b", "chosen_reward": 1, "rejected_reward": 0, '
         '"margin": 1}', "'chosen' must be a string"),
    ],
)
def test_bad_pairs_fail_before_any_model_loads(data, tiny_model_dir, tmp_path, monkeypatch, line, message):
    (tmp_path / "pairs.jsonl").write_text(line + "\n")
    argv = [str(data / "dpo.yaml"), "--model_name_or_path", str(tiny_model_dir), "--train_file",
            str(tmp_path / "pairs.jsonl"), "--output_dir", str(tmp_path / "m")]
    args, config = parse_config([dpo.DPOScriptArgs, dpo.DPOTrainConfig], argv)
    monkeypatch.setattr(dpo, "load_model", lambda *a: pytest.fail("a model loaded before the pairs were checked"))
    with pytest.raises(RecordError, match=rf"pairs.jsonl:1: {message}"):
        dpo.main(args, config)


def test_bad_config_exits_2_with_one_line(data, tiny_model_dir, tmp_path):
    cmd = [sys.executable, "dpo_iteration/dpo.py", str(data / "dpo.yaml"), "--model_name_or_path",
           str(tiny_model_dir), "--train_file", str(data / "pairs.jsonl"), "--output_dir", str(tmp_path / "m"),
           "--beta", "-0.1"]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, env=ONE_THREAD_ENV)
    assert out.returncode == 2
    errors = [line for line in out.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "beta must be > 0" in errors[0] and "Traceback" not in out.stderr


def test_release_removes_every_hook_of_the_engines_that_precomputed():
    class Engine:
        """A DeepSpeed 0.19 engine as far as hooks go: ZeRO-3's on every submodule, which destroy() removes,
        and the engine's prologue/epilogue pair on the root, which it leaves (the slow ZeRO-3 test runs the
        real one)."""

        def __init__(self, module):
            self.zero3 = [m.register_forward_pre_hook(lambda *a: None) for m in module.modules()]
            self.module_forward_pre_hook = module.register_forward_pre_hook(lambda *a: None)
            self.module_forward_post_hook = module.register_forward_hook(lambda *a: None)

        def destroy(self):
            for hook in self.zero3:
                hook.remove()

    policy, reference = torch.nn.Sequential(torch.nn.Linear(2, 2)), torch.nn.Linear(2, 2)
    trainer = types.SimpleNamespace(_precompute_engine=Engine(policy), ref_model=Engine(reference))
    dpo.release_precompute_engines(trainer)
    assert trainer._precompute_engine is None and trainer.ref_model is None
    for module in (*policy.modules(), reference):
        assert not module._forward_pre_hooks and not module._forward_hooks


def test_zero3_without_gathering_weights_is_refused():
    from accelerate.utils import DeepSpeedPlugin

    plugin = DeepSpeedPlugin(zero_stage=3, zero3_save_16bit_model=False)

    class Config:
        deepspeed_plugin = plugin

    with pytest.raises(ConfigError, match="zero3_save_16bit_model"):
        training.check_deepspeed_saves_weights(Config())


def launch(kind: str, data: Path, model: Path, output_dir: Path, probe: Path | None = None) -> None:
    """Two CPU processes training the pairs with batch 2 each (effective batch 4, as the 1-process run).

    With ``probe``, dpo.py runs under tests/zero3_probe.py, which records the policy's hooks there."""
    entry = [str(REPO / "tests" / "zero3_probe.py"), str(probe)] if probe else [str(REPO / "dpo_iteration" / "dpo.py")]
    script = [*entry, str(data / "dpo.yaml"), "--model_name_or_path", str(model),
              "--train_file", str(data / "pairs.jsonl"), "--output_dir", str(output_dir), "--seed", "1",
              "--per_device_train_batch_size", "2", "--ddp_find_unused_parameters", "false"]
    accelerate = [sys.executable, "-m", "accelerate.commands.launch"]
    if kind == "ddp":
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *script]
    else:
        config = REPO / "configs" / "accelerate" / "cpu_zero3.yaml"
        cmd = [*accelerate, "--config_file", str(config), *script, "--ddp_backend", "gloo"]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900, env=ONE_THREAD_ENV)
    assert out.returncode == 0, out.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["ddp", "zero3"])
def test_two_processes_train_what_one_does(data, tiny_model_dir, dpo_model, tmp_path, kind):
    from safetensors.torch import load_file

    probe = tmp_path / "probe.json" if kind == "zero3" else None
    launch(kind, data, tiny_model_dir, tmp_path / "model", probe)
    if probe:
        # DPO_YAML precomputes the reference log-probs: TRL wrapped the policy in a ZeRO-3 inference engine
        # for that, whose parameter hooks the trainer removed before training.
        seen = json.loads(probe.read_text())
        assert seen["engine_before"] and len(seen["hooks_before"]) > 0, seen["hooks_before"][:5]
        assert not seen["engine_after"] and seen["hooks_after"] == [], seen["hooks_after"]
    one, two = load_file(dpo_model / "model.safetensors"), load_file(tmp_path / "model" / "model.safetensors")
    start = load_file(tiny_model_dir / "model.safetensors")
    assert two.keys() == one.keys()
    moved = max((one[k] - start[k]).abs().max().item() for k in one)
    differ = max((one[k] - two[k]).abs().max().item() for k in one)
    # Same pairs per step and averaged gradients: only float rounding differs, which Adam's normalisation
    # lifts to ~0.5% of the update here; a wrong data split or unaveraged gradients differ by the update itself.
    assert differ < 2e-2 * moved, (differ, moved)
    assert json.loads((tmp_path / "model" / "train_log.json").read_text())["pairs"] == 16


def test_early_stop_keeps_the_best_validation_checkpoint(data, tiny_assets, tmp_path, monkeypatch):
    """Scripted validation accuracies (best at the 2nd validation, then 2 without a better one): training
    stops at the 4th validation, and the model saved is the one of the 2nd, not the last one trained."""
    from safetensors.torch import load_file
    from transformers import TrainerCallback

    from dpo_iteration import validation

    scripted = iter([0.2, 0.6, 0.4, 0.6, 0.9])
    weights = {}

    def fake_accuracy(model, tokenizer, problems, args):
        weights[model_step["step"]] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return next(scripted)

    class Step(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            model_step["step"] = state.global_step

    model_step = {"step": 0}
    monkeypatch.setattr(validation, "validation_accuracy", fake_accuracy)
    original = validation.validation_callbacks
    monkeypatch.setattr(sft, "validation_callbacks", lambda args, summary: [Step(), *original(args, summary)])
    argv = [str(data / "sft.yaml"), "--model_name_or_path", str(tiny_assets / "model"), "--train_file",
            str(data / "sft.jsonl"), "--output_dir", str(tmp_path / "model"), "--seed", "1", "--max_steps", "40",
            "--per_device_train_batch_size", "4", "--val_file", str(tiny_assets / "task" / "val.jsonl"),
            "--val_steps", "3", "--val_patience", "2"]
    sft.main(*parse_config([training.ModelDataArgs, sft.SFTTrainConfig], argv))
    log = json.loads((tmp_path / "model" / "train_log.json").read_text())
    assert log["validation"]["curve"] == [[3, 0.2], [6, 0.6], [9, 0.4], [12, 0.6]]  # an equal score is no better
    assert log["validation"]["best_step"] == 6 and log["validation"]["stopped_early"] is True
    assert log["validation"]["last_step"] == 12 and log["validation"]["max_steps"] == 40
    assert [e["eval_val_accuracy"] for e in log["log_history"] if "eval_val_accuracy" in e] == [0.2, 0.6, 0.4, 0.6]
    saved = load_file(tmp_path / "model" / "model.safetensors")
    for name, tensor in saved.items():
        assert torch.equal(tensor, weights[6][name]), name
    assert any(not torch.equal(saved[name], weights[12][name]) for name in saved)
    assert not any(p.name.startswith("checkpoint-") for p in (tmp_path / "model").iterdir())


def test_no_validation_or_checkpoint_before_the_start_step(data, tiny_assets, tmp_path, monkeypatch):
    """val_start_step 7 with val_steps 3: the first validation is at step 9, and the early stop counts from it."""
    from dpo_iteration import validation

    scripted = iter([0.5, 0.4, 0.3, 0.9])
    monkeypatch.setattr(validation, "validation_accuracy", lambda model, tokenizer, problems, args: next(scripted))
    argv = [str(data / "sft.yaml"), "--model_name_or_path", str(tiny_assets / "model"), "--train_file",
            str(data / "sft.jsonl"), "--output_dir", str(tmp_path / "model"), "--seed", "1", "--max_steps", "40",
            "--per_device_train_batch_size", "4", "--val_file", str(tiny_assets / "task" / "val.jsonl"),
            "--val_steps", "3", "--val_patience", "2", "--val_start_step", "7"]
    sft.main(*parse_config([training.ModelDataArgs, sft.SFTTrainConfig], argv))
    log = json.loads((tmp_path / "model" / "train_log.json").read_text())
    assert log["validation"]["curve"] == [[9, 0.5], [12, 0.4], [15, 0.3]]
    assert log["validation"]["start_step"] == 7 and log["validation"]["best_step"] == 9
    assert log["validation"]["stopped_early"] is True and log["validation"]["last_step"] == 15


@pytest.mark.parametrize("flags, message", [(["--val_file", "/nonexistent/val.jsonl"], "val_file not found"),
                                            (["--val_steps", "0"], "val_steps must be >= 1"),
                                            (["--val_start_step", "-1"], "val_start_step must be >= 0")])
def test_bad_validation_settings_fail_before_training(data, tiny_assets, tmp_path, flags, message):
    val = ["--val_file", str(tiny_assets / "task" / "val.jsonl")] if flags[0] != "--val_file" else []
    argv = [str(data / "sft.yaml"), "--model_name_or_path", str(tiny_assets / "model"), "--train_file",
            str(data / "sft.jsonl"), "--output_dir", str(tmp_path / "model"), *val, *flags]
    with pytest.raises(ConfigError, match=message):
        parse_config([training.ModelDataArgs, sft.SFTTrainConfig], argv)
