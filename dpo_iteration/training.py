"""What dpo.py and sft.py share: checks made before any model loads, loading, tokenising, saving.

The trained model appears at ``output_dir`` only when it is complete: training runs in
``<output_dir>.partial`` and that directory is renamed onto ``output_dir`` after the last file is written,
so a directory that exists at ``output_dir`` is a finished model (safetensors, tokenizer, generation
config, ``train_log.json``) that ``generation/sample.py`` and ``eval_math`` load directly. A run that
fails removes ``.partial`` unless it holds a ``checkpoint-*`` (the config saves them with
``save_strategy: steps``) to resume from; a killed run leaves it, and the next run starts it afresh or
resumes from its last checkpoint.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from common.config import ConfigError
from common.paths import INPUT, MODEL, OUTPUT_DIR
from common.records import RecordError, Schema, check_record, iter_jsonl, write_json

logger = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".partial"
TRAIN_LOG = "train_log.json"
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class ModelDataArgs:
    """The arguments both trainers take besides TRL's own config."""

    PATHS: ClassVar[dict[str, str]] = {"model_name_or_path": MODEL, "train_file": INPUT}

    model_name_or_path: str | None = field(
        default=None, metadata={"help": "the model to train (a local directory or a Hub id); also the tokenizer"}
    )
    train_file: str | None = field(default=None, metadata={"help": "the training records (JSONL, common/records.py)"})
    dtype: str = field(
        default="auto",
        metadata={
            "help": f"dtype the weights load in, one of {DTYPES}. auto: bfloat16 under DeepSpeed with bf16 (DeepSpeed "
            "keeps fp32 master weights), else float32 (bf16 mixed precision autocasts; bf16 weights would round "
            "updates of lr 5e-7 away)"
        },
    )
    attn_implementation: str | None = field(
        default=None, metadata={"help": "attention kernel (sdpa, flash_attention_2, eager); default: transformers'"}
    )

    def __post_init__(self):
        if not self.model_name_or_path:
            raise ConfigError("model_name_or_path is required")
        if not self.train_file:
            raise ConfigError("train_file is required (a JSONL file of training records)")
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")


@dataclass
class GlobalBatchArgs:
    """The batch over all processes, a field of both trainers' configs (DPOTrainConfig, SFTTrainConfig)."""

    PATHS: ClassVar[dict[str, str]] = {"output_dir": OUTPUT_DIR}  # TRL's field: where the model is written

    global_batch_size: int | None = field(
        default=None,
        metadata={
            "help": "records (DPO: pairs) per optimizer step over all processes. gradient_accumulation_steps is "
            "derived from it: global_batch_size / (per_device_train_batch_size x processes), so the batch is the "
            "same on 1, 2 or 4 nodes. null: gradient_accumulation_steps as given, and the batch grows with the "
            "processes"
        },
    )


def world_size() -> int:
    """The processes of this launch: WORLD_SIZE, which accelerate launch and torchrun give each of them."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def derive_gradient_accumulation(config) -> None:
    """Set ``gradient_accumulation_steps`` from ``global_batch_size`` and the launch's world size.

    The Trainer steps the optimizer every per_device_train_batch_size x processes x
    gradient_accumulation_steps records. A gradient_accumulation_steps other than 1 that disagrees is an
    error rather than overridden.
    """
    if config.global_batch_size is None:
        return
    if config.global_batch_size < 1:
        raise ConfigError(f"global_batch_size must be >= 1 or null, got {config.global_batch_size}")
    processes = world_size()
    per_device = config.per_device_train_batch_size
    per_pass = per_device * processes
    if config.global_batch_size % per_pass:
        raise ConfigError(
            f"global_batch_size {config.global_batch_size} is not a multiple of per_device_train_batch_size "
            f"{per_device} x {processes} processes = {per_pass}; choose a global_batch_size or "
            "per_device_train_batch_size that divides it"
        )
    steps = config.global_batch_size // per_pass
    if config.gradient_accumulation_steps not in (1, steps):
        raise ConfigError(
            f"gradient_accumulation_steps {config.gradient_accumulation_steps} contradicts global_batch_size "
            f"{config.global_batch_size}, which on {processes} processes x {per_device} per device needs {steps}; "
            "set one of them (global_batch_size: null to choose the accumulation by hand)"
        )
    config.gradient_accumulation_steps = steps
    logger.info("global batch %d = %d per device x %d processes x %d accumulation steps", config.global_batch_size,
                per_device, processes, steps)


def has_accelerator() -> bool:
    import torch

    return torch.accelerator.is_available()


def bf16_available() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def check_training_config(config) -> None:
    """Checks and defaults that TRL's configs leave to run time; call at the top of their __post_init__.

    bf16 left unset means "where the hardware has it": on, as TRL defaults, on a bf16 GPU, and off on CPU,
    where TRL's default would fail. Setting it explicitly is obeyed. Several processes on a machine with
    no GPU get use_cpu, which is what makes them one gloo process group.
    """
    if not config.use_cpu and not has_accelerator() and world_size() > 1:
        # without it each of N launched CPU processes would train alone instead of joining one gloo group
        config.use_cpu = True
        logger.info("no GPU: use_cpu set, so the %d processes train together over gloo", world_size())
    if config.bf16 is None and not config.fp16:
        config.bf16 = bf16_available() and not config.use_cpu
        logger.info("bf16 not set: %s (%s)", config.bf16, "bf16 GPU" if config.bf16 else "no bf16 GPU")
    if config.learning_rate <= 0:
        raise ConfigError(f"learning_rate must be > 0, got {config.learning_rate}")
    derive_gradient_accumulation(config)
    if config.output_dir is None:
        raise ConfigError("output_dir is required: where the trained model is written")
    final = Path(config.output_dir)
    if final.is_dir() and any(final.iterdir()):  # a file there is the CLI's check (common/paths.py)
        raise ConfigError(f"output_dir {final} already holds a model; delete it or choose another to train again")
    report_to = [config.report_to] if isinstance(config.report_to, str) else config.report_to or []
    wandb = "wandb" in report_to or "all" in report_to
    if wandb and not (os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE")):
        # wandb would prompt for a login; a run that is not given a key logs offline (`wandb sync` later)
        os.environ["WANDB_MODE"] = "offline"
        logger.info("report_to wandb without WANDB_API_KEY or WANDB_MODE: logging offline")


def check_deepspeed_saves_weights(config) -> None:
    """ZeRO-3 shards the weights; without gathering them on save the output would hold no model."""
    plugin = config.deepspeed_plugin
    if plugin is None or plugin.zero_stage != 3:
        return
    zero = plugin.deepspeed_config.get("zero_optimization", {})
    gather = zero.get("stage3_gather_16bit_weights_on_model_save", plugin.zero3_save_16bit_model)
    if gather in (False, "false"):
        raise ConfigError(
            "DeepSpeed ZeRO-3 without zero3_save_16bit_model: true would save no weights; set it in the accelerate "
            "config (configs/accelerate/zero3.yaml does)"
        )


def weights_dtype(name: str, config):
    import torch

    if name != "auto":
        return getattr(torch, name)
    if config.deepspeed_plugin is not None and (config.bf16 or config.fp16):
        return torch.bfloat16 if config.bf16 else torch.float16
    return torch.float32


def load_model(path: str, args: ModelDataArgs, config):
    """A causal LM in the dtype ``args.dtype`` resolves to; the policy and the reference both load here."""
    from transformers import AutoModelForCausalLM

    kwargs = {"dtype": weights_dtype(args.dtype, config)}
    if args.attn_implementation:
        kwargs["attn_implementation"] = args.attn_implementation
    logger.info("loading %s (%s)", path, kwargs)
    return AutoModelForCausalLM.from_pretrained(path, **kwargs)


def load_tokenizer(path: str, eos_token: str | None = None):
    """The model's tokenizer; ``eos_token`` (a token of its vocabulary) replaces its eos when given."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if eos_token is not None and eos_token != tokenizer.eos_token:
        if eos_token not in tokenizer.get_vocab():
            raise ConfigError(f"eos_token {eos_token!r} is not a token of {path}'s tokenizer")
        logger.info("eos token: %r instead of %r", eos_token, tokenizer.eos_token)
        tokenizer.eos_token = eos_token
    if tokenizer.eos_token_id is None:
        raise ConfigError(f"{path}'s tokenizer has no eos token; set eos_token")
    return tokenizer


def stop_at_eos(model, tokenizer) -> None:
    """Make the saved model's configs stop generation at the eos training appended (kept with any others)."""
    eos_id = tokenizer.eos_token_id
    model.config.eos_token_id = eos_id
    stops = model.generation_config.eos_token_id
    stops = [] if stops is None else [stops] if isinstance(stops, int) else list(stops)
    if eos_id not in stops:
        model.generation_config.eos_token_id = [eos_id, *stops]


def read_text_records(path: str | os.PathLike, schema: Schema, text_keys: tuple[str, ...]) -> list[dict]:
    """The records of ``path``, each checked against ``schema`` and with a string under every ``text_keys``."""
    records = []
    for line, value in iter_jsonl(path):
        record = check_record(value, schema, path, line)
        for key in text_keys:
            if not isinstance(record[key], str):
                raise RecordError(path, line, f"{key!r} must be a string, got {type(record[key]).__name__}")
        records.append(record)
    if not records:
        raise ConfigError(f"{path}: no {schema.name} records to train on")
    return records


def encode(tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids of each text alone, with no special tokens added.

    Prompts are rendered chat templates that already hold whatever BOS the template wants, and generation
    tokenised them the same way, so adding a BOS here would train on a context the sampler never saw.
    """
    return tokenizer(list(texts), add_special_tokens=False)["input_ids"]


def response_ids(tokenizer, responses: list[str]) -> list[list[int]]:
    """Each response's ids followed by exactly one eos (a response that already ends in the eos text keeps one)."""
    eos = tokenizer.eos_token
    ids = encode(tokenizer, [response.removesuffix(eos) for response in responses])
    return [row + [tokenizer.eos_token_id] for row in ids]


def partial_dir(output_dir: str | os.PathLike) -> Path:
    final = Path(output_dir)
    return final.with_name(final.name + PARTIAL_SUFFIX)


def start_partial_dir(config) -> str | None:
    """Point the trainer at ``<output_dir>.partial``; return the checkpoint to resume from, if any.

    Run by every process under ``main_process_first`` so rank 0 clears a stale directory before the
    others look at it.
    """
    from transformers.trainer_utils import get_last_checkpoint

    final = Path(config.output_dir)
    staging = partial_dir(final)
    checkpoint = get_last_checkpoint(str(staging)) if staging.is_dir() else None
    if checkpoint is None and staging.exists() and config.process_index == 0:
        logger.info("removing the unfinished %s of an earlier run", staging)
        shutil.rmtree(staging)
    staging.mkdir(parents=True, exist_ok=True)
    config.output_dir = str(staging)
    if checkpoint is not None:
        logger.info("resuming from %s", checkpoint)
    return checkpoint


def cached_dataset(columns: dict[str, list], cache_dir: Path, key: str):
    """``columns`` as a Dataset backed by an Arrow file in ``cache_dir``, which every process reads.

    TRL writes precomputed reference log-probs beside the dataset's files and every rank reads them back,
    so the dataset must live on disk that all ranks share (an in-memory one gets a random per-process
    path). ``key`` names the content (input file, tokenizer, settings), so a resumed run reuses it.
    Call under ``main_process_first``: the first process writes it, the others load it.
    """
    from datasets import Dataset, load_from_disk

    path = cache_dir / f"dataset-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    if not (path / "state.json").is_file():
        Dataset.from_dict(columns).save_to_disk(str(path))
    return load_from_disk(str(path))


def file_digest(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def train_and_save(trainer, final_dir: str | os.PathLike, checkpoint: str | None, log: dict) -> dict:
    """Train, save the model into the partial directory, then rename it onto ``final_dir``.

    Every process calls ``save_model`` (ZeRO-3 gathers the 16-bit weights from all ranks); rank 0 removes
    checkpoints and caches, writes ``train_log.json`` last, and renames.
    """
    result = trainer.train(resume_from_checkpoint=checkpoint)
    staging = Path(trainer.args.output_dir)
    trainer.model.config.use_cache = True  # training turned the KV cache off; the saved model is for generation
    trainer.save_model(str(staging))
    if trainer.is_world_process_zero():
        for path in staging.iterdir():
            if path.is_dir() and (path.name.startswith("checkpoint-") or path.name == "cache"):
                shutil.rmtree(path)
        # the Trainer's pickled arguments: train_log.json records the run in JSON
        (staging / "training_args.bin").unlink(missing_ok=True)
        write_json(
            staging / TRAIN_LOG,
            {**log, "metrics": result.metrics, "log_history": trainer.state.log_history,
             "trainer_config": trainer.args.to_dict()},
        )
        os.replace(staging, final_dir)
        logger.info("saved the trained model to %s (%s)", final_dir, result.metrics)
    trainer.accelerator.wait_for_everyone()
    return result.metrics


def run_training(build_trainer, args, config) -> dict:
    """The body of dpo.py and sft.py: stage into ``<output_dir>.partial``, build, train, publish."""
    final_dir = config.output_dir
    with config.main_process_first(local=False, desc="output directory"):
        checkpoint = start_partial_dir(config)
    try:
        trainer, facts = build_trainer(args, config)
        return train_and_save(trainer, final_dir, checkpoint, facts)
    except BaseException:
        discard_partial_dir(config)
        raise


def discard_partial_dir(config) -> None:
    """After a failure, remove ``<output_dir>.partial`` unless it holds a checkpoint to resume from."""
    from transformers.trainer_utils import get_last_checkpoint

    staging = Path(config.output_dir)
    if config.process_index != 0 or not staging.is_dir():
        return
    if get_last_checkpoint(str(staging)) is not None:
        logger.info("keeping %s: the next run resumes from its last checkpoint", staging)
        return
    shutil.rmtree(staging, ignore_errors=True)
