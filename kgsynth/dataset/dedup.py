"""Dedup: drop items that repeat another, for one of three reasons, counted per reason.

In item order, an item is dropped when an earlier kept item has

- `exact`: the same normalised question and the same normalised options (in any order);
- `path_key`: the same start entity, relation path, answer (the key) and question type -- the same
  fact asked again in other words;
- `near`: an estimated Jaccard similarity of word shingles (question and sorted options) of at least
  `near_threshold`, found by MinHash LSH (banded signatures) and confirmed on the two signatures.
  The signatures of all items are computed at once with numpy: datasketch's per-item MinHash objects
  cost more than all the rest of dedup and decontamination together at 100,000 items.

The first occurrence is kept, so the result depends only on the items and their order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from kgsynth.dataset.text import normalise_text, word_ngrams
from kgsynth.questions.item import Item

logger = logging.getLogger(__name__)

REASONS = ("exact", "path_key", "near")


class DedupConfig(BaseModel):
    """How near two items must be to count as duplicates."""

    model_config = ConfigDict(extra="forbid")

    near_threshold: float = Field(default=0.85, gt=0.0, le=1.0, description="Jaccard of shingles: near duplicate")
    shingle: int = Field(default=3, ge=1, description="words per shingle")
    num_perm: int = Field(default=128, ge=16, description="MinHash permutations")
    seed: int = 1


@dataclass
class DedupResult:
    """The items kept, in order, and the ids dropped for each reason."""

    kept: list[Item]
    dropped: dict[str, list[str]] = field(default_factory=lambda: {reason: [] for reason in REASONS})

    def counts(self) -> dict[str, int]:
        return {reason: len(ids) for reason, ids in self.dropped.items()}


def normalised_parts(item: Item) -> list[str]:
    """The normalised question of `item`, then its normalised options in sorted order."""
    return [normalise_text(item.question), *sorted(normalise_text(option.text) for option in item.options)]


def exact_key(parts: list[str]) -> str:
    """The exact-duplicate key of an item's `normalised_parts`: question and options, order-free."""
    return "\x1f".join(parts)


def path_key(item: Item) -> tuple[str, ...]:
    """Start, relation path, answer (the key) and type of `item`: the fact it asks about.

    The start is what the question states: its start entity, or a vignette's findings and mode of
    inheritance; the relation path is its chain of steps, else the predicates of its evidence path.
    """
    stated = sorted(value for c in item.constraints if c.kind != "chain_step" for value in c.args.values())
    start = ",".join(stated) if stated else (item.path[0].subject if item.path else "")
    steps = [c.args["step"] for c in item.constraints if c.kind == "chain_step" and "step" in c.args]
    relations = steps or [t.predicate for t in item.path]
    return (start, "/".join(relations), item.answer.curie, item.type)


def shingles(parts: list[str], *, size: int) -> list[str]:
    """The distinct word shingles of an item's `normalised_parts` (question, then options), sorted."""
    words = " | ".join(parts).split()
    return sorted(set(word_ngrams(words, size)))


_CHUNK = 2048  # items per vectorised MinHash block (bounds the memory of the shingles x permutations array)
_MASK32 = np.uint64(0xFFFFFFFF)


def minhash_signatures(shingle_sets: Iterable[list[str]], *, count: int, num_perm: int, seed: int) -> np.ndarray:
    """One MinHash signature (`num_perm` uint32 minima) for each of `count` shingle sets, many at a time.

    Each shingle is hashed by xxh32; permutation k maps a hash h to (a_k * h + b_k) mod 2**32 with a
    random odd a_k (a bijection of 32-bit values), so the signatures depend only on the shingles and seed.
    The sets are consumed block by block, so a generator keeps only one block of shingles in memory.
    """
    import xxhash

    rng = np.random.default_rng(seed)
    a = (rng.integers(0, 2**31, size=num_perm, dtype=np.uint64) << np.uint64(1)) | np.uint64(1)
    b = rng.integers(0, 2**32, size=num_perm, dtype=np.uint64)
    out = np.empty((count, num_perm), dtype=np.uint32)
    sets = iter(shingle_sets)
    for start in range(0, count, _CHUNK):
        block = list(islice(sets, _CHUNK))
        sizes = np.array([max(len(grams), 1) for grams in block])
        hashes = np.array(
            [xxhash.xxh32_intdigest(g.encode()) for grams in block for g in (grams or [""])], dtype=np.uint64
        )
        permuted = (hashes[:, None] * a[None, :] + b[None, :]) & _MASK32
        offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        out[start : start + len(block)] = np.minimum.reduceat(permuted, offsets, axis=0)
    return out


def lsh_bands(num_perm: int, threshold: float) -> tuple[int, int]:
    """Bands and rows per band for LSH: the most rows whose approximate threshold (1/b)**(1/r) stays below
    `threshold`, so that pairs at the threshold are almost always candidates (each is then verified).

    >>> lsh_bands(128, 0.85)
    (16, 8)
    """
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        if num_perm % rows == 0 and (1 / (num_perm // rows)) ** (1 / rows) <= threshold:
            best = (num_perm // rows, rows)
    return best


def dedup(items: Sequence[Item], *, config: DedupConfig | None = None) -> DedupResult:
    """Keep the first of each group of duplicate items (see the module docstring), in order.

    >>> from kgsynth.questions.item import Answer
    >>> a = Item.model_construct(id="a", question="Q?", options=[], answer=Answer(curie="X:1", name="x"),
    ...                          type="chain", constraints=[], path=[])
    >>> [it.id for it in dedup([a, a.model_copy(update={"id": "b", "question": "q"})]).kept]
    ['a']
    """
    config = config or DedupConfig()
    result = DedupResult(kept=[])
    seen_exact: set[str] = set()
    seen_path: set[tuple[str, ...]] = set()
    parts = [normalised_parts(item) for item in items]
    signatures = minhash_signatures(
        (shingles(p, size=config.shingle) for p in parts), count=len(parts), num_perm=config.num_perm, seed=config.seed
    )
    bands, rows = lsh_bands(config.num_perm, config.near_threshold)
    buckets: list[dict[bytes, list[int]]] = [{} for _ in range(bands)]
    for index, (item, item_parts) in enumerate(zip(items, parts, strict=True)):
        key = exact_key(item_parts)
        if key in seen_exact:
            result.dropped["exact"].append(item.id)
            continue
        fact = path_key(item)
        if fact in seen_path:
            result.dropped["path_key"].append(item.id)
            continue
        signature = signatures[index]
        keys = [signature[band * rows : (band + 1) * rows].tobytes() for band in range(bands)]
        candidates = {other for band, k in enumerate(keys) for other in buckets[band].get(k, ())}
        if any(np.mean(signatures[other] == signature) >= config.near_threshold for other in candidates):
            result.dropped["near"].append(item.id)
            continue
        seen_exact.add(key)
        seen_path.add(fact)
        for band, k in enumerate(keys):
            buckets[band].setdefault(k, []).append(index)
        result.kept.append(item)
    logger.info("dedup: kept %d of %d; dropped %s", len(result.kept), len(items), result.counts())
    return result
