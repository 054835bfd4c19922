"""Splits: train / validation / test, stratified by question type and hops, disjoint by entity.

An item's entities depend on `split_by`:

- `answer`: its key (the proven answer) and its hidden entities (the intermediate entities of its
  evidence path that the question does not name -- a vignette's hidden diagnosis among them);
- `path`: every entity on its evidence path, and its key;
- `random`: none (a stratified random split, no disjointness).

No entity of a validation or test item is an entity of a train item, nor of an item of the other
held-out split. Real graphs connect almost every item to every other through shared entities, so
the held-out splits cannot be whole connected groups; instead, per stratum (type, hops), the items
whose entities are shared with the fewest others are held out first (ties broken by a seeded hash);
then a train item that shares an entity with one held-out split joins it when that keeps no further
item out of train (so the held-out splits may be somewhat larger than asked); the train items that
would still share an entity with a held-out item are dropped (`dropped_for_overlap`) rather than
leak it.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kgsynth.faithfulness import intermediate_entities
from kgsynth.item import Item

logger = logging.getLogger(__name__)

SplitBy = Literal["answer", "path", "random"]
SPLITS = ("train", "validation", "test")


class SplitConfig(BaseModel):
    """How the items are split."""

    model_config = ConfigDict(extra="forbid")

    split_by: SplitBy = "answer"
    validation_size: float = Field(default=0.1, ge=0.0, lt=1.0, description="share of the items")
    test_size: float = Field(default=0.1, ge=0.0, lt=1.0, description="share of the items")
    seed: int = 0

    @model_validator(mode="after")
    def _room_for_train(self) -> SplitConfig:
        if self.validation_size + self.test_size >= 1.0:
            raise ValueError("validation_size + test_size must leave room for a train split (sum < 1)")
        return self


@dataclass
class SplitResult:
    """The items of each split, in input order, and the ids dropped so that no entity leaks into train."""

    splits: dict[str, list[Item]] = field(default_factory=lambda: {name: [] for name in SPLITS})
    dropped_for_overlap: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            **{name: len(items) for name, items in self.splits.items()},
            "dropped_for_overlap": len(self.dropped_for_overlap),
        }


def item_entities(item: Item, *, split_by: SplitBy) -> frozenset[str]:
    """The entities that must not be shared across splits (see the module docstring)."""
    if split_by == "random":
        return frozenset()
    if split_by == "path":
        return frozenset({item.answer.curie, *(c for t in item.path for c in (t.subject, t.object))})
    return frozenset({item.answer.curie, *intermediate_entities(item)})


def stratum(item: Item) -> tuple[str, int]:
    """What splits are stratified by: question type and hops."""
    return (item.type, item.hops)


def _rank(seed: int, item_id: str) -> str:
    return hashlib.sha256(f"{seed}\x00{item_id}".encode()).hexdigest()


# Held-out items are taken in passes of growing cost: first those that block no train item more.
_PASSES = (0, 1, 2, 4, 8, 16, 32, 64, 1 << 30)


@dataclass
class _State:
    entities: dict[str, frozenset[str]]
    postings: dict[str, list[str]]  # entity -> ids of the items that have it
    held: dict[str, set[str]] = field(default_factory=lambda: {"validation": set(), "test": set()})
    taken: dict[str, set[str]] = field(default_factory=lambda: {"validation": set(), "test": set()})

    def blocks(self, item_id: str, name: str, limit: int) -> int:
        """How many items not yet touched by a held-out split `item_id` would keep out of train (up to limit+1)."""
        touched = self.taken["validation"] | self.taken["test"]
        count, seen = 0, {item_id}
        for entity in self.entities[item_id] - self.taken[name]:
            for other in self.postings[entity]:
                if other in seen or other in self.held["validation"] or other in self.held["test"]:
                    continue
                seen.add(other)
                if not (self.entities[other] & touched):
                    count += 1
                    if count > limit:
                        return count
        return count

    def hold(self, item_id: str, name: str) -> None:
        self.held[name].add(item_id)
        self.taken[name] |= self.entities[item_id]


def _absorb(items: Sequence[Item], state: _State) -> None:
    """Hold out, with the split whose entities it shares, every item that train would lose anyway and
    whose other entities keep no further item out of train (so held-out splits may exceed their share)."""
    changed = True
    while changed:
        changed = False
        for item in items:
            if item.id in state.held["test"] or item.id in state.held["validation"]:
                continue
            mine = state.entities[item.id]
            touches = [name for name in ("test", "validation") if mine & state.taken[name]]
            if len(touches) == 1 and state.blocks(item.id, touches[0], 0) == 0:
                state.hold(item.id, touches[0])
                changed = True


def split_items(items: Sequence[Item], *, config: SplitConfig | None = None) -> SplitResult:
    """Split `items` into train, validation and test (see the module docstring); deterministic given the seed."""
    config = config or SplitConfig()
    entities = {item.id: item_entities(item, split_by=config.split_by) for item in items}
    postings: dict[str, list[str]] = defaultdict(list)
    for item in items:
        for entity in sorted(entities[item.id]):
            postings[entity].append(item.id)
    state = _State(entities, dict(postings))
    by_stratum: dict[tuple[str, int], list[str]] = defaultdict(list)
    for item in items:
        by_stratum[stratum(item)].append(item.id)
    wanted: dict[tuple[str, int], dict[str, int]] = {}
    for key, members in by_stratum.items():
        members.sort(key=lambda item_id: _rank(config.seed, item_id))
        wanted[key] = {
            "test": round(config.test_size * len(members)),
            "validation": round(config.validation_size * len(members)),
        }

    for limit in _PASSES:
        for key in sorted(by_stratum):
            for item_id in by_stratum[key]:
                if not any(wanted[key].values()):
                    break
                if item_id in state.held["test"] or item_id in state.held["validation"]:
                    continue
                for name, other in (("test", "validation"), ("validation", "test")):
                    if not wanted[key][name] or entities[item_id] & state.taken[other]:
                        continue
                    if state.blocks(item_id, name, limit) <= limit:
                        state.hold(item_id, name)
                        wanted[key][name] -= 1
                    break

    _absorb(items, state)
    result = SplitResult()
    leaked = state.taken["validation"] | state.taken["test"]
    for item in items:
        if item.id in state.held["test"]:
            result.splits["test"].append(item)
        elif item.id in state.held["validation"]:
            result.splits["validation"].append(item)
        elif entities[item.id] & leaked:
            result.dropped_for_overlap.append(item.id)
        else:
            result.splits["train"].append(item)
    logger.info("split by %s: %s", config.split_by, result.counts())
    return result
