"""What both scorings of an evaluation share (`kgsynth.eval.evaluate` generates, `kgsynth.eval.loglik` scores
candidates): the configuration, the folder's file names and its atomic writes, the generation cache, which
items are asked, and the interval and prior the summaries report.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kgsynth.errors import KgsynthError
from kgsynth.eval.benchmarks import EvalItem
from kgsynth.files import atomic_write
from kgsynth.models.base import Message

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal

CACHE_FILE = "cache.jsonl"

SUMMARY_FILE = "summary.json"

TABLE_FILE = "results.md"

FIGURE_FILE = "results.png"

TIMINGS_FILE = "timings.json"

NONE = "none"  # the predicted "letter" of a completion that gives no answer


class EvalConfig(BaseModel):
    """How an evaluation runs (the `kgsynth eval` options)."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["transformers", "vllm"] = Field(default="transformers", description="how models are run")
    scoring: Literal["generate", "loglik"] = Field(
        default="generate",
        description="generate: greedy completions judged like the rewards; loglik: candidates scored by "
        "log-likelihood (`kgsynth.eval.loglik`)",
    )
    max_new_tokens: int = Field(default=512, ge=1, description="tokens a model may generate per item")
    limit: int | None = Field(default=None, ge=1, description="items per set (drawn with `seed`)")
    seed: int = Field(default=0, description="which items are drawn when a set is limited")
    batch_size: int | None = Field(
        default=None, ge=1, description="prompts per generate call and cache write (default: 8, vLLM 256)"
    )
    threads: int = Field(default=0, ge=0, description="torch threads; 0 = the cores this process may use")


@dataclass(frozen=True)
class GenerationParams:
    """What, besides the model and the prompt, decides a completion (greedy decoding)."""

    max_new_tokens: int

    def to_json(self) -> dict[str, Any]:
        return {"max_new_tokens": self.max_new_tokens, "temperature": 0.0}


def cache_key(model_id: str, messages: Sequence[Message], params: GenerationParams) -> str:
    """A digest of everything that decides a completion: the model, the prompt and the generation parameters."""
    payload = {"model": model_id, "messages": list(messages), "params": params.to_json()}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class GenerationCache:
    """Completions by `cache_key`, in a JSONL file appended to and flushed after every batch.

    A line cut short by a kill is dropped on open (and the file truncated to its last whole line),
    so what was written before it is kept and nothing after it is glued onto it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, str] = {}
        if path.is_file():
            data = path.read_bytes()
            whole = data[: data.rfind(b"\n") + 1]
            if len(whole) != len(data):
                logger.warning("%s: dropping a last line cut short (%d bytes)", path, len(data) - len(whole))
                with path.open("r+b") as fh:
                    fh.truncate(len(whole))
            for number, line in enumerate(whole.decode("utf-8").splitlines(), 1):
                try:
                    record = json.loads(line)
                    self.entries[record["key"]] = record["completion"]
                except (ValueError, KeyError, TypeError):
                    raise KgsynthError(
                        f"{path}, line {number}: not a cache entry",
                        hint="delete the cache file to regenerate every completion",
                    ) from None
        path.parent.mkdir(parents=True, exist_ok=True)

    def get(self, key: str) -> str | None:
        return self.entries.get(key)

    def put_many(self, model: str, entries: Sequence[tuple[str, str]]) -> None:
        """Store completions (key, text) and flush them to the file."""
        with self.path.open("a", encoding="utf-8") as fh:
            for key, completion in entries:
                record = {"key": key, "model": model, "completion": completion}
                fh.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
                self.entries[key] = completion
            fh.flush()
            os.fsync(fh.fileno())

    def __len__(self) -> int:
        return len(self.entries)


def select_items(items: Sequence[EvalItem], *, limit: int | None, seed: int) -> list[EvalItem]:
    """`limit` items of a set, drawn with `seed` and balanced over gold letters as far as the set allows.

    Items are grouped by gold letter (short answers form one group), each group shuffled, and the
    groups taken from in turn until `limit` are drawn; the chosen items keep the set's order.
    """
    if limit is None or limit >= len(items):
        return list(items)
    rng = random.Random(seed)
    groups: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        groups[item.letter or ""].append(index)
    queues = []
    for key in sorted(groups):
        members = groups[key]
        rng.shuffle(members)
        queues.append(members)
    chosen: list[int] = []
    while len(chosen) < limit:
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(queue.pop())
    return [items[index] for index in sorted(chosen)]


def wilson_interval(correct: int, n: int, *, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion `correct / n` (95% by default); (0, 1) when n is 0.

    >>> [round(x, 4) for x in wilson_interval(50, 200)]
    [0.1951, 0.3143]
    """
    if n <= 0:
        return 0.0, 1.0
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def letter_prior(predicted: Mapping[str, int], gold: Mapping[str, int]) -> float | None:
    """What a model that picks letters as often as this one did, knowing nothing, would score.

    The sum over letters L of P(the model says L) x P(the gold letter is L), each a share of the
    items counted (`predicted` includes the items with no answer under `NONE`, which never score).
    None without items.

    >>> letter_prior({"A": 3, "B": 1}, {"A": 1, "B": 3})
    0.375
    """
    n_pred, n_gold = sum(predicted.values()), sum(gold.values())
    if not n_pred or not n_gold:
        return None
    return sum(count / n_pred * gold.get(letter, 0) / n_gold for letter, count in predicted.items() if letter != NONE)


Progress = Callable[[str, str, int, int], None]  # model, set, items done, items in the set


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name).strip("-") or "set"


def unique_labels(labels: Sequence[str]) -> list[str]:
    """Labels made unique by a `-2`, `-3`, ... suffix on repeats.

    >>> unique_labels(["a", "b", "a"])
    ['a', 'b', 'a-2']
    """
    seen: Counter[str] = Counter()
    out = []
    for label in labels:
        seen[label] += 1
        out.append(label if seen[label] == 1 else f"{label}-{seen[label]}")
    return out


def _dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _write(path: Path, data: str | bytes) -> None:
    """Write a file whole or not at all (`kgsynth.files.atomic_write`)."""
    atomic_write(path, data)
