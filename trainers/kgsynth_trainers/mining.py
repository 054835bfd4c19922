"""Stage-2 hard-sample mining: roll out k completions per pool item with the stage-1 policy, score them
with the same reward the training uses, and keep the items the policy still fails.

An item is kept when its pass rate (successes / k) is at most `tau`. Optionally (`confirm_k > 0`) an
item with no success among its k rollouts gets `confirm_k` more and is kept only if one of them
succeeds: an item the policy never solves gives GRPO a zero-variance group, hence no gradient.
Every pool item's pass rate is written (`passrates.jsonl`) with what `kgsynth focus` groups by.

Two ways to roll out: transformers' `generate` (CPU, or one GPU) and vLLM (`roll_out_vllm`, GPUs).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kgsynth.files import atomic_write
from kgsynth.models.vllm import sampling_params, start_vllm
from kgsynth.questions.answers import parse_answer, parse_short_answer
from kgsynth.run.focus import PassRateRow
from kgsynth_trainers.data import reward_columns

logger = logging.getLogger(__name__)

MINING_VLLM_HINT = "pip install -e 'trainers/[vllm]' on a GPU machine, or set mining_backend: transformers"

Messages = list[dict[str, str]]
RollOut = Callable[[Sequence[Messages], int], list[list[str]]]
"""k completions (texts) for each chat prompt."""


@dataclass(frozen=True)
class MiningSettings:
    """How the pool is mined (the recipe's `mining_*` keys)."""

    k: int
    tau: float
    confirm_k: int = 0
    temperature: float = 1.0
    max_new_tokens: int = 256
    batch_size: int = 8
    seed: int = 0


@dataclass(frozen=True)
class PassRate:
    """One pool item's rollouts: what it is (for `kgsynth focus`), how often the policy solved it, kept or not."""

    item_id: str
    type: str | None
    hops: int | None
    metapath: str | None
    template_id: str | None
    rarity: float | None
    k: int
    successes: int
    pass_rate: float
    confirm_k: int
    confirm_successes: int
    kept: bool
    answer_letter: str | None = None  # the proven letter (None for a short-answer item)
    answers: tuple[str | None, ...] = ()  # each of the k rollouts' final answer (a letter for an MCQ), None if none

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PassRate:
        """A row of a pass-rate file, as read and checked by the core (`kgsynth.run.focus.read_pass_rates`)."""
        return cls(**{**row, "answers": tuple(row.get("answers", ()))})


def roll_out_transformers(model: Any, tokenizer: Any, settings: MiningSettings) -> RollOut:
    """A `RollOut` sampling with transformers' `generate` (`kgsynth.models.transformers.generate_batch`),
    `settings.batch_size` prompts at a time."""
    import torch

    from kgsynth.models.transformers import generate_batch

    def roll_out(prompts: Sequence[Messages], k: int) -> list[list[str]]:
        model.eval()
        torch.manual_seed(settings.seed)
        results: list[list[str]] = []
        for start in range(0, len(prompts), settings.batch_size):
            batch = prompts[start : start + settings.batch_size]
            results += generate_batch(model, tokenizer, batch, max_new_tokens=settings.max_new_tokens, samples=k,
                                      temperature=settings.temperature)  # fmt: skip
            logger.info("rolled out %d/%d items", min(start + settings.batch_size, len(prompts)), len(prompts))
        return results

    return roll_out


def vllm_sampling_params(settings: MiningSettings, k: int) -> Any:
    """vLLM's `SamplingParams` for k rollouts per prompt (`kgsynth.models.vllm`); a clear error when vLLM is not
    installed."""
    return sampling_params(n=k, temperature=settings.temperature, max_tokens=settings.max_new_tokens,
                           seed=settings.seed, needed_by="mining_backend: vllm", hint=MINING_VLLM_HINT)  # fmt: skip


def start_mining_engine(model_dir: str) -> Any:
    """The vLLM engine mining rolls out with (`kgsynth.models.vllm.start_vllm`, the one vLLM set-up)."""
    return start_vllm(model_dir, needed_by="mining_backend: vllm", hint=MINING_VLLM_HINT)


def roll_out_vllm(llm: Any, make_params: Callable[[int], Any]) -> RollOut:
    """A `RollOut` through a `vllm.LLM` (`llm.chat` on every prompt at once, n=k samples each)."""

    def roll_out(prompts: Sequence[Messages], k: int) -> list[list[str]]:
        outputs = llm.chat([list(p) for p in prompts], make_params(k), use_tqdm=False)
        return [[completion.text for completion in output.outputs] for output in outputs]

    return roll_out


def count_successes(
    rows: Sequence[Mapping[str, Any]], completions: Sequence[Sequence[str]], reward: Callable[..., Any]
) -> list[int]:
    """How many of each row's completions `reward` scores 1, calling it as TRL does (columns as keywords)."""
    columns = reward_columns(reward)
    counts = []
    for row, texts in zip(rows, completions, strict=True):
        size = len(texts)
        scores = reward(
            prompts=[row["prompt"]] * size,
            completions=[[{"role": "assistant", "content": text}] for text in texts],
            **{column: [row.get(column)] * size for column in columns},
        )
        counts.append(sum(1 for score in scores if score == 1.0))
    return counts


def mine(
    rows: Sequence[Mapping[str, Any]],
    *,
    roll_out: RollOut,
    reward: Callable[..., Any],
    settings: MiningSettings,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[PassRate]:
    """Every row's pass rate under `roll_out`, and whether it is kept for stage 2 (see the module doc)."""
    prompts = [row["prompt"] for row in rows]
    completions = roll_out(prompts, settings.k)
    successes = count_successes(rows, completions, reward)
    confirmed = [0] * len(rows)
    if settings.confirm_k:
        unsolved = [i for i, count in enumerate(successes) if count == 0]
        if unsolved:
            extra = roll_out([prompts[i] for i in unsolved], settings.confirm_k)
            for i, count in zip(unsolved, count_successes([rows[i] for i in unsolved], extra, reward), strict=True):
                confirmed[i] = count
    rates = []
    for row, texts, count, extra_count in zip(rows, completions, successes, confirmed, strict=True):
        rate = count / settings.k
        kept = rate <= settings.tau and (settings.confirm_k == 0 or count > 0 or extra_count > 0)
        meta = (metadata or {}).get(row["item_id"], {})
        rates.append(
            PassRate(
                item_id=row["item_id"],
                type=row.get("type"),
                hops=row.get("hops"),
                metapath=meta.get("metapath"),
                template_id=meta.get("template_id"),
                rarity=meta.get("rarity"),
                k=settings.k,
                successes=count,
                pass_rate=rate,
                confirm_k=settings.confirm_k if count == 0 else 0,
                confirm_successes=extra_count,
                kept=kept,
                answer_letter=row.get("answer_letter"),
                answers=tuple(final_answer(text, mcq=row.get("answer_letter") is not None) for text in texts),
            )
        )
    return rates


def final_answer(text: str, *, mcq: bool) -> str | None:
    """A rollout's final answer as the judge reads it: an option letter for an MCQ, else the answer text.

    >>> final_answer("<think>x</think>\\nAnswer: b", mcq=True), final_answer("Answer: MFS.", mcq=False)
    ('B', 'MFS')
    """
    return parse_answer(text) if mcq else parse_short_answer(text)


def accuracy_against_letter_prior(rates: Sequence[PassRate]) -> tuple[float, float] | None:
    """(accuracy, its letter-prior expectation) over the multiple-choice rollouts; None without any.

    The expectation is sum over letters L of P(model answers L) x P(gold is L): what a policy that
    ignores the question but keeps its letter habits scores. Accuracy means something only above it.

    >>> rate = PassRate("i", "chain", 2, None, None, None, 2, 1, 0.5, 0, 0, True, "A", ("A", "B"))
    >>> accuracy_against_letter_prior([rate, PassRate(**{**rate.__dict__, "answer_letter": "B"})])
    (0.5, 0.5)
    """
    mcq = [rate for rate in rates if rate.answer_letter is not None and rate.answers]
    if not mcq:
        return None
    said = [answer for rate in mcq for answer in rate.answers]
    gold = [rate.answer_letter for rate in mcq]
    accuracy = sum(rate.successes for rate in mcq) / sum(rate.k for rate in mcq)
    letters = set(gold)
    expected = sum((said.count(letter) / len(said)) * (gold.count(letter) / len(gold)) for letter in letters)
    return accuracy, expected


def item_metadata(items: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """item id -> metapath (the path's relations, `a>b>c`), template id and rarity, from `items` rows."""
    return {
        item["id"]: {
            "metapath": ">".join(triple["predicate"] for triple in item["path"]),
            "template_id": item.get("template_id"),
            "rarity": item.get("rarity"),
        }
        for item in items
    }


def write_pass_rates(path: Path, rates: Sequence[PassRate]) -> Path:
    """One JSON line per item, written beside and moved into place (a killed run leaves no half file); the core
    reads it back (`kgsynth.run.focus.read_pass_rates`, then `PassRate.from_row`)."""
    rows = [asdict(r) for r in rates]
    for row in rows:
        PassRateRow.model_validate(row)  # the core's definition of the row (kgsynth.run.focus) reads it back
    return atomic_write(path, "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows))
