"""Dedup: drop items that repeat another, for one of three reasons, counted per reason.

In item order, an item is dropped when an earlier kept item has

- `exact`: the same normalised question and the same normalised options (in any order);
- `path_key`: the same start entity, relation path, answer (the key) and question type -- the same
  fact asked again in other words;
- `near`: an estimated Jaccard similarity of word shingles (question and sorted options) of at least
  `near_threshold`, found by MinHash LSH (`datasketch`) and confirmed on the two MinHashes.

The first occurrence is kept, so the result depends only on the items and their order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from kgsynth.item import Item
from kgsynth.text import normalise_text, word_ngrams

logger = logging.getLogger(__name__)

REASONS = ("exact", "path_key", "near")


class DedupConfig(BaseModel):
    """How near two items must be to count as duplicates."""

    model_config = ConfigDict(extra="forbid")

    near_threshold: float = Field(default=0.85, gt=0.0, le=1.0, description="Jaccard of shingles: near duplicate")
    shingle: int = Field(default=3, ge=1, description="words per shingle")
    num_perm: int = Field(default=64, ge=16, description="MinHash permutations")
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


def shingles(parts: list[str], *, size: int) -> list[bytes]:
    """The word shingles of an item's `normalised_parts` (question, then options), as bytes for MinHash."""
    words = " | ".join(parts).split()
    return sorted({gram.encode() for gram in word_ngrams(words, size)})


def _hash32(data: bytes) -> int:
    import xxhash

    return xxhash.xxh32_intdigest(data)


def dedup(items: Sequence[Item], *, config: DedupConfig | None = None) -> DedupResult:
    """Keep the first of each group of duplicate items (see the module docstring), in order.

    >>> from kgsynth.item import Answer
    >>> a = Item.model_construct(id="a", question="Q?", options=[], answer=Answer(curie="X:1", name="x"),
    ...                          type="chain", constraints=[], path=[])
    >>> [it.id for it in dedup([a, a.model_copy(update={"id": "b", "question": "q"})]).kept]
    ['a']
    """
    from datasketch import MinHash, MinHashLSH

    config = config or DedupConfig()
    result = DedupResult(kept=[])
    seen_exact: set[str] = set()
    seen_path: set[tuple[str, ...]] = set()
    lsh = MinHashLSH(threshold=config.near_threshold, num_perm=config.num_perm)
    hashes: dict[str, MinHash] = {}
    # One set of permutations for every MinHash (building them per item costs more than the hashing).
    parts = [normalised_parts(item) for item in items]
    minhashes = MinHash.generator(
        (shingles(p, size=config.shingle) for p in parts), num_perm=config.num_perm, seed=config.seed, hashfunc=_hash32
    )
    for item, item_parts, minhash in zip(items, parts, minhashes, strict=True):
        key = exact_key(item_parts)
        if key in seen_exact:
            result.dropped["exact"].append(item.id)
            continue
        fact = path_key(item)
        if fact in seen_path:
            result.dropped["path_key"].append(item.id)
            continue
        similar = [other for other in lsh.query(minhash) if hashes[other].jaccard(minhash) >= config.near_threshold]
        if similar:
            result.dropped["near"].append(item.id)
            continue
        seen_exact.add(key)
        seen_path.add(fact)
        lsh.insert(item.id, minhash)
        hashes[item.id] = minhash
        result.kept.append(item)
    logger.info("dedup: kept %d of %d; dropped %s", len(result.kept), len(items), result.counts())
    return result
