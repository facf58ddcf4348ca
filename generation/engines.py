"""Text generation engines: vLLM on GPUs, transformers ``generate`` anywhere, one interface for both.

Generation (sample.py) and evaluation (eval_math) sample through this module, so both stop, count and
seed the same way:

    from generation.engines import SamplingSpec, make_engine
    engine = make_engine("auto", "runs/demo/assets/model")
    completions = engine.generate(["1 + 1 = "], SamplingSpec(n=4, max_new_tokens=64, seed=0))

Both engines stop at the model's eos ids (tokenizer and generation config), at ``stop_token_ids`` and at
the ``stop`` strings; a stop string that is one special token of the vocabulary (``<|im_end|>``) becomes
a stop token id, because vLLM matches stop strings on text decoded without special tokens, where it
would never appear. Returned text excludes the eos token and the stop string (vLLM's default);
``num_tokens`` counts every generated token, the one that stopped generation included.

Seeds. ``vllm`` seeds every prompt's request from (seed, prompt text): a prompt gets the same samples
whichever shard or batch it lands in (up to the numerics of batched GPU kernels). ``hf`` seeds torch once
per ``generate`` call; its samples are reproducible for the same (seed, prompts, batch_size), so the
same shard layout gives the same samples, another layout different ones.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import logging
import sys
from dataclasses import dataclass, field
from typing import Any, Protocol

from common.config import ConfigError

logger = logging.getLogger(__name__)

ENGINES = ("auto", "vllm", "hf")


def check_engine(name: str) -> None:
    """ConfigError unless ``name`` is one of ENGINES: the one check of sample.py's, evaluate.py's and
    make_engine's ``engine``."""
    if name not in ENGINES:
        raise ConfigError(f"engine must be one of {ENGINES}, got {name!r}")


FINISH_REASONS = ("stop", "length")


@dataclass
class SamplingSpec:
    """How to sample; ``temperature`` 0 means greedy (then the ``n`` completions are identical)."""

    # No default: each caller passes its stage's own limit (sample.py's max_new_tokens, evaluate.py's
    # max_tokens_per_call), so a third one cannot drift from them.
    max_new_tokens: int
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0
    stop: list[str] = field(default_factory=list)  # extra stop strings besides the eos tokens
    stop_token_ids: list[int] = field(default_factory=list)  # extra stop ids (Online-DPO-R1's --eos_ids)

    def __post_init__(self):
        if self.n < 1:
            raise ConfigError(f"n (samples per prompt) must be >= 1, got {self.n}")
        if self.temperature < 0:
            raise ConfigError(f"temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if any(not s for s in self.stop):
            raise ConfigError("stop strings must be non-empty")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass
class Completion:
    text: str
    finish_reason: str  # "stop" (eos, stop token or stop string) | "length" (max_new_tokens reached)
    num_tokens: int


class Engine(Protocol):
    tokenizer: Any

    def generate(self, prompts: list[str], sampling: SamplingSpec) -> list[list[Completion]]:
        """``sampling.n`` completions for each prompt, in the order of ``prompts``."""
        ...


def prompt_seed(seed: int, prompt: str) -> int:
    """A per-prompt seed that depends only on ``seed`` and the prompt's text (31 bits: any RNG takes it)."""
    digest = hashlib.sha256(f"{seed}\0{prompt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def eos_token_ids(model_name_or_path: str, tokenizer) -> set[int]:
    """The tokenizer's eos id and the generation config's (Qwen2.5 instruct lists two there)."""
    from transformers import GenerationConfig

    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    try:
        config_eos = GenerationConfig.from_pretrained(model_name_or_path).eos_token_id
    except OSError:  # no generation_config.json: the tokenizer's eos is all there is
        config_eos = None
    if config_eos is not None:
        ids.update(config_eos if isinstance(config_eos, list) else [config_eos])
    return ids


def special_tokens(tokenizer) -> dict[str, int]:
    """The special tokens (``<|im_end|>``, ``<|endoftext|>``): decoded text leaves them out."""
    return {token.content: i for i, token in tokenizer.added_tokens_decoder.items() if token.special}


def split_stops(tokenizer, stops: list[str]) -> tuple[set[int], list[str]]:
    """Stop strings that are one special token become ids; the others stay strings."""
    special = special_tokens(tokenizer)
    return {special[s] for s in stops if s in special}, [s for s in stops if s not in special]


def end_of_turn_token(tokenizer) -> str | None:
    """The special token the chat template closes an assistant turn with (``<|im_end|>`` in ChatML), if any.

    A base model prompted with a chat template (Qwen2.5-Math-7B: eos ``<|endoftext|>``) writes the
    end-of-turn token and then goes on with an invented next turn; generation should stop there.
    """
    from jinja2 import TemplateError

    if tokenizer.chat_template is None:
        return None
    probe = "END-OF-TURN-PROBE"
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": probe}]
    try:
        text = tokenizer.apply_chat_template(messages, tokenize=False)
    except (TemplateError, ValueError):  # a template that refuses this conversation names no end token
        return None
    if probe not in text:
        return None
    tail = text.split(probe, 1)[1].lstrip(" ")
    matches = [token for token in special_tokens(tokenizer) if tail.startswith(token)]
    return max(matches, key=len) if matches else None


def encode_prompts(tokenizer, prompts: list[str]) -> list[list[int]]:
    """Token ids of each prompt; a prompt that already starts with the bos token gets no second one."""
    bos = tokenizer.bos_token
    return [tokenizer(p, add_special_tokens=not (bos and p.startswith(bos)))["input_ids"] for p in prompts]


def _repeat_greedy(completions: list[Completion], n: int) -> list[Completion]:
    """Greedy decoding gives one answer; both engines compute it once and repeat it ``n`` times."""
    return [completions[0]] * n


def cut_completion(tokenizer, ids: list[int], stop_ids: set[int], stop_strings: list[str]) -> Completion:
    """One generated row cut at whatever stopped it first: a stop string, a stop id, or the length cap.

    After a row stops, ``generate`` fills it with padding until the whole batch is done; the padding is
    neither text nor counted.
    """
    end = next((pos for pos, token in enumerate(ids) if token in stop_ids), None)
    before_stop_id = ids if end is None else ids[:end]
    text = _decode(tokenizer, before_stop_id)
    cuts = [text.find(s) for s in stop_strings if s in text]
    if cuts:
        # Count tokens up to the one that completed the stop string (as vLLM does): the shortest prefix
        # whose text holds a stop string.
        low, high = 1, len(before_stop_id)
        while low < high:
            mid = (low + high) // 2
            if any(s in _decode(tokenizer, ids[:mid]) for s in stop_strings):
                high = mid
            else:
                low = mid + 1
        return Completion(text[: min(cuts)], "stop", low)
    if end is not None:
        return Completion(text, "stop", end + 1)
    # No stop: the row ran to max_new_tokens (a batch ends early only when every row has stopped).
    return Completion(text, "length", len(ids))


def _decode(tokenizer, ids: list[int]) -> str:
    return tokenizer.decode(ids, skip_special_tokens=True)


class HFEngine:
    """transformers ``generate``: prompts sorted by length, left-padded, ``batch_size`` prompts at a time."""

    def __init__(self, model_name_or_path: str, batch_size: int = 16, dtype: str = "auto",
                 device: str | None = None, progress: bool = True):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if dtype == "auto":  # bf16 where kernels exist for it; CPU matmuls in bf16 are slow
            dtype = "bfloat16" if self.device.startswith("cuda") else "float32"
        tokenizer = AutoTokenizer.from_pretrained(model_name_or_path, padding_side="left")
        model = AutoModelForCausalLM.from_pretrained(model_name_or_path, dtype=getattr(torch, dtype))
        self._attach(model.to(self.device).eval(), tokenizer, eos_token_ids(model_name_or_path, tokenizer),
                     batch_size, progress)

    def _attach(self, model, tokenizer, eos_ids: set[int], batch_size: int, progress: bool) -> None:
        self.tokenizer = tokenizer
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model, self.eos_ids = model, eos_ids
        self.batch_size, self.progress = batch_size, progress

    @classmethod
    def from_model(cls, model, tokenizer, batch_size: int = 16, progress: bool = False) -> HFEngine:
        """An engine over a model already in memory (a trainer's, mid-training), on the model's device.

        It generates with ``model`` as it is (call ``model.eval()`` first); stops are the tokenizer's eos
        and the model's generation config's.
        """
        engine = cls.__new__(cls)
        engine.device = str(model.device)
        stops = model.generation_config.eos_token_id
        stops = set() if stops is None else {stops} if isinstance(stops, int) else set(stops)
        if tokenizer.eos_token_id is not None:
            stops.add(tokenizer.eos_token_id)
        engine._attach(model, tokenizer, stops, batch_size, progress)
        return engine

    def generate(self, prompts: list[str], sampling: SamplingSpec) -> list[list[Completion]]:
        import torch
        from tqdm import tqdm
        from transformers import GenerationConfig

        extra_ids, stop_strings = split_stops(self.tokenizer, sampling.stop)
        stop_ids = self.eos_ids | extra_ids | set(sampling.stop_token_ids)
        per_prompt = 1 if sampling.greedy else sampling.n
        # Every sampling knob is set here, so the model's generation_config.json (Qwen's top_k=20,
        # repetition_penalty=1.05) cannot make this engine sample differently from vLLM.
        knobs = dict(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
        config = GenerationConfig(
            max_new_tokens=sampling.max_new_tokens, num_return_sequences=per_prompt, eos_token_id=sorted(stop_ids),
            pad_token_id=self.tokenizer.pad_token_id, repetition_penalty=1.0,
            stop_strings=stop_strings or None, **({"do_sample": False} if sampling.greedy else knobs),
        )
        encoded = encode_prompts(self.tokenizer, prompts)
        order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))  # longest first: OOM shows early
        results: list[list[Completion]] = [[] for _ in prompts]
        torch.manual_seed(sampling.seed)
        with tqdm(total=len(prompts), unit="prompt", desc="generate", disable=not self.progress) as bar:
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                inputs = self.tokenizer.pad({"input_ids": [encoded[i] for i in batch]}, padding_side="left",
                                            return_tensors="pt")
                with torch.inference_mode():
                    output = self.model.generate(
                        **inputs.to(self.device), generation_config=config,
                        tokenizer=self.tokenizer if stop_strings else None,
                    )
                new_tokens = output[:, inputs["input_ids"].shape[1] :].tolist()
                for row, ids in enumerate(new_tokens):  # rows come per prompt: prompt j has rows j*n..j*n+n-1
                    results[batch[row // per_prompt]].append(cut_completion(self.tokenizer, ids, stop_ids, stop_strings))
                bar.update(len(batch))
        return [_repeat_greedy(r, sampling.n) if sampling.greedy else r for r in results]


class VLLMEngine:
    """vLLM's offline ``LLM``: all prompts in one call, ``n`` samples each, a seed per prompt."""

    def __init__(self, model_name_or_path: str, tensor_parallel_size: int = 1, gpu_memory_utilization: float = 0.9,
                 seed: int = 0, dtype: str = "auto", max_model_len: int | None = None, progress: bool = True):
        from transformers import AutoTokenizer
        from vllm import LLM

        # The same tokenizer object as the hf engine, so prompts are rendered and encoded identically.
        self.tokenizer = AutoTokenizer.from_pretrained(model_name_or_path)
        self.eos_ids = eos_token_ids(model_name_or_path, self.tokenizer)
        self.llm = LLM(
            model=model_name_or_path, tokenizer=model_name_or_path, tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization, seed=seed, dtype=dtype, max_model_len=max_model_len,
        )
        self.progress = progress

    def generate(self, prompts: list[str], sampling: SamplingSpec) -> list[list[Completion]]:
        from vllm import SamplingParams

        extra_ids, stop_strings = split_stops(self.tokenizer, sampling.stop)
        stop_ids = sorted(self.eos_ids | extra_ids | set(sampling.stop_token_ids))
        # Explicit SamplingParams keep vLLM's neutral defaults (no top-k, no repetition penalty): the model's
        # generation_config.json applies only when none are given, so both engines sample alike.
        params = [
            SamplingParams(
                n=1 if sampling.greedy else sampling.n, temperature=sampling.temperature, top_p=sampling.top_p,
                max_tokens=sampling.max_new_tokens,
                seed=prompt_seed(sampling.seed, prompt), stop=stop_strings or None, stop_token_ids=stop_ids,
                skip_special_tokens=True,
            )
            for prompt in prompts
        ]
        requests = [{"prompt_token_ids": ids} for ids in encode_prompts(self.tokenizer, prompts)]
        outputs = self.llm.generate(requests, params, use_tqdm=self.progress)
        results = []
        for output in outputs:
            completions = [
                Completion(o.text, _finish_reason(o.finish_reason), len(o.token_ids)) for o in output.outputs
            ]
            results.append(_repeat_greedy(completions, sampling.n) if sampling.greedy else completions)
        return results


def _finish_reason(reason: str | None) -> str:
    if reason not in FINISH_REASONS:  # "abort" or None: the request did not finish, its text is not a sample
        raise RuntimeError(f"vLLM returned finish_reason {reason!r}; expected one of {FINISH_REASONS}")
    return reason


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def check_engine_installed(name: str) -> None:
    """Raise ConfigError, before any work, when ``name`` is vllm and this environment has no vLLM."""
    if name == "vllm" and not vllm_available():
        raise ConfigError(
            f"--engine vllm: vLLM is not installed in {sys.prefix}; use --engine hf (transformers, any device), "
            "or run with .venv-vllm/bin/python (bash setup.sh builds it on a machine with an NVIDIA GPU)"
        )


def make_engine(name: str, model_name_or_path: str, **options) -> Engine:
    """``hf``, ``vllm``, or ``auto`` (vLLM when it is installed and a GPU is present, else hf).

    ``options`` may hold either engine's settings (batch_size for hf; tensor_parallel_size,
    gpu_memory_utilization, seed, max_model_len for vLLM); each engine takes those it knows, so one call
    site serves both. A setting neither engine knows is an error.
    """
    import torch

    check_engine(name)
    check_engine_installed(name)
    if name == "auto":
        name = "vllm" if vllm_available() and torch.cuda.is_available() else "hf"
    known = {cls: set(inspect.signature(cls.__init__).parameters) - {"self", "model_name_or_path"}
             for cls in (HFEngine, VLLMEngine)}
    unknown = set(options) - set.union(*known.values())
    if unknown:
        raise ConfigError(f"unknown engine option(s) {sorted(unknown)}; known: {sorted(set.union(*known.values()))}")
    cls = VLLMEngine if name == "vllm" else HFEngine
    logger.info("generation engine: %s", name)
    return cls(model_name_or_path, **{k: v for k, v in options.items() if k in known[cls]})
