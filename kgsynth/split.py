"""Splits: train / validation / test, stratified by question type and hops (and direction pattern), disjoint by entity.

Each item has protected entities (what a held-out item must keep unseen) and exposed entities (what a
train item reveals), depending on `split_by`:

- `answer` (default): protected = its key (the proven answer) and, for a vignette, its hidden diagnosis
  (the disease whose phenotype edges the stated findings are, `kgsynth.audit.hidden_diagnosis`);
  exposed = its key, its hidden diagnosis and its other hidden entities (the intermediate entities of
  its evidence path that the question does not name, `kgsynth.faithfulness.intermediate_entities`,
  less the findings and inheritance mode its constraints state);
- `path`: both = every entity on its evidence path, and its key (symmetric);
- `random`: both empty (a stratified random split, no disjointness).

The rule: no protected entity of a validation or test item is exposed by a train item, nor by an item
of the other held-out split (each way). So under `answer` no key or hidden diagnosis of the test split
is a key or hidden entity of train; a held-out item's other hidden entities may appear in train.

Real graphs connect almost every item to every other, so the held-out splits cannot be whole
connected groups. Per stratum (type, hops) each held-out split wants round(size * stratum size) items,
and items are held out cheapest first. An item's price for a split is the number of train items it
would drop (those exposing one of its protected entities the split does not protect yet), minus one
when it would itself be dropped, spread over the items it drops that could follow it into the split at
no further cost (other questions with the same key, say). Passes of growing price limit (-1, 0, 0.25,
0.5, 1, 2, ...) sweep each stratum in a seeded-hash order until nothing more fits; after each choice,
the items it drops that can follow it for free join the split while their stratum still wants items.
Held-out splits never exceed their wanted counts; the train items exposing a held-out protected
entity are dropped (`dropped_for_overlap`) rather than leak it.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kgsynth.audit import hidden_diagnosis
from kgsynth.faithfulness import intermediate_entities
from kgsynth.item import Item
from kgsynth.walk import direction_pattern

logger = logging.getLogger(__name__)

SplitBy = Literal["answer", "path", "random"]
SPLITS = ("train", "validation", "test")
HELD_OUT = ("test", "validation")


class SplitConfig(BaseModel):
    """How the items are split."""

    model_config = ConfigDict(extra="forbid")

    split_by: SplitBy = "answer"
    validation_size: float = Field(default=0.1, ge=0.0, lt=1.0, description="share of the items")
    test_size: float = Field(default=0.1, ge=0.0, lt=1.0, description="share of the items")
    seed: int = 0
    by_direction: bool = Field(
        default=False,
        description="also stratify by each item's direction pattern (per hop: along or against the stored edge, "
        "`kgsynth.walk.direction_pattern`), so train and test need the same lookups; costs dropped items "
        "under split_by path",
    )

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


def _path_entities(item: Item) -> frozenset[str]:
    return frozenset({item.answer.curie, *(c for t in item.path for c in (t.subject, t.object))})


def protected_entities(item: Item, *, split_by: SplitBy) -> frozenset[str]:
    """The entities of a held-out item that no train item may expose (see the module docstring)."""
    if split_by == "random":
        return frozenset()
    if split_by == "path":
        return _path_entities(item)
    diagnosis = hidden_diagnosis(item)
    return frozenset({item.answer.curie} | ({diagnosis} if diagnosis else set()))


def exposed_entities(item: Item, *, split_by: SplitBy) -> frozenset[str]:
    """The entities a train item reveals (see the module docstring); always includes the protected ones."""
    if split_by != "answer":
        return protected_entities(item, split_by=split_by)
    stated = {value for c in item.constraints if c.kind != "start" for value in (c.args or {}).values()}
    hidden = {curie for curie in intermediate_entities(item) if curie not in stated}
    return protected_entities(item, split_by=split_by) | hidden


def stratum(item: Item, *, by_direction: bool = False) -> tuple[str, int, str]:
    """What splits are stratified by: question type and hops, and with `by_direction` the item's direction
    pattern (`FI`: its first hop along its edge's stored direction, its second against it)."""
    return (item.type, item.hops, (direction_pattern(item) or "") if by_direction else "")


def _rank(seed: int, item_id: str) -> str:
    return hashlib.sha256(f"{seed}\x00{item_id}".encode()).hexdigest()


# Held-out items are taken in passes of growing price: first those that save a train item, then those that drop none.
_PASSES = (-1.0, 0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0, float(1 << 30))


@dataclass
class _Selection:
    protected: dict[str, frozenset[str]]
    exposed: dict[str, frozenset[str]]
    exposing: dict[str, list[str]]  # entity -> ids of the items exposing it, in input order
    split_of: dict[str, str] = field(default_factory=dict)  # held-out id -> its split
    guarded: dict[str, set[str]] = field(default_factory=lambda: {name: set() for name in HELD_OUT})
    shown: dict[str, set[str]] = field(default_factory=lambda: {name: set() for name in HELD_OUT})
    dropped: set[str] = field(default_factory=set)

    def allowed(self, item_id: str, name: str) -> bool:
        """`item_id` may join `name`: the other held-out split neither protects what it exposes nor exposes
        what it protects."""
        other = HELD_OUT[1 - HELD_OUT.index(name)]
        return not (self.exposed[item_id] & self.guarded[other] or self.protected[item_id] & self.shown[other])

    def cost(self, item_id: str, name: str, limit: int) -> int:
        """How many train items holding `item_id` out in `name` drops, less one if it is dropped already
        (counting stops above `limit`)."""
        count = -1 if item_id in self.dropped else 0
        for _ in self._newly_dropped(item_id, name):
            count += 1
            if count > limit:
                return count
        return count

    def price(self, item_id: str, name: str, room: Callable[[str], bool]) -> float:
        """Train items lost per held-out slot when `item_id` joins `name` together with the items it drops
        that could follow it at no further cost (`room(other)`: the other's stratum still wants items)."""
        guarded, mine = self.guarded[name], self.protected[item_id]
        drops = follow = 0
        for other in self._newly_dropped(item_id, name):
            drops += 1
            covered = all(entity in mine or entity in guarded for entity in self.protected[other])
            if covered and room(other) and self.allowed(other, name):
                follow += 1
        drops -= 1 if item_id in self.dropped else 0
        return (drops - follow) / (1 + follow)

    def _newly_dropped(self, item_id: str, name: str) -> Iterator[str]:
        seen = {item_id}
        for entity in sorted(self.protected[item_id] - self.guarded[name]):
            for other in self.exposing[entity]:
                if other in seen or other in self.split_of or other in self.dropped:
                    continue
                seen.add(other)
                yield other

    def hold(self, item_id: str, name: str) -> list[str]:
        """Hold `item_id` out in `name`; return the items this newly drops, in a deterministic order."""
        self.split_of[item_id] = name
        self.dropped.discard(item_id)
        self.shown[name] |= self.exposed[item_id]
        newly: list[str] = []
        for entity in sorted(self.protected[item_id] - self.guarded[name]):
            self.guarded[name].add(entity)
            for other in self.exposing[entity]:
                if other not in self.split_of and other not in self.dropped:
                    self.dropped.add(other)
                    newly.append(other)
        return newly


Stratum = tuple[str, int, str]
Strata = dict[str, Stratum]  # item id -> its stratum
Wanted = dict[Stratum, dict[str, int]]  # stratum -> held-out split -> items still wanted


def _wanted_counts(by_stratum: dict[Stratum, list[str]], config: SplitConfig) -> Wanted:
    return {
        key: {
            "test": round(config.test_size * len(members)),
            "validation": round(config.validation_size * len(members)),
        }
        for key, members in by_stratum.items()
    }


def _choose_split(selection: _Selection, item_id: str, wanted: Wanted, limit: float, strata: Strata) -> str | None:
    """The held-out split `item_id` joins at this pass's limit on its price: the cheaper, then the one wanting more."""
    best: tuple[float, int, int] | None = None
    chosen = None
    for order, name in enumerate(HELD_OUT):
        if wanted[strata[item_id]][name] <= 0 or not selection.allowed(item_id, name):
            continue

        def room(other: str, split: str = name) -> bool:
            return wanted[strata[other]][split] > 0

        price = selection.price(item_id, name, room)
        rank = (price, -wanted[strata[item_id]][name], order)
        if price <= limit and (best is None or rank < best):
            best, chosen = rank, name
    return chosen


def _take(selection: _Selection, item_id: str, name: str, wanted: Wanted, strata: Strata) -> None:
    """Hold `item_id` out in `name`, then every item this drops that can follow it at no further cost
    while its stratum still wants items."""
    work = [item_id]
    while work:
        current = work.pop()
        if current in selection.split_of or wanted[strata[current]][name] <= 0:
            continue
        if current != item_id and not (selection.allowed(current, name) and selection.cost(current, name, -1) < 0):
            continue
        wanted[strata[current]][name] -= 1
        work.extend(reversed(selection.hold(current, name)))


def split_items(items: Sequence[Item], *, config: SplitConfig | None = None) -> SplitResult:
    """Split `items` into train, validation and test (see the module docstring); deterministic given the seed."""
    config = config or SplitConfig()
    protected = {item.id: protected_entities(item, split_by=config.split_by) for item in items}
    exposed = {item.id: exposed_entities(item, split_by=config.split_by) for item in items}
    exposing: dict[str, list[str]] = defaultdict(list)
    for item in items:
        for entity in sorted(exposed[item.id]):
            exposing[entity].append(item.id)
    selection = _Selection(protected, exposed, dict(exposing))
    strata = {item.id: stratum(item, by_direction=config.by_direction) for item in items}
    by_stratum: dict[Stratum, list[str]] = defaultdict(list)
    for item in items:
        by_stratum[strata[item.id]].append(item.id)
    for members in by_stratum.values():
        members.sort(key=lambda item_id: _rank(config.seed, item_id))
    wanted = _wanted_counts(by_stratum, config)

    for limit in _PASSES:
        progress = True
        while progress:
            progress = False
            for key in sorted(by_stratum):
                for item_id in by_stratum[key]:
                    if not any(count > 0 for count in wanted[key].values()):
                        break
                    if item_id in selection.split_of:
                        continue
                    name = _choose_split(selection, item_id, wanted, limit, strata)
                    if name is not None:
                        _take(selection, item_id, name, wanted, strata)
                        progress = True

    result = SplitResult()
    for item in items:
        if item.id in selection.split_of:
            result.splits[selection.split_of[item.id]].append(item)
        elif item.id in selection.dropped:
            result.dropped_for_overlap.append(item.id)
        else:
            result.splits["train"].append(item)
    logger.info("split by %s: %s", config.split_by, result.counts())
    return result
