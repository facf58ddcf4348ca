"""Preference pairs for DPO, or RAFT's SFT set, from labeled samples.

    python annotate/pairs.py --dataset_name_or_path labeled.jsonl --output_dir pairs.jsonl --choose_type max_min

Each prompt's responses are first filtered: with ``--drop_truncated`` those that hit the generation
length limit (``finish_reasons`` "length") go, and a response whose text repeats an earlier one is kept
once, so a pair never has ``chosen == rejected``. A strategy then picks chosen and rejected by score
(the reward; for ``max_min_p`` the reward minus a length penalty):

    choose_type  chosen                        rejected
    max_min      a highest-scored response     a lowest-scored response (the recipe's default)
    max_random   a highest-scored response     a random response scored strictly lower
    max_max      a highest-scored response     a highest-scored response among those scored strictly
                                               lower (the hardest negative)
    max_min_p    max_min on reward - length_penalty * length, length in tokens (``num_tokens``) or
                 characters (``--length_unit``): among equal rewards the shorter response is chosen
                 and the longer rejected. At the default 1e-4 per token the penalty stays under the
                 smallest reward gap (0.5) up to 5,000 tokens, so it only breaks ties; a larger one
                 can rank a short wrong answer above a long right one
    random       two distinct random responses, the higher-scored one chosen
    raft         not a pair: one correct response, drawn uniformly (rejection sampling keeps the
                 policy's own distribution over correct answers), as ``{"idx","prompt","completion",
                 "reward"}`` for SFT

Where several responses share the score a strategy wants, one is drawn at random; the draws are seeded
by ``--seed`` and the prompt's ``idx``, so a prompt's pair does not depend on the rest of the file.
A prompt gives no pair when chosen's score would not be strictly above rejected's (a tie: all scores
equal, or ``random`` drew two equal ones); ties and the other reasons are counted in ``stats.json``
(keys in annotate/stats.py). ``chosen_reward``/``rejected_reward`` are the scores the strategy compared
(for ``max_min_p``, penalised, rounded to 6 decimals) and ``margin`` is their difference, always > 0.

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
from typing import NamedTuple

from annotate.stats import PairStats, stats_path, update_stats
from common.config import ConfigError, run_cli
from common.records import LABELED, iter_records, write_jsonl

logger = logging.getLogger(__name__)

# The eos/eot decision, made once for the whole pipeline: `chosen`, `rejected` and `completion` hold the
# response text exactly as generated, WITHOUT any eos/eot string (generation decodes without special
# tokens). TRL's DPOTrainer and SFTTrainer append the tokenizer's eos_token to a completion that does not
# already end with it, so the trainer sees exactly one eos, as the policy emitted it when it stopped.
# A response that hit the length limit did not emit one; --drop_truncated keeps such text out.
RESPONSES_HAVE_EOS = False

Strategy = Callable[[Sequence[float], random.Random], "tuple[int, int] | None"]


def _draw(indices: list[int], rng: random.Random) -> int:
    return indices[0] if len(indices) == 1 else rng.choice(indices)


def _best(scores: Sequence[float], rng: random.Random, below: float | None = None) -> int | None:
    """A highest-scored index (among scores strictly below ``below`` if given), None if there is none."""
    allowed = [s for s in scores if below is None or s < below]
    if not allowed:
        return None
    top = max(allowed)
    return _draw([i for i, s in enumerate(scores) if s == top], rng)


def max_min(scores: Sequence[float], rng: random.Random) -> tuple[int, int] | None:
    high, low = max(scores), min(scores)
    if high == low:
        return None
    return _best(scores, rng), _draw([i for i, s in enumerate(scores) if s == low], rng)


def max_random(scores: Sequence[float], rng: random.Random) -> tuple[int, int] | None:
    chosen = _best(scores, rng)
    lower = [i for i, s in enumerate(scores) if s < scores[chosen]]
    return (chosen, rng.choice(lower)) if lower else None


def max_max(scores: Sequence[float], rng: random.Random) -> tuple[int, int] | None:
    chosen = _best(scores, rng)
    rejected = _best(scores, rng, below=scores[chosen])
    return None if rejected is None else (chosen, rejected)


def random_pair(scores: Sequence[float], rng: random.Random) -> tuple[int, int] | None:
    if len(scores) < 2:
        return None
    i, j = rng.sample(range(len(scores)), 2)
    if scores[i] == scores[j]:
        return None
    return (i, j) if scores[i] > scores[j] else (j, i)


STRATEGIES: dict[str, Strategy] = {
    "max_min": max_min,
    "max_random": max_random,
    "max_max": max_max,
    "max_min_p": max_min,  # on length-penalised scores
    "random": random_pair,
}
LENGTH_PENALISED = ("max_min_p",)
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
    dataset_name_or_path: str = field(metadata={"help": "labeled JSONL (annotate/label.py's output)"})
    output_dir: str = field(
        metadata={"help": "output JSONL FILE (pairs, or RAFT records); named as in Online-DPO-R1"}
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
    length_penalty: float = field(
        default=1e-4, metadata={"help": "max_min_p: score = reward - length_penalty * length (per length_unit)"}
    )
    length_unit: str = field(
        default="tokens", metadata={"help": f"max_min_p's length: one of {LENGTH_UNITS} (tokens from num_tokens)"}
    )
    stats_file: str | None = field(
        default=None, metadata={"help": "stats JSON to update (section 'pairs'); default stats.json beside the output"}
    )

    def __post_init__(self):
        check_choose_type(self.choose_type)
        if self.length_unit not in LENGTH_UNITS:
            raise ConfigError(f"length_unit must be one of {LENGTH_UNITS}, got {self.length_unit!r}")
        if self.length_penalty < 0:
            raise ConfigError(f"length_penalty must be >= 0, got {self.length_penalty}")
        if Path(self.output_dir).resolve() == Path(self.dataset_name_or_path).resolve():
            raise ConfigError(f"output_dir must differ from dataset_name_or_path ({self.output_dir})")


class Candidate(NamedTuple):
    text: str
    reward: float
    correct: bool
    tokens: int


def candidates(record: dict, drop_truncated: bool) -> tuple[list[Candidate], int, int]:
    """The responses a strategy may pick, plus how many were dropped as truncated and as duplicates."""
    seen: set[str] = set()
    kept: list[Candidate] = []
    truncated = duplicates = 0
    keys = ("responses", "rewards", "correct", "num_tokens", "finish_reasons")
    for text, reward, correct, tokens, finish in zip(*(record[key] for key in keys), strict=True):
        if drop_truncated and finish == "length":
            truncated += 1
        elif text in seen:
            duplicates += 1
        else:
            seen.add(text)
            kept.append(Candidate(text, reward, correct, tokens))
    return kept, truncated, duplicates


def choose(record: dict, args: PairsArgs, stats: PairStats) -> dict | None:
    """The output record for one prompt (a pair, or a RAFT completion), or None; ``stats`` counts why."""
    rng = random.Random(f"{args.seed}:{record['idx']}")
    correct = record["correct"]
    if correct and args.drop_all_correct and all(correct):
        return stats.none("all_correct")
    if correct and args.drop_all_wrong and not any(correct):
        return stats.none("all_wrong")
    kept, truncated, duplicates = candidates(record, args.drop_truncated)
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
    scores = [float(c.reward) for c in kept]
    if args.choose_type in LENGTH_PENALISED:
        lengths = [c.tokens if args.length_unit == "tokens" else len(c.text) for c in kept]
        scores = [round(s - args.length_penalty * n, 6) for s, n in zip(scores, lengths, strict=True)]
    picked = STRATEGIES[args.choose_type](scores, rng)
    if picked is None:
        return stats.none("tie")
    chosen, rejected = kept[picked[0]], kept[picked[1]]
    if not chosen.correct and not rejected.correct and args.drop_format_pairs:
        return stats.none("format_only")
    high, low = scores[picked[0]], scores[picked[1]]
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


def make_records(records: Iterator[dict], args: PairsArgs, stats: PairStats) -> Iterator[dict]:
    for record in records:
        stats.prompts += 1
        out = choose(record, args, stats)
        if out is not None:
            yield out


def main(args: PairsArgs) -> dict:
    """Write the pairs (or RAFT) file and the ``pairs`` section of stats.json; return that section."""
    stats = PairStats(args.choose_type)
    written = write_jsonl(args.output_dir, make_records(iter_records(args.dataset_name_or_path, LABELED), args, stats))
    summary = stats.summary()
    update_stats(stats_path(args.output_dir, args.stats_file), "pairs", summary)
    reasons = ", ".join(f"{k} {v}" for k, v in summary["no_record"].items() if v) or "none"
    logger.info(
        "%s: %d records from %d prompts -> %s (prompts without one: %s)",
        args.choose_type, written, stats.prompts, args.output_dir, reasons,
    )
    if written == 0:
        logger.warning("no %s records at all: there is nothing to train on (see no_record above)", args.choose_type)
    return summary


if __name__ == "__main__":
    run_cli(main, [PairsArgs])
