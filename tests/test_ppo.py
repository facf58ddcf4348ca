"""ppo_training/: verl parquet preparation, the verl reward function, the launch scripts, with verl's own code.

The tests marked `needs_verl` import verl 0.9.1 and run in .venv-verl (`bash setup.sh --verl`;
`bash tests/run.sh --slow` builds it and runs this file there); elsewhere they are skipped with that
reason. The others (data preparation, reward policies) run in every environment.

    .venv-verl/bin/python -m pytest tests/test_ppo.py -q
"""

import copy
import functools
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from annotate.audit import AuditFailed
from annotate.grader import pool
from common.config import ConfigError
from common.prompts import chat_messages, render_prompt
from common.records import RecordError, write_jsonl
from ppo_training.prepare_data import PrepareArgs
from ppo_training.prepare_data import main as prepare
from ppo_training.reward import compute_score, compute_score_batch

REPO = Path(__file__).resolve().parent.parent
HAS_VERL = importlib.util.find_spec("verl") is not None
needs_verl = pytest.mark.skipif(
    not HAS_VERL, reason="verl is not installed in this interpreter: run in .venv-verl (bash setup.sh --verl)"
)

# The original PPO baseline's reward on this grader, and the DPO recipe's labels.
ZERO_ONE = {"reward_policy": "strict_box", "reward_correct": 1.0, "reward_wrong": 0.0, "reward_no_box": 0.0}
RECIPE = {"reward_policy": "recipe", "reward_correct": 1.0, "reward_wrong": -0.5, "reward_no_box": -1.0}
ADVERSARIAL = r"Let me compute. \boxed{9^{9^{9^{9}}}}"
# (response, gt, reward under ZERO_ONE, reward under RECIPE, grader's verdict)
RESPONSES = [
    (r"8 + 20 = 28, so the answer is \boxed{28}.", "28", 1.0, 1.0, 1.0),
    ("8 + 20 = 28. The answer is 28.", "28", 0.0, 1.0, 1.0),  # correct, no box: strict_box pays nothing
    (r"\boxed{27}", "28", 0.0, -0.5, 0.0),
    ("I do not know.", "28", 0.0, -1.0, 0.0),
    (r"so $x = \boxed{\frac{1}{2}}$", "0.5", 1.0, 1.0, 1.0),
    (ADVERSARIAL, "2", 0.0, -0.5, 0.0),  # a resource bomb: refused by the size guards, graded wrong
]


def slow_symbolic_job(pred, gt, profile=None):
    import time

    time.sleep(60)
    return True, "symbolic"


# \sum is outside the fast path, so this case reaches a (patched, hanging) symbolic worker.
HANGING = (r"\boxed{\sum_{k=1}^{3} k}", "6")


@pytest.fixture
def hanging_grader(monkeypatch):
    if pool._START_METHOD != "fork":
        pytest.skip("the patch reaches the grader's workers only through fork")
    monkeypatch.setattr(pool, "_symbolic_job", slow_symbolic_job)


# ---- prepare_data.py ---------------------------------------------------------------------------------

def prompt_rows(n: int) -> list[dict]:
    return [{"idx": f"p{i}", "problem": f"Compute {i} + {i}.", "gt": 2 * i if i % 2 else str(2 * i)} for i in range(n)]


def read_parquet(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def test_prepare_data_writes_verls_schema_with_the_recipes_prompt(tmp_path):
    rows = prompt_rows(40) + [{"idx": "bad", "problem": "Compute nothing.", "gt": ""}]  # fails the audit
    write_jsonl(tmp_path / "prompts.jsonl", rows)
    stats = prepare(PrepareArgs(dataset_name_or_path=str(tmp_path / "prompts.jsonl"), output_dir=str(tmp_path / "out"),
                                val_size=5, seed=3))
    train, val = read_parquet(tmp_path / "out/train.parquet"), read_parquet(tmp_path / "out/val.parquet")
    assert (len(train), len(val), stats["read"], stats["audit_failed"]) == (35, 5, 41, 1)
    assert [f["idx"] for f in stats["audit_failures"]] == ["bad"]
    assert json.loads((tmp_path / "out/prepare_stats.json").read_text())["train"] == 35
    by_idx = {r["idx"]: r for r in rows}
    for split, part in (("train", train), ("val", val)):
        assert [r["extra_info"]["index"] for r in part] == list(range(len(part)))
        for r in part:
            source = by_idx[r["extra_info"]["idx"]]
            assert r["data_source"] == "prompts" and r["ability"] == "math"
            assert r["prompt"] == chat_messages(source["problem"], "online-dpo-r1")
            assert r["reward_model"] == {"style": "rule", "ground_truth": str(source["gt"])}
            assert r["extra_info"]["split"] == split and r["extra_info"]["problem"] == source["problem"]
    assert {r["extra_info"]["idx"] for r in train + val} == {f"p{i}" for i in range(40)}
    again = prepare(PrepareArgs(dataset_name_or_path=str(tmp_path / "prompts.jsonl"), output_dir=str(tmp_path / "again"),
                                val_size=5, seed=3))
    assert read_parquet(tmp_path / "again/val.parquet") == val and again["train"] == 35


def test_prepare_data_takes_a_validation_set_and_other_keys(tmp_path):
    renamed = [{"question": r["problem"], "answer": r["gt"]} for r in prompt_rows(6)]  # no idx: row positions
    write_jsonl(tmp_path / "train.jsonl", renamed)
    write_jsonl(tmp_path / "val.jsonl", renamed[:2])
    prepare(PrepareArgs(dataset_name_or_path=str(tmp_path / "train.jsonl"), output_dir=str(tmp_path / "out"),
                        val_dataset_name_or_path=str(tmp_path / "val.jsonl"), dataset_key="question",
                        answer_key="answer", prompt_type="chat", data_source="arith"))
    train, val = read_parquet(tmp_path / "out/train.parquet"), read_parquet(tmp_path / "out/val.parquet")
    assert [r["extra_info"]["idx"] for r in train] == [str(i) for i in range(6)] and len(val) == 2
    assert train[1]["prompt"] == chat_messages("Compute 1 + 1.", "chat") and train[1]["data_source"] == "arith"


def test_prepare_data_refuses_what_verl_cannot_use(tmp_path):
    write_jsonl(tmp_path / "prompts.jsonl", [{"idx": 0, "problem": "Compute 1 + 1.", "answer": "2"}])
    with pytest.raises(RecordError, match=r"prompts.jsonl:1: missing field 'gt'"):
        prepare(PrepareArgs(dataset_name_or_path=str(tmp_path / "prompts.jsonl"), output_dir=str(tmp_path / "o")))
    with pytest.raises(ConfigError, match="chat template"):
        PrepareArgs(dataset_name_or_path="x.jsonl", output_dir="o", prompt_type="raw")
    write_jsonl(tmp_path / "bad.jsonl", [{"idx": i, "problem": "p", "gt": ""} for i in range(10)])
    with pytest.raises(AuditFailed, match="10 of 10"):
        prepare(PrepareArgs(dataset_name_or_path=str(tmp_path / "bad.jsonl"), output_dir=str(tmp_path / "o")))
    assert not (tmp_path / "o").exists()  # nothing written


# ---- reward.py ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("response, gt, zero_one, recipe, acc", RESPONSES)
def test_reward_follows_label_policies(response, gt, zero_one, recipe, acc):
    assert compute_score("math", response, gt, None, **ZERO_ONE)["score"] == zero_one
    got = compute_score("math", response, gt, {"index": 0}, **RECIPE, unknown_verl_kwarg=1)
    assert (got["score"], got["acc"], got["timed_out"]) == (recipe, acc, 0.0)


def test_reward_batch_form_matches_the_single_form():
    responses, gts = [r[0] for r in RESPONSES] * 2, [r[1] for r in RESPONSES] * 2
    batch = compute_score_batch(["math"] * len(gts), responses, gts, [{}] * len(gts), num_workers=2, **RECIPE)
    assert batch == [compute_score("math", r, g, **RECIPE) for r, g in zip(responses, gts, strict=True)]
    with pytest.raises(ValueError, match="reward_policy"):
        compute_score("math", "x", "1", reward_policy="lenient")
    with pytest.raises(ValueError, match="reward_correct"):
        compute_score("math", "x", "1", reward_correct=0.0, reward_wrong=0.0)


def test_a_hanging_comparison_costs_one_timeout_not_the_step(hanging_grader):
    single = compute_score("math", *HANGING, timeout=0.5, **RECIPE)
    assert single == {"score": -0.5, "acc": 0.0, "boxed": 1.0, "timed_out": 1.0}
    batch = compute_score_batch(["m"] * 2, [HANGING[0], r"\boxed{3}"], [HANGING[1], "3"], timeout=0.5, num_workers=1)
    assert [b["timed_out"] for b in batch] == [1.0, 0.0] and batch[1]["score"] == 1.0


# ---- the scripts -------------------------------------------------------------------------------------

def test_scripts_say_what_is_missing(tmp_path):
    for script in ("run_ppo.sh", "run_grpo.sh"):
        out = subprocess.run(["bash", str(REPO / "ppo_training" / script)], capture_output=True, text=True,
                             env={**os.environ, "VERL_PYTHON": sys.executable, "DATA_DIR": str(tmp_path)})
        assert out.returncode != 0
        assert (f"{tmp_path}/train.parquet not found" in out.stderr) if HAS_VERL else ("cannot import verl" in out.stderr)
    out = subprocess.run(["bash", str(REPO / "ppo_training/export_and_eval.sh"), str(tmp_path), "5"],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "global_step_5/actor not found (steps with an actor checkpoint: none)" in out.stderr
    for step in (5, 10, 15):  # verl pruned step 5's actor and kept the folder
        (tmp_path / f"checkpoints/global_step_{step}" / ("" if step == 5 else "actor")).mkdir(parents=True, exist_ok=True)
    out = subprocess.run(["bash", str(REPO / "ppo_training/export_and_eval.sh"), str(tmp_path), "5"],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "(steps with an actor checkpoint: global_step_10 global_step_15)" in out.stderr


# ---- with verl's own code ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def verl_data(tiny_assets, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("verl_data")
    prepare(PrepareArgs(dataset_name_or_path=str(tiny_assets / "task/iter_1.jsonl"), output_dir=str(out), val_size=4))
    return out


def verl_config(script: str, data_dir: Path, model: Path, *overrides: str, **env: str):
    """verl's composed config for a launch script (a copy: callers may change it)."""
    return copy.deepcopy(_verl_config(script, data_dir, model, overrides, tuple(sorted(env.items()))))


@functools.cache
def _verl_config(script: str, data_dir: Path, model: Path, overrides: tuple, env: tuple):
    """The script run with Hydra's `--cfg job` (verl's main_ppo prints the composed config, runs nothing)."""
    from omegaconf import OmegaConf

    out = subprocess.run(
        ["bash", str(REPO / "ppo_training" / script), *overrides, "--cfg", "job"], capture_output=True, text=True,
        env={**os.environ, "VERL_PYTHON": sys.executable, "DATA_DIR": str(data_dir), "MODEL": str(model), **dict(env)},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return OmegaConf.create(out.stdout)


@needs_verl
@pytest.mark.parametrize("prompt_type", ["online-dpo-r1", "chat"])
def test_verls_dataset_and_rollout_tokens_equal_the_samplers(tiny_assets, tmp_path, prompt_type):
    from omegaconf import OmegaConf
    from transformers import AutoConfig, AutoTokenizer
    from verl.utils.dataset.rl_dataset import RLHFDataset
    from verl.utils.tokenizer.continuous_token_wiring import create_continuous_token_builder

    from common.prompt_sets import load_prompts
    from generation.engines import encode_prompts

    source = tiny_assets / "task/iter_1.jsonl"
    prepare(PrepareArgs(dataset_name_or_path=str(source), output_dir=str(tmp_path), val_size=2, prompt_type=prompt_type))
    model = tiny_assets / "model"
    tokenizer = AutoTokenizer.from_pretrained(model)
    data_config = OmegaConf.create({"prompt_key": "prompt", "max_prompt_length": 1024, "filter_overlong_prompts": True,
                                    "cache_dir": str(tmp_path / "cache"), "filter_overlong_prompts_workers": 1})
    dataset = RLHFDataset(str(tmp_path / "train.parquet"), tokenizer, data_config)
    # verl 0.9's agent loop tokenizes the dataset's raw_prompt with its Continuous Token builder
    builder = create_continuous_token_builder(tokenizer, hf_model_type=AutoConfig.from_pretrained(model).model_type)
    problems = {str(p["idx"]): p["problem"] for p in load_prompts(str(source))}
    assert len(dataset) == len(problems) - 2
    for i in range(len(dataset)):
        item = dataset[i]
        problem = problems[item["extra_info"]["idx"]]
        sampler_ids = encode_prompts(tokenizer, [render_prompt(tokenizer, problem, prompt_type)])[0]
        assert builder.build_initial_tokens(list(item["raw_prompt"])) == sampler_ids
        assert item["index"] == i and item["reward_model"]["ground_truth"]


@needs_verl
@pytest.mark.filterwarnings("ignore:Disabled critic")  # verl's note that GRPO runs without a critic
def test_scripts_compose_the_originals_settings_in_verl(verl_data, tiny_model_dir):
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    ppo = verl_config("run_ppo.sh", verl_data, tiny_model_dir)
    grpo = verl_config("run_grpo.sh", verl_data, tiny_model_dir, "trainer.total_epochs=1")
    for config in (ppo, grpo):
        data, actor, rollout = config.data, config.actor_rollout_ref.actor, config.actor_rollout_ref.rollout
        assert (data.train_batch_size, data.max_prompt_length, data.max_response_length) == (1024, 1024, 4000)
        assert (actor.optim.lr, actor.ppo_mini_batch_size, actor.ppo_micro_batch_size_per_gpu) == (1e-6, 256, 4)
        assert (rollout.name, rollout.tensor_model_parallel_size, rollout.gpu_memory_utilization) == ("vllm", 2, 0.6)
        assert (config.trainer.n_gpus_per_node, config.trainer.nnodes) == (8, 1)
        assert config.reward.custom_reward_function.path == str(REPO / "ppo_training/reward.py")
        assert dict(config.reward.custom_reward_function.reward_kwargs) == {
            k: v for k, v in ZERO_ONE.items() if k != "reward_correct"}
        assert need_reference_policy(config)
        validate_config(config, use_reference_policy=True, use_critic=need_critic(config))
    assert need_critic(ppo) and not need_critic(grpo)
    assert (ppo.algorithm.adv_estimator, ppo.algorithm.use_kl_in_reward, ppo.algorithm.kl_ctrl.kl_coef) == ("gae", True, 0.001)
    assert (ppo.critic.optim.lr, ppo.critic.model.path, ppo.actor_rollout_ref.rollout.n) == (1e-5, str(tiny_model_dir), 1)
    assert (grpo.algorithm.adv_estimator, grpo.actor_rollout_ref.rollout.n, grpo.algorithm.use_kl_in_reward) == ("grpo", 8, False)
    assert grpo.actor_rollout_ref.actor.use_kl_loss and grpo.actor_rollout_ref.actor.kl_loss_coef == 0.001
    assert grpo.trainer.total_epochs == 1 and ppo.trainer.total_epochs == 15  # extra arguments are overrides


def hf_attention(model_config) -> str:
    """The attention kernel verl's model config (verl.workers.config.HFModelConfig) asks transformers for."""
    from verl.utils.config import omega_conf_to_dataclass
    from verl.workers.config import HFModelConfig

    return omega_conf_to_dataclass(model_config, dataclass_type=HFModelConfig).hf_config._attn_implementation


@needs_verl
def test_scripts_need_no_flash_attn_fit_80gb_and_prune_checkpoints(verl_data, tiny_model_dir):
    ppo = verl_config("run_ppo.sh", verl_data, tiny_model_dir)
    grpo = verl_config("run_grpo.sh", verl_data, tiny_model_dir)
    for model in (ppo.actor_rollout_ref.model, ppo.critic.model, grpo.actor_rollout_ref.model):
        assert hf_attention(model) == "sdpa" and model.use_remove_padding is False
    del ppo.actor_rollout_ref.model.override_config.attn_implementation
    assert hf_attention(ppo.actor_rollout_ref.model) == "flash_attention_2"  # verl's default, without the override
    # a later plain key=value still wins over the scripts' ++ overrides
    eager = verl_config("run_grpo.sh", verl_data, tiny_model_dir, "actor_rollout_ref.model.override_config.attn_implementation=eager")
    assert hf_attention(eager.actor_rollout_ref.model) == "eager"

    for config in (ppo, grpo):
        actor = config.actor_rollout_ref.actor
        assert (actor.fsdp_config.param_offload, actor.fsdp_config.optimizer_offload) == (False, True)
        assert list(actor.checkpoint.save_contents) == ["model", "optimizer", "extra"]
        assert (config.trainer.max_actor_ckpt_to_keep, config.trainer.max_critic_ckpt_to_keep) == (2, 1)
        assert config.actor_rollout_ref.rollout.max_model_len is None  # verl: the model's max_position_embeddings
    assert (ppo.critic.fsdp.param_offload, ppo.critic.fsdp.optimizer_offload) == (False, True)
    assert list(ppo.critic.checkpoint.save_contents) == ["model", "optimizer", "extra"]
    # verl loads the critic with flash_attention_2 whatever its config says; run_ppo.sh has it import our loader
    assert ppo.critic.model.external_lib == "ppo_training.critic_attention"
    more_memory = verl_config("run_ppo.sh", verl_data, tiny_model_dir, "actor_rollout_ref.actor.fsdp_config.optimizer_offload=False",
                              "critic.fsdp.optimizer_offload=False")  # the README's line for larger GPUs
    assert not more_memory.actor_rollout_ref.actor.fsdp_config.optimizer_offload and not more_memory.critic.fsdp.optimizer_offload


@needs_verl
def test_the_critic_loads_with_the_configs_attention(verl_data, tiny_model_dir):
    """verl's engine sets num_labels=1 on the critic's config and calls verl.utils.model.load_valuehead_model,
    which asks transformers for flash_attention_2 (verl 0.9.1); after run_ppo.sh's external_lib it is sdpa."""
    import torch
    import verl.utils.model
    from verl.utils.config import omega_conf_to_dataclass
    from verl.workers.config import HFModelConfig

    critic = omega_conf_to_dataclass(verl_config("run_ppo.sh", verl_data, tiny_model_dir).critic.model,
                                     dataclass_type=HFModelConfig)  # imports external_lib, as the workers do
    from ppo_training import critic_attention

    critic.hf_config.num_labels = 1
    if importlib.util.find_spec("flash_attn") is None:
        with pytest.raises((ImportError, RuntimeError)):  # flash-attn missing (or TRL, for verl's fallback)
            critic_attention.verl_load_valuehead_model(critic.local_path, torch.float32, critic.hf_config, False)
    model = verl.utils.model.load_valuehead_model(critic.local_path, torch.float32, critic.hf_config, False)
    assert model.config._attn_implementation == "sdpa" and model.score.out_features == 1
    values = model(input_ids=torch.tensor([[1, 2, 3]]), attention_mask=torch.ones(1, 3, dtype=torch.long)).logits
    assert values.shape == (1, 3, 1)  # one value per token, as verl's critic reads it


def test_flash_attention_is_refused_where_flash_attn_is_missing(tmp_path):
    if importlib.util.find_spec("flash_attn") is not None:
        pytest.skip("flash-attn is installed here")
    for split in ("train", "val"):
        (tmp_path / f"{split}.parquet").touch()
    for attention, message in (("flash_attention_2", "ATTENTION=flash_attention_2 needs the flash-attn package"),
                               ("flash", "ATTENTION must be sdpa or flash_attention_2, got 'flash'")):
        out = subprocess.run(["bash", str(REPO / "ppo_training/run_ppo.sh")], capture_output=True, text=True,
                             env={**os.environ, "VERL_PYTHON": sys.executable, "DATA_DIR": str(tmp_path),
                                  "ATTENTION": attention})
        assert out.returncode != 0
        assert (message in out.stderr) if HAS_VERL else ("cannot import verl" in out.stderr)


def response_batch(tokenizer, responses: list[str], gts: list[str]):
    """A verl DataProto as the rollout hands it to the reward: left-padded prompts, right-padded responses."""
    import numpy as np
    import torch
    from verl import DataProto

    prompt = tokenizer("Compute 8 + 20.", add_special_tokens=False)["input_ids"]
    encoded = [tokenizer(r, add_special_tokens=False)["input_ids"] for r in responses]
    width = max(map(len, encoded)) + 3
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    prompts = torch.tensor([[pad] * 2 + prompt] * len(responses))
    resp = torch.tensor([ids + [pad] * (width - len(ids)) for ids in encoded])
    mask = torch.tensor([[0] * 2 + [1] * len(prompt) + [1] * len(ids) + [0] * (width - len(ids)) for ids in encoded])
    objects = lambda values: np.array(values, dtype=object)  # noqa: E731
    return DataProto.from_dict(
        tensors={"prompts": prompts, "responses": resp, "attention_mask": mask, "input_ids": torch.cat([prompts, resp], 1)},
        non_tensors={"data_source": objects(["arith"] * len(gts)), "extra_info": objects([{} for _ in gts]),
                     "reward_model": objects([{"style": "rule", "ground_truth": g} for g in gts])},
    ), [len(ids) for ids in encoded]


@needs_verl
@pytest.mark.parametrize("policy", ["zero_one", "recipe"])
def test_verls_reward_loop_scores_through_reward_py(verl_data, tiny_model_dir, policy):
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    env = {} if policy == "zero_one" else {"REWARD_POLICY": "recipe", "REWARD_WRONG": "-0.5", "REWARD_NO_BOX": "-1.0"}
    config = verl_config("run_ppo.sh", verl_data, tiny_model_dir, **env)
    worker = RewardLoopWorker(config)  # the trainer's reward path: load_reward_manager + our compute_score
    data, _ = response_batch(worker.input_tokenizer, [r[0] for r in RESPONSES], [r[1] for r in RESPONSES])
    for r in RESPONSES:  # the tiny tokenizer must round-trip the responses for the expected rewards to hold
        assert worker.input_tokenizer.decode(worker.input_tokenizer(r[0])["input_ids"]) == r[0]
    outputs = worker.loop.run_until_complete(worker.compute_score_batch(data))
    column = 2 if policy == "zero_one" else 3
    assert [o["reward_score"] for o in outputs] == [r[column] for r in RESPONSES]
    assert [o["reward_extra_info"]["acc"] for o in outputs] == [r[4] for r in RESPONSES]


@needs_verl
def test_verls_reward_loop_survives_a_hanging_comparison(verl_data, tiny_model_dir, hanging_grader):
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    config = verl_config("run_ppo.sh", verl_data, tiny_model_dir)
    config.reward.custom_reward_function.reward_kwargs.timeout = 0.5
    worker = RewardLoopWorker(config)
    data, _ = response_batch(worker.input_tokenizer, [HANGING[0], r"\boxed{3}", HANGING[0]], [HANGING[1], "3", HANGING[1]])
    outputs = worker.loop.run_until_complete(worker.compute_score_batch(data))
    assert [o["reward_extra_info"]["timed_out"] for o in outputs] == [1.0, 0.0, 1.0]
    assert [o["reward_score"] for o in outputs] == [0.0, 1.0, 0.0]


@needs_verl
def test_verls_batch_reward_manager_scores_through_the_batch_form(verl_data, tiny_model_dir):
    from transformers import AutoTokenizer
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.workers.reward_manager import BatchRewardManager

    config = verl_config("run_ppo.sh", verl_data, tiny_model_dir)
    config.reward.custom_reward_function.name = "compute_score_batch"
    config.reward.custom_reward_function.reward_kwargs.num_workers = 2

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    manager = BatchRewardManager(tokenizer, num_examine=0, compute_score=get_custom_reward_fn(config))
    data, lengths = response_batch(tokenizer, [r[0] for r in RESPONSES], [r[1] for r in RESPONSES])
    out = manager(data, return_dict=True)
    rewards = out["reward_tensor"]
    assert [rewards[i, n - 1].item() for i, n in enumerate(lengths)] == [r[2] for r in RESPONSES]
    assert rewards.sum().item() == sum(r[2] for r in RESPONSES)  # nothing but the last response token
    assert out["reward_extra_info"]["acc"] == [r[4] for r in RESPONSES]


@needs_verl
def test_the_documented_model_merger_command_exists():
    out = subprocess.run([sys.executable, "-m", "verl.model_merger", "merge", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert all(flag in out.stdout for flag in ("--backend {fsdp,megatron}", "--local_dir", "--target_dir"))


@needs_verl
@pytest.mark.gpu
def test_grpo_two_steps_on_the_tiny_model(verl_data, tiny_model_dir, tmp_path):
    """GRPO for 2 steps through run_grpo.sh on one GPU (vLLM rollout, FSDP actor with the scripts' default sdpa
    attention, so no flash-attn), rewards from reward.py.

    Needs .venv-verl built on a GPU machine (requirements_verl_gpu.txt). Not run yet: no GPU was available.
    """
    overrides = [
        "data.train_batch_size=4", "data.max_prompt_length=128", "data.max_response_length=32",
        "actor_rollout_ref.actor.ppo_mini_batch_size=4", "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=2",
        "actor_rollout_ref.rollout.tensor_model_parallel_size=1", "actor_rollout_ref.rollout.n=2",
        "actor_rollout_ref.rollout.gpu_memory_utilization=0.3", "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=4",
        "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=4",
        "trainer.total_training_steps=2", "trainer.logger=[console]", "trainer.save_freq=-1", "trainer.test_freq=-1",
        "trainer.val_before_train=False", f"trainer.default_local_dir={tmp_path}/ckpt", "reward.num_workers=1",
    ]
    env = {**os.environ, "VERL_PYTHON": sys.executable, "DATA_DIR": str(verl_data), "MODEL": str(tiny_model_dir),
           "GPUS_PER_NODE": "1", "WANDB_MODE": "disabled"}
    out = subprocess.run(["bash", str(REPO / "ppo_training/run_grpo.sh"), *overrides], capture_output=True, text=True,
                         env=env, timeout=1200)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "training/global_step:2" in out.stdout
