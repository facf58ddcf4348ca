"""Preference pairs for DPO, or RAFT's SFT set, from labeled samples.

    python annotate/pairs.py --dataset_name_or_path labeled.jsonl --output_file pairs.jsonl --choose_type max_min

The recipe's strategies mean exactly what they meant in the original (Online-DPO-R1
dpo_iteration/run_dpo.py ``prepare_data``): two indices are picked from the prompt's K responses in
their generated order, and the pair is kept, chosen = the higher RAW reward, only when the two rewards
differ (so ``max_max`` keeps a pair only when one response alone has the best reward):

    choose_type  the two responses
    max_min      the first with the highest reward, the first with the lowest (the recipe's default)
    max_random   the first with the highest reward, and response 0 (response 1 if that is the best)
    max_max      the last two of a stable ascending sort of the rewards: the best and the next best
    max_min_p    max_min on reward - length_penalty * length, length in characters by default, penalty
                 0 by default (then it is max_min); the pair is still ordered by raw reward
    random       responses 0 and 1

The project's own variants, which differ from the original's on purpose; ties among equally scored
responses are drawn at random, seeded by ``--seed`` and the prompt's ``idx`` (a prompt's pair does not
depend on the rest of the file), and a response whose text repeats an earlier one is kept once:

    max_random_lower     a highest-reward response vs a random one with a strictly lower reward: a pair
                         whenever the rewards are not all equal (the original's max_random keeps one
                         only when response 0 or 1 is worse than the best)
    max_next_lower       a highest-reward response vs a highest among those strictly lower (the hardest
                         negative): a pair whenever the rewards are not all equal
    max_min_len_penalty  max_min on reward - length_penalty * length, ORDERED by that penalised score
                         (default 1e-4 per token: among equal rewards the shorter is chosen, so it also
                         pairs two correct answers; a penalty above 0.5 / 5,000 tokens can rank a short
                         wrong answer above a long right one)
    reward_blind         two distinct responses drawn at random, the first drawn chosen: the rewards are
                         never read (the original's ``random`` still orders its two responses by reward and
                         drops ties, so it learns from the reward's sign). A control: what the loop learns
                         without the reward (bench/demo_arms.py)
    raft                 not a pair: one correct response, drawn uniformly (rejection sampling keeps the
                         policy's own distribution over correct answers), as ``{"idx","prompt",
                         "completion","reward"}`` for SFT

``--reverse_pairs`` swaps chosen and rejected in every pair (and their rewards; ``margin`` is then
negative): a control that trains towards the worse response, which should lose accuracy if the reward
means anything (bench/demo_arms.py).

``--drop_truncated`` first leaves out responses that hit the generation length limit (``finish_reasons``
"length"), for every strategy. A prompt gives no pair when the two rewards (scores) are equal or when
the two responses have the same text (two copies graded differently, e.g. after a grader timeout): both
are counted as ``tie`` in ``stats.json`` with the other reasons (keys in annotate/stats.py).
``chosen_reward``/``rejected_reward`` are the rewards that ordered the pair (for
``max_min_len_penalty``, the penalised scores, rounded to 6 decimals; for ``reward_blind``, the two
rewards as they fell) and ``margin`` is their difference, > 0 except under ``reward_blind`` and
``--reverse_pairs``; the original's pairs had ``prompt``, ``chosen``, ``rejected`` and ``margin``.

Labeled files of the original recipe (``{prompt, responses, gt, rewards}``, JSON lines or one JSON
array) are read too; without ``correct``, RAFT and the options that need correctness refuse them.

Options: ``--drop_all_correct`` / ``--drop_all_wrong`` skip prompts whose responses (all of them,
before filtering) are all correct / all wrong; ``--drop_format_pairs`` skips a pair of two wrong
responses, whose only difference is format (a ``\\boxed{}`` or not: -0.5 vs -1.0 by default).

End of sequence: see ``RESPONSES_HAVE_EOS``.
"""

from __future__ import annotations

import difflib
import logging
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, NamedTuple

from annotate.stats import PairStats, stats_path, update_stats
from common.config import ConfigError, run_cli
from common.paths import INPUT, OUTPUT_DIR_ALIAS, OUTPUT_FILE
from common.records import LABELED, RecordError, check_record, iter_jsonl, write_jsonl

logger = logging.getLogger(__name__)

# The eos/eot decision, made once for the whole pipeline: `chosen`, `rejected` and `completion` hold the
# response text exactly as generated, WITHOUT any eos/eot string (generation decodes without special
# tokens). TRL's DPOTrainer and SFTTrainer append the tokenizer's eos_token to a completion that does not
# already end with it, so the trainer sees exactly one eos, as the policy emitted it when it stopped.
# A response that hit the length limit did not emit one; --drop_truncated keeps such text out.
RESPONSES_HAVE_EOS = False

# A strategy picks two indices of ``scores`` (None: no pair); choose() orders them and drops ties.
Strategy = Callable[[Sequence[float], random.Random], "tuple[int, int] | None"]


def first_max(scores: Sequence[float]) -> int:
    """numpy.argmax: the first index of the highest score."""
    return max(range(len(scores)), key=lambda i: (scores[i], -i))


def first_min(scores: Sequence[float]) -> int:
    """numpy.argmin: the first index of the lowest score."""
    return min(range(len(scores)), key=lambda i: (scores[i], i))


def original_max_min(scores: Sequence[float], rng: random.Random) -> tuple[int, int]:
    return first_max(scores), first_min(scores)


def original_max_random(scores: Sequence[float], rng: random.Random) -> tuple[int, int]:
    best = first_max(scores)
    return best, 1 if best == 0 else 0


def original_max_max(scores: Sequence[float], rng: random.Random) -> tuple[int, int]:
    # numpy.argsort of K <= 16 values is an insertion sort, i.e. stable: equal scores keep index order.
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    return order[-1], order[-2]


def original_random(scores: Sequence[float], rng: random.Random) -> tuple[int, int]:
    return 0, 1


def reward_blind(scores: Sequence[float], rng: random.Random) -> tuple[int, int]:
    chosen, rejected = rng.sample(range(len(scores)), 2)  # only the number of responses is read
    return chosen, rejected


def _draw(indices: list[int], rng: random.Random) -> int:
    return indices[0] if len(indices) == 1 else rng.choice(indices)


def _best(scores: Sequence[float], rng: random.Random, below: float | None = None) -> int | None:
    """A highest-scored index (among scores strictly below ``below`` if given), None if there is none."""
    allowed = [s for s in scores if below is None or s < below]
    if not allowed:
        return None
    top = max(allowed)
    return _draw([i for i, s in enumerate(scores) if s == top], rng)


def max_min_drawn(scores: Sequence[float], rng: random.Random) -> tuple[int, int] | None:
    high, low = max(scores), min(scores)
    if high == low:
        return None
    return _best(scores, rng), _draw([i for i, s in enumerate(scores) if s == low], rng)


def max_random_lower(scores: Sequence[float], rng: random.Random) -> tuple[int, int] | None:
    chosen = _best(scores, rng)
    lower = [i for i, s in enumerate(scores) if s < scores[chosen]]
    return (chosen, rng.choice(lower)) if lower else None


def max_next_lower(scores: Sequence[float], rng: random.Random) -> tuple[int, int] | None:
    chosen = _best(scores, rng)
    rejected = _best(scores, rng, below=scores[chosen])
    return None if rejected is None else (chosen, rejected)


class Rule(NamedTuple):
    """How a choose_type works: its picker, and whether it sees the original's full list of responses."""

    pick: Strategy
    original: bool  # the original's semantics: all K responses in order, pair ordered by raw reward
    penalised: bool = False  # picks on reward - length_penalty * length
    penalty: float = 0.0  # default length_penalty
    unit: str = "chars"  # default length_unit
    by_reward: bool = True  # the pair is ordered by reward and dropped on a tie; False: as picked, rewards unread


STRATEGIES: dict[str, Rule] = {
    "max_min": Rule(original_max_min, original=True),
    "max_random": Rule(original_max_random, original=True),
    "max_max": Rule(original_max_max, original=True),
    "max_min_p": Rule(original_max_min, original=True, penalised=True),
    "random": Rule(original_random, original=True),
    "max_random_lower": Rule(max_random_lower, original=False),
    "max_next_lower": Rule(max_next_lower, original=False),
    "max_min_len_penalty": Rule(max_min_drawn, original=False, penalised=True, penalty=1e-4, unit="tokens"),
    "reward_blind": Rule(reward_blind, original=False, by_reward=False),
}
CHOOSE_TYPES = (*STRATEGIES, "raft")
LENGTH_UNITS = ("tokens", "chars")


def check_choose_type(name: str) -> None:
    """Raise ConfigError naming the valid choose types (and the closest one) for an unknown name."""
    if name not in CHOOSE_TYPES:
        close = difflib.get_close_matches(name, CHOOSE_TYPES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown choose_type {name!r}: expected one of {', '.join(CHOOSE_TYPES)}{hint}")


@dataclass
class PairsArgs:
    PATHS: ClassVar[dict[str, str]] = {
        "dataset_name_or_path": INPUT, "output_file": OUTPUT_FILE, "stats_file": OUTPUT_FILE,
    }

    dataset_name_or_path: str = field(metadata={"help": "labeled JSONL (annotate/label.py's output)"})
    output_file: str = field(
        metadata={"help": "JSONL to write: pairs, or RAFT records (--output_dir, the original's name, also works)",
                  **OUTPUT_DIR_ALIAS}
    )
    choose_type: str = field(default="max_min", metadata={"help": f"one of {', '.join(CHOOSE_TYPES)}"})
    seed: int = field(default=42, metadata={"help": "seeds every random draw (with each prompt's idx)"})
    drop_all_correct: bool = field(default=False, metadata={"help": "skip prompts whose responses are all correct"})
    drop_all_wrong: bool = field(default=False, metadata={"help": "skip prompts whose responses are all wrong"})
    drop_format_pairs: bool = field(
        default=False, metadata={"help": "skip pairs of two wrong responses (they differ only in format)"}
    )
    drop_truncated: bool = field(
        default=False, metadata={"help": "leave out responses that hit the length limit (finish_reason 'length')"}
    )
    length_penalty: float | None = field(
        default=None,
        metadata={"help": "max_min_p, max_min_len_penalty: score = reward - length_penalty * length; "
                          "default 0 for max_min_p (the original's), 1e-4 for max_min_len_penalty"},
    )
    length_unit: str | None = field(
        default=None,
        metadata={"help": f"the length: one of {LENGTH_UNITS} (tokens from num_tokens); default chars for "
                          "max_min_p (the original's), tokens for max_min_len_penalty"},
    )
    reverse_pairs: bool = field(
        default=False, metadata={"help": "swap chosen and rejected in every pair (a control: train towards the worse)"}
    )
    stats_file: str | None = field(
        default=None, metadata={"help": "stats JSON to update (section 'pairs'); default stats.json beside the output"}
    )

    def __post_init__(self):
        check_choose_type(self.choose_type)
        rule = STRATEGIES.get(self.choose_type)
        if self.length_penalty is None:
            self.length_penalty = rule.penalty if rule else 0.0
        if self.length_unit is None:
            self.length_unit = rule.unit if rule else "chars"
        if self.length_unit not in LENGTH_UNITS:
            raise ConfigError(f"length_unit must be one of {LENGTH_UNITS}, got {self.length_unit!r}")
        if self.length_penalty < 0:
            raise ConfigError(f"length_penalty must be >= 0, got {self.length_penalty}")
        if self.reverse_pairs and self.choose_type == "raft":
            raise ConfigError("reverse_pairs swaps the two responses of a pair; choose_type raft makes no pairs")
        if Path(self.output_file).resolve() == Path(self.dataset_name_or_path).resolve():
            raise ConfigError(f"output_file must differ from dataset_name_or_path ({self.output_file})")


class Candidate(NamedTuple):
    text: str
    reward: float
    correct: bool | None  # None: the file has no ``correct`` (the original's labeled records)
    tokens: int | None  # None: the file has no ``num_tokens``


def candidates(record: dict, drop_truncated: bool, dedupe: bool) -> tuple[list[Candidate], int, int]:
    """The responses a strategy may pick, in order, plus how many were dropped as truncated and as duplicates."""
    seen: set[str] = set()
    kept: list[Candidate] = []
    truncated = duplicates = 0
    unknown = [None] * len(record["responses"])
    columns = [record["responses"], record["rewards"]]
    columns += [record.get(key, unknown) for key in ("correct", "num_tokens", "finish_reasons")]
    for text, reward, correct, tokens, finish in zip(*columns, strict=True):
        if drop_truncated and finish == "length":
            truncated += 1
        elif dedupe and text in seen:
            duplicates += 1
        else:
            seen.add(text)
            kept.append(Candidate(text, reward, correct, tokens))
    return kept, truncated, duplicates


def needs_correct(args: PairsArgs) -> str | None:
    """The option or choose_type that needs the ``correct`` key, if any is set."""
    if args.choose_type == "raft":
        return "choose_type raft"
    return next((f"--{name}" for name in ("drop_all_correct", "drop_all_wrong", "drop_format_pairs")
                 if getattr(args, name)), None)


def scores_of(kept: list[Candidate], args: PairsArgs) -> list[float]:
    """The rewards, minus the length penalty for the penalised strategies."""
    rewards = [float(c.reward) for c in kept]
    if not STRATEGIES[args.choose_type].penalised:
        return rewards
    if args.length_unit == "tokens" and any(c.tokens is None for c in kept):
        raise ValueError("length_unit tokens needs num_tokens, which this file lacks; use --length_unit chars")
    lengths = [c.tokens if args.length_unit == "tokens" else len(c.text) for c in kept]
    return [round(r - args.length_penalty * n, 6) for r, n in zip(rewards, lengths, strict=True)]


def choose(record: dict, args: PairsArgs, stats: PairStats) -> dict | None:
    """The output record for one prompt (a pair, or a RAFT completion), or None; ``stats`` counts why."""
    rng = random.Random(f"{args.seed}:{record['idx']}")
    correct = record.get("correct")
    if correct and args.drop_all_correct and all(correct):
        return stats.none("all_correct")
    if correct and args.drop_all_wrong and not any(correct):
        return stats.none("all_wrong")
    rule = STRATEGIES.get(args.choose_type)
    kept, truncated, duplicates = candidates(record, args.drop_truncated, dedupe=not (rule and rule.original))
    stats.dropped(truncated, duplicates)
    if args.choose_type == "raft":
        good = [c for c in kept if c.correct]
        if not good:
            return stats.none("no_correct")
        pick = rng.choice(good)
        stats.completion(pick)
        return {"idx": record["idx"], "prompt": record["prompt"], "completion": pick.text, "reward": pick.reward}
    if len(kept) < 2:
        return stats.none("fewer_than_2")
    if not rule.by_reward:
        i, j = rule.pick([0.0] * len(kept), rng)  # the rewards are not shown to it
        order = [float(c.reward) for c in kept]
    else:
        scores = scores_of(kept, args)
        picked = rule.pick(scores, rng)
        if picked is None:
            return stats.none("tie")
        # The original orders the two by raw reward (max_min_p too); the project's variants by their score.
        order = [float(c.reward) for c in kept] if rule.original else scores
        i, j = picked if order[picked[0]] >= order[picked[1]] else picked[::-1]
        if order[i] == order[j] or kept[i].text == kept[j].text:
            return stats.none("tie")
    if args.reverse_pairs:
        i, j = j, i
    chosen, rejected = kept[i], kept[j]
    if chosen.correct is False and rejected.correct is False and args.drop_format_pairs:
        return stats.none("format_only")
    high, low = order[i], order[j]
    stats.pair(chosen, rejected, high, low)
    return {
        "idx": record["idx"],
        "prompt": record["prompt"],
        "chosen": chosen.text,
        "rejected": rejected.text,
        "chosen_reward": high,
        "rejected_reward": low,
        "margin": round(high - low, 6),
    }


def make_records(path: str, args: PairsArgs, stats: PairStats) -> Iterator[dict]:
    """The output records of the labeled file ``path``; a record this run cannot use raises naming its line."""
    needed = needs_correct(args)
    for line, value in iter_jsonl(path):
        record = check_record(value, LABELED, path, line)
        if needed and "correct" not in record:
            raise RecordError(path, line, f"{needed} needs the key 'correct' (annotate/label.py writes it)")
        stats.prompts += 1
        try:
            out = choose(record, args, stats)
        except ValueError as e:
            raise RecordError(path, line, str(e)) from None
        if out is not None:
            yield out


def main(args: PairsArgs) -> dict:
    """Write the pairs (or RAFT) file and the ``pairs`` section of stats.json; return that section."""
    stats = PairStats(args.choose_type)
    written = write_jsonl(args.output_file, make_records(args.dataset_name_or_path, args, stats))
    summary = stats.summary()
    update_stats(stats_path(args.output_file, args.stats_file), "pairs", summary)
    reasons = ", ".join(f"{k} {v}" for k, v in summary["no_record"].items() if v) or "none"
    logger.info(
        "%s: %d records from %d prompts -> %s (prompts without one: %s)",
        args.choose_type, written, stats.prompts, args.output_file, reasons,
    )
    if written == 0:
        logger.warning("no %s records from %d prompts: there is nothing to train on (prompts without one: %s)",
                       args.choose_type, stats.prompts, reasons)
    return summary


if __name__ == "__main__":
    run_cli(main, [PairsArgs])
