"""Sample K responses per prompt for shard i of w, and write them as one SAMPLES JSONL file per shard.

    python generation/sample.py --model_name_or_path runs/demo/assets/model \\
        --dataset_name_or_path runs/demo/assets/task/iter_1.jsonl --output_dir runs/demo/iter_1/shards \\
        --K 8 --temperature 1.0 --max_new_tokens 128 --seed 42 --local_index 0 --my_world_size 1 --engine hf

Prompts come from a local .jsonl, .json or .parquet file, or anything ``datasets.load_dataset`` opens (a Hub name,
a local dataset folder) with ``--split``; each becomes a PROMPTS record (``idx``, ``problem``, ``gt``,
other keys carried along; ``idx`` is the row number where the data has none) and is rendered by
common.prompts.render_prompt. Shard i of w takes rows i, i+w, i+2w, ... (nothing is dropped) and writes
``<output_dir>/shard_<i>_of_<w>.jsonl`` atomically; when that file is already complete the run does
nothing. generation/merge.py joins the shards.

A prompt whose tokens reach the context length (``--max_model_len``, else the model's
``max_position_embeddings``) leaves no room to generate, and one such prompt makes vLLM fail the whole
batch, so it is not sent: its record is written with empty lists and ``"dropped": "prompt_too_long"``
(plus ``prompt_tokens`` and ``context_length``), a warning names it, and labeling counts it under
``no_responses``. Nothing is lost unaccounted for.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from common.config import ConfigError, run_cli
from common.paths import DATA, MODEL, OUTPUT_DIR
from common.prompt_sets import load_prompts
from common.prompts import INSTRUCTION, PROMPT_TYPES, check_prompt_type, render_prompt
from common.records import (
    DROPPED,
    PROMPT_TOO_LONG,
    SAMPLES,
    read_records,
    write_jsonl,
)
from generation.engines import (
    ENGINES,
    Engine,
    SamplingSpec,
    check_engine,
    check_engine_installed,
    encode_prompts,
    end_of_turn_token,
    make_engine,
)

logger = logging.getLogger(__name__)

SHOWN = 10  # at most this many dropped idx are named in a log line


@dataclass
class SampleArgs:
    PATHS: ClassVar[dict[str, str]] = {
        "model_name_or_path": MODEL, "dataset_name_or_path": DATA, "output_dir": OUTPUT_DIR,
    }

    model_name_or_path: str = field(metadata={"help": "model to sample from (local folder or Hub name)"})
    dataset_name_or_path: str = field(
        metadata={"help": "prompts: a .jsonl/.parquet file, or a dataset name or folder for datasets.load_dataset"}
    )
    output_dir: str = field(metadata={"help": "folder for shard_<i>_of_<w>.jsonl"})
    K: int = field(default=8, metadata={"help": "responses sampled per prompt"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature; 0 = greedy"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling mass"})
    max_new_tokens: int = field(
        default=4096, metadata={"help": "most tokens generated per response (the original's gen_hf.py: 4096)"}
    )
    seed: int = field(default=42, metadata={"help": "seed of every engine's sampling"})
    local_index: int = field(default=0, metadata={"help": "this shard's index i, 0 <= i < my_world_size"})
    my_world_size: int = field(default=1, metadata={"help": "number of shards w"})
    engine: str = field(default="auto", metadata={"help": f"one of {ENGINES}; auto = vllm with a GPU, else hf"})
    dataset_key: str = field(default="problem", metadata={"help": "field of the data holding the problem"})
    answer_key: str = field(default="gt", metadata={"help": "field of the data holding the reference answer"})
    split: str = field(default="train", metadata={"help": "split to load when datasets.load_dataset is used"})
    prompt_type: str = field(
        default="online-dpo-r1",
        metadata={"help": f"prompt format, one of {PROMPT_TYPES}; online-dpo-r1 is the recipe's (evaluate.py's "
                          "default too: a model is evaluated on the prompt it was trained on)"},
    )
    instruction: str = field(
        default=INSTRUCTION, metadata={"help": "instruction appended to each problem (chat and raw prompts only)"}
    )
    stop: list[str] = field(default_factory=list, metadata={"help": "extra stop strings (besides eos)"})
    eos_ids: list[int] = field(default_factory=list, metadata={"help": "extra stop token ids (Online-DPO-R1's flag)"})
    stop_at_end_of_turn: bool = field(
        default=True,
        metadata={"help": "chat prompts also stop at the template's end-of-turn token (<|im_end|>): a base model "
                          "whose eos is another token (Qwen2.5-Math-7B: <|endoftext|>) writes on past the end of "
                          "its turn, inventing the next one; false stops at the model's eos only, as the original "
                          "recipe's gen_hf.py (the 7B recipe configs)"},
    )
    batch_size: int = field(default=16, metadata={"help": "hf engine: prompts per generate call (each x K)"})
    dtype: str = field(default="auto", metadata={"help": "model dtype: auto, bfloat16, float16, float32"})
    tensor_parallel_size: int = field(default=1, metadata={"help": "vllm engine: GPUs per model replica"})
    gpu_memory_utilization: float = field(default=0.9, metadata={"help": "vllm engine: share of GPU memory"})
    max_model_len: int | None = field(
        default=None,
        metadata={"help": "context length: vLLM's max_model_len, and prompts this long or longer are dropped "
                          "(default: the model's max_position_embeddings)"},
    )

    def __post_init__(self):
        if self.my_world_size < 1 or not 0 <= self.local_index < self.my_world_size:
            raise ConfigError(
                f"need 0 <= local_index < my_world_size, got local_index={self.local_index}, "
                f"my_world_size={self.my_world_size}"
            )
        check_engine(self.engine)
        check_prompt_type(self.prompt_type)
        if not 0 < self.gpu_memory_utilization <= 1:
            raise ConfigError(f"gpu_memory_utilization must be in (0, 1], got {self.gpu_memory_utilization}")
        self.sampling()  # K, temperature, top_p, max_new_tokens, stop: checked before any model loads

    def stops(self, tokenizer) -> list[str]:
        """The stop strings: ``stop``, and for chat prompts with ``stop_at_end_of_turn`` the template's
        end-of-turn token (the engines also stop at the model's eos ids)."""
        stop = list(self.stop)
        if self.stop_at_end_of_turn and self.prompt_type != "raw":
            end_token = end_of_turn_token(tokenizer)
            if end_token is not None and end_token not in stop:
                logger.info("stopping also at the chat template's end-of-turn token %r", end_token)
                stop.append(end_token)
        return stop

    def sampling(self, stop: list[str] | None = None) -> SamplingSpec:
        return SamplingSpec(
            n=self.K, temperature=self.temperature, top_p=self.top_p, max_new_tokens=self.max_new_tokens,
            seed=self.seed, stop=list(self.stop if stop is None else stop), stop_token_ids=list(self.eos_ids),
        )


def shard_positions(num_prompts: int, index: int, world_size: int) -> range:
    """Shard ``index`` of ``world_size`` takes positions index, index+w, ...: every prompt lands in one shard."""
    return range(index, num_prompts, world_size)


def shard_path(output_dir: str | Path, index: int, world_size: int) -> Path:
    return Path(output_dir) / f"shard_{index}_of_{world_size}.jsonl"


def shard_is_complete(path: Path, prompts: list[dict], K: int) -> bool:
    """True when ``path`` holds exactly these prompts with K responses each; a different file is an error.

    Writes are atomic, so an existing file is whole; what can differ is its content (another dataset, K
    or world size written into the same folder), and overwriting that silently would hide the mistake.
    """
    if not path.is_file():
        return False
    existing = read_records(path, SAMPLES)
    if [r["idx"] for r in existing] != [p["idx"] for p in prompts] or any(
        len(r["responses"]) != (0 if r.get(DROPPED) else K) for r in existing
    ):
        raise ConfigError(
            f"{path} exists but does not hold this shard's {len(prompts)} prompts x {K} responses "
            f"(it has {len(existing)} records); remove it or choose another --output_dir"
        )
    return True


def remove_stale_temporaries(path: Path) -> None:
    """Delete the temporary files a killed run of this shard left behind (atomic_open's naming)."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        logger.warning("removing %s, left by an interrupted run of this shard", stale)
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()


def context_length(model_name_or_path: str, max_model_len: int | None) -> int | None:
    """The tokens a sequence may hold: ``max_model_len`` if set, else the model's (None: not stated)."""
    if max_model_len is not None:
        return max_model_len
    from transformers import AutoConfig

    return getattr(AutoConfig.from_pretrained(model_name_or_path), "max_position_embeddings", None)


def dropped_record(record: dict, text: str, tokens: int, limit: int) -> dict:
    return {**record, "prompt": text, "responses": [], "finish_reasons": [], "num_tokens": [],
            DROPPED: PROMPT_TOO_LONG, "prompt_tokens": tokens, "context_length": limit}


def sample_records(engine: Engine, prompts: list[dict], sampling: SamplingSpec, prompt_type: str,
                   instruction: str = INSTRUCTION, max_prompt_tokens: int | None = None) -> list[dict]:
    """SAMPLES records: each prompt record plus its rendered ``prompt`` and ``sampling.n`` completions.

    A prompt of ``max_prompt_tokens`` tokens or more is not generated for; its record says so (see above).
    """
    texts = [render_prompt(engine.tokenizer, p["problem"], prompt_type, instruction) for p in prompts]
    lengths = [len(ids) for ids in encode_prompts(engine.tokenizer, texts)]
    fits = [max_prompt_tokens is None or n < max_prompt_tokens for n in lengths]
    too_long = [p["idx"] for p, ok in zip(prompts, fits, strict=True) if not ok]
    if too_long:
        logger.warning(
            "%d of %d prompts are not sampled: %d tokens or more fill the context, leaving nothing to generate "
            "(recorded with \"%s\": \"%s\"); idx %s%s", len(too_long), len(prompts), max_prompt_tokens, DROPPED,
            PROMPT_TOO_LONG, ", ".join(map(repr, too_long[:SHOWN])), " ..." if len(too_long) > SHOWN else "",
        )
    kept = [t for t, ok in zip(texts, fits, strict=True) if ok]
    completions = iter(engine.generate(kept, sampling) if kept else [])
    records = []
    for record, text, n, ok in zip(prompts, texts, lengths, fits, strict=True):
        if not ok:
            records.append(dropped_record(record, text, n, max_prompt_tokens))
            continue
        outs = next(completions)
        records.append({**record, "prompt": text, "responses": [c.text for c in outs],
                        "finish_reasons": [c.finish_reason for c in outs], "num_tokens": [c.num_tokens for c in outs]})
    return records


def main(args: SampleArgs) -> None:
    check_engine_installed(args.engine)
    path = shard_path(args.output_dir, args.local_index, args.my_world_size)
    prompts = load_prompts(args.dataset_name_or_path, args.split, args.dataset_key, args.answer_key)
    mine = [prompts[i] for i in shard_positions(len(prompts), args.local_index, args.my_world_size)]
    if shard_is_complete(path, mine, args.K):
        logger.info("%s is already complete (%d prompts); nothing to do", path, len(mine))
        return
    remove_stale_temporaries(path)
    if not mine:  # more shards than prompts: an empty shard, and no model to load for it
        write_jsonl(path, [])
        logger.info("wrote %s: no prompts fall in shard %d of %d", path, args.local_index, args.my_world_size)
        return
    engine = make_engine(
        args.engine, args.model_name_or_path, batch_size=args.batch_size, dtype=args.dtype, seed=args.seed,
        tensor_parallel_size=args.tensor_parallel_size, gpu_memory_utilization=args.gpu_memory_utilization,
        max_model_len=args.max_model_len,
    )
    sampling = args.sampling(args.stops(engine.tokenizer))
    logger.info("shard %d of %d: %d of %d prompts x %d samples", args.local_index, args.my_world_size,
                len(mine), len(prompts), args.K)
    start = time.perf_counter()
    limit = context_length(args.model_name_or_path, args.max_model_len)
    samples = sample_records(engine, mine, sampling, args.prompt_type, args.instruction, limit)
    seconds = max(time.perf_counter() - start, 1e-9)
    write_jsonl(path, samples)
    tokens = sum(sum(s["num_tokens"]) for s in samples)
    logger.info("wrote %s: %d prompts, %d tokens in %.1f s (%.2f prompts/s, %.0f tokens/s)",
                path, len(samples), tokens, seconds, len(samples) / seconds, tokens / seconds)


if __name__ == "__main__":
    run_cli(main, [SampleArgs])
