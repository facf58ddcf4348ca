"""How a problem becomes the text a model continues: one place for generation, training data and eval.

    from common.prompts import render_prompt
    text = render_prompt(tokenizer, "What is 1 + 1?", "online-dpo-r1")

Prompt types (tests/test_fidelity.py pins each rendered string):

``online-dpo-r1``
    The original recipe's prompt, for sampling AND evaluation (every 7B config): the tokenizer's chat
    template with the system turn ``QWEN25_MATH_SYSTEM`` and the user turn ``{problem}`` + one space +
    ``ONLINE_DPO_R1_INSTRUCTION`` (no final period). The original's generation/gen_hf.py sends only that
    user turn and Qwen2.5-Math's chat template adds its default system message, which is this one; its
    eval_math/utils.py hard-codes the same string (under the name ``qwen25-math-cot``). Stating the
    system turn keeps the prompt identical for a tokenizer whose template has another default.
``qwen25-math-cot``
    The upstream Qwen2.5-Math evaluation prompt, exactly as its harness defines it (a fixed ChatML
    string, whatever the tokenizer): system ``QWEN25_MATH_SYSTEM``, user = the bare problem. For
    comparing with Qwen's published numbers; the original's harness changed this entry's user turn to
    the ``online-dpo-r1`` one.
``chat``
    The project's demo prompt: the chat template with the user turn ``{problem}\\n{instruction}``.
``raw``
    A plain completion prompt for base models without a chat template.

The tokens of the rendered string are exactly what generation samples from and training trains on.
"""

from __future__ import annotations

from common.config import ConfigError

INSTRUCTION = "Let's think step by step and output the final answer within \\boxed{}."
# The original's suffix, verbatim from its generation/gen_hf.py: one space before it, no period after.
ONLINE_DPO_R1_INSTRUCTION = "Let's think step by step and output the final answer within \\boxed{}"
QWEN25_MATH_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
RAW_TEMPLATE = "Question: {problem}\n{instruction}\nAnswer: "
# Qwen2.5-Math's evaluation/utils.py PROMPT_TEMPLATES["qwen25-math-cot"][0], around the problem.
QWEN25_MATH_COT_BEFORE = f"<|im_start|>system\n{QWEN25_MATH_SYSTEM}<|im_end|>\n<|im_start|>user\n"
QWEN25_MATH_COT_AFTER = "<|im_end|>\n<|im_start|>assistant\n"

PROMPT_TYPES = ("online-dpo-r1", "qwen25-math-cot", "chat", "raw")


def check_prompt_type(name: str) -> None:
    """ConfigError unless ``name`` is one of PROMPT_TYPES: the one check of every stage's ``prompt_type``."""
    if name not in PROMPT_TYPES:
        raise ConfigError(f"prompt_type must be one of {PROMPT_TYPES}, got {name!r}")


def chat_messages(problem: str, prompt_type: str = "chat", instruction: str = INSTRUCTION) -> list[dict]:
    """The messages of a prompt type rendered through the tokenizer's chat template."""
    if prompt_type == "chat":
        return [{"role": "user", "content": f"{problem}\n{instruction}"}]
    if prompt_type == "online-dpo-r1":
        return [{"role": "system", "content": QWEN25_MATH_SYSTEM},
                {"role": "user", "content": f"{problem} {ONLINE_DPO_R1_INSTRUCTION}"}]
    raise ValueError(f"prompt type {prompt_type!r} has no chat messages; choose one of {PROMPT_TYPES}")


def render_prompt(tokenizer, problem: str, prompt_type: str = "chat", instruction: str = INSTRUCTION) -> str:
    """The prompt string for ``problem``; ``instruction`` applies to ``chat`` and ``raw`` only.

    The two recipe prompts are fixed strings: changing their wording would silently leave the recipe.
    """
    if prompt_type == "raw":
        return RAW_TEMPLATE.format(problem=problem, instruction=instruction)
    if prompt_type == "qwen25-math-cot":
        return QWEN25_MATH_COT_BEFORE + problem + QWEN25_MATH_COT_AFTER
    check_prompt_type(prompt_type)
    if tokenizer.chat_template is None:
        raise ValueError(f"prompt type {prompt_type!r} needs a tokenizer with a chat template; use 'raw'")
    return tokenizer.apply_chat_template(
        chat_messages(problem, prompt_type, instruction), tokenize=False, add_generation_prompt=True
    )
