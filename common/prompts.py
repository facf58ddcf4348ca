"""How a problem becomes the text a model continues: one place for generation, training data and eval.

``chat`` is the recipe's prompt (the problem plus the instruction, in the tokenizer's chat template),
``qwen25-math-cot`` is the Qwen2.5-Math evaluation prompt (instruction as the system message), and
``raw`` is a plain completion prompt for base models without a chat template.
"""

from __future__ import annotations

INSTRUCTION = "Let's think step by step and output the final answer within \\boxed{}."
QWEN25_MATH_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
RAW_TEMPLATE = "Question: {problem}\n{instruction}\nAnswer: "

PROMPT_TYPES = ("chat", "qwen25-math-cot", "raw")


def chat_messages(problem: str, prompt_type: str = "chat", instruction: str = INSTRUCTION) -> list[dict]:
    """The messages of a chat-templated prompt type."""
    if prompt_type == "chat":
        return [{"role": "user", "content": f"{problem}\n{instruction}"}]
    if prompt_type == "qwen25-math-cot":
        return [{"role": "system", "content": QWEN25_MATH_SYSTEM}, {"role": "user", "content": problem}]
    raise ValueError(f"prompt type {prompt_type!r} has no chat messages; choose one of {PROMPT_TYPES}")


def render_prompt(tokenizer, problem: str, prompt_type: str = "chat", instruction: str = INSTRUCTION) -> str:
    """The prompt string for ``problem``; its tokens are exactly what generation and training see."""
    if prompt_type == "raw":
        return RAW_TEMPLATE.format(problem=problem, instruction=instruction)
    if prompt_type not in PROMPT_TYPES:
        raise ValueError(f"unknown prompt type {prompt_type!r}; choose one of {PROMPT_TYPES}")
    if tokenizer.chat_template is None:
        raise ValueError(f"prompt type {prompt_type!r} needs a tokenizer with a chat template; use 'raw'")
    return tokenizer.apply_chat_template(
        chat_messages(problem, prompt_type, instruction), tokenize=False, add_generation_prompt=True
    )
