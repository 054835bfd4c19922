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
no further cost (other questions with the same key, say); only the first `PRICE_CAP` items it would
drop are looked at. A priority queue of prices (ties in a seeded-hash order) is updated lazily: the
cheapest item is priced afresh when it comes out and taken if it is still no dearer than the next,
else queued again; after each choice the items it drops, and those protecting an entity it newly
guards, are priced again (they became cheaper). The items a choice drops that can follow it for free
join the split while their stratum still wants items. So each step looks at a bounded number of items,
not at all of them (the passes this replaced took 262 s on 10,000 items; `bench/bench_export.py`).
Held-out splits never exceed their wanted counts; the train items exposing a held-out protected
entity are dropped (`dropped_for_overlap`) rather than leak it.
"""

from __future__ import annotations

import hashlib
import heapq
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


# How many of the items a choice would drop its price looks at (see `_Selection.price`).
PRICE_CAP = 64


@dataclass
class _Selection:
    protected: dict[str, frozenset[str]]
    exposed: dict[str, frozenset[str]]
    exposing: dict[str, dict[str, None]]  # entity -> the live items exposing it (not held out, not dropped)
    split_of: dict[str, str] = field(default_factory=dict)  # held-out id -> its split
    guarded: dict[str, set[str]] = field(default_factory=lambda: {name: set() for name in HELD_OUT})
    shown: dict[str, set[str]] = field(default_factory=lambda: {name: set() for name in HELD_OUT})
    dropped: set[str] = field(default_factory=set)
    newly_guarded: list[str] = field(default_factory=list)  # entities guarded since the queue last looked

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

    def price(self, item_id: str, name: str, room: Callable[[str], bool], *, cap: int | None = None) -> float:
        """Train items lost per held-out slot when `item_id` joins `name` together with the items it drops
        that could follow it at no further cost (`room(other)`: the other's stratum still wants items).

        With `cap`, only the first `cap` items it would drop are looked at (the price of that prefix):
        an item that drops that many is among the dearest either way, and looking further is what made
        the split quadratic in an entity's item count.
        """
        guarded, mine, protected = self.guarded[name], self.protected[item_id], self.protected
        limit = cap if cap is not None else len(self.protected)
        drops = follow = 0
        seen = {item_id}
        # `_newly_dropped`, inlined: this loop is where a split spends its time
        for entity in sorted(mine - guarded):
            for other in self.exposing[entity]:
                if other in seen:
                    continue
                seen.add(other)
                drops += 1
                if protected[other] - mine <= guarded and room(other) and self.allowed(other, name):
                    follow += 1
                if drops >= limit:
                    break
            if drops >= limit:
                break
        drops -= 1 if item_id in self.dropped else 0
        return (drops - follow) / (1 + follow)

    def _kill(self, item_id: str) -> None:
        """`item_id` was held out or dropped: it no longer counts among the items exposing its entities."""
        for entity in self.exposed[item_id]:
            self.exposing[entity].pop(item_id, None)

    def _newly_dropped(self, item_id: str, name: str) -> Iterator[str]:
        seen = {item_id}
        for entity in sorted(self.protected[item_id] - self.guarded[name]):
            for other in self.exposing[entity]:  # only live items: `_kill` removes the others
                if other in seen:
                    continue
                seen.add(other)
                yield other

    def hold(self, item_id: str, name: str) -> list[str]:
        """Hold `item_id` out in `name`; return the items this newly drops, in a deterministic order."""
        self.split_of[item_id] = name
        self.dropped.discard(item_id)
        self._kill(item_id)
        self.shown[name] |= self.exposed[item_id]
        newly: list[str] = []
        for entity in sorted(self.protected[item_id] - self.guarded[name]):
            self.guarded[name].add(entity)
            self.newly_guarded.append(entity)
            for other in list(self.exposing[entity]):
                self.dropped.add(other)
                self._kill(other)
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


def _choose_split(selection: _Selection, item_id: str, wanted: Wanted, strata: Strata) -> tuple[float, str] | None:
    """The cheaper held-out split `item_id` may join (then the one wanting more), with its price; None
    when neither wants its stratum or allows it (which never changes back)."""
    best: tuple[float, int, int] | None = None
    chosen = None
    for order, name in enumerate(HELD_OUT):
        if wanted[strata[item_id]][name] <= 0 or not selection.allowed(item_id, name):
            continue

        def room(other: str, split: str = name) -> bool:
            return wanted[strata[other]][split] > 0

        price = selection.price(item_id, name, room, cap=PRICE_CAP)
        rank = (price, -wanted[strata[item_id]][name], order)
        if best is None or rank < best:
            best, chosen = rank, name
    return None if best is None or chosen is None else (best[0], chosen)


def _take(selection: _Selection, item_id: str, name: str, wanted: Wanted, strata: Strata) -> list[str]:
    """Hold `item_id` out in `name`, then every item this drops that can follow it at no further cost
    while its stratum still wants items; return the items newly dropped (and not held out)."""
    work = [item_id]
    dropped: list[str] = []
    while work:
        current = work.pop()
        if current in selection.split_of or wanted[strata[current]][name] <= 0:
            continue
        if current != item_id and not (selection.allowed(current, name) and selection.cost(current, name, -1) < 0):
            continue
        wanted[strata[current]][name] -= 1
        newly = selection.hold(current, name)
        dropped += newly
        work.extend(reversed(newly))
    return [other for other in dropped if other not in selection.split_of]


def hold_out(selection: _Selection, ids: Sequence[str], wanted: Wanted, strata: Strata, *, seed: int) -> None:
    """Fill the held-out splits cheapest first from a priority queue of prices, updated lazily.

    Every item enters at its price before anything is held out. The cheapest is taken when its price,
    computed afresh, is still no dearer than the next one queued; otherwise it goes back at its new price.
    An item a choice drops goes back one cheaper (holding a dropped item out saves nothing more). Items
    of a stratum that wants no more, or that neither split allows any longer, leave the queue for good.
    """

    def room(other: str) -> bool:
        return any(count > 0 for count in wanted[strata[other]].values())

    protecting: dict[str, list[str]] = defaultdict(list)
    for item_id in ids:
        for entity in selection.protected[item_id]:
            protecting[entity].append(item_id)
    keys = {item_id: selection.price(item_id, HELD_OUT[0], room, cap=PRICE_CAP) for item_id in ids}
    ranks = {item_id: _rank(seed, item_id) for item_id in ids}
    queue = [(keys[item_id], ranks[item_id], item_id) for item_id in ids]
    heapq.heapify(queue)
    while queue:
        key, rank, item_id = heapq.heappop(queue)
        if key != keys[item_id] or item_id in selection.split_of or not room(item_id):
            continue  # a stale entry, or an item with nowhere to go
        choice = _choose_split(selection, item_id, wanted, strata)
        if choice is None:
            continue
        price, name = choice
        if price > key and queue and price > queue[0][0]:
            keys[item_id] = price
            heapq.heappush(queue, (price, rank, item_id))
            continue
        cheaper = set(_take(selection, item_id, name, wanted, strata))
        for other in cheaper:
            keys[other] -= 1.0  # holding it out now saves itself
        # An entity a split now guards costs nothing more to the items protecting it: price them afresh.
        for entity in selection.newly_guarded:
            cheaper.update(other for other in protecting[entity] if other not in selection.split_of)
        selection.newly_guarded.clear()
        for other in sorted(cheaper, key=ranks.__getitem__):
            if not room(other):
                continue
            choice = _choose_split(selection, other, wanted, strata)
            if choice is not None and choice[0] < keys[other]:
                keys[other] = choice[0]
            heapq.heappush(queue, (keys[other], ranks[other], other))


def split_items(items: Sequence[Item], *, config: SplitConfig | None = None) -> SplitResult:
    """Split `items` into train, validation and test (see the module docstring); deterministic given the seed."""
    config = config or SplitConfig()
    protected = {item.id: protected_entities(item, split_by=config.split_by) for item in items}
    exposed = {item.id: exposed_entities(item, split_by=config.split_by) for item in items}
    exposing: dict[str, dict[str, None]] = defaultdict(dict)
    for item in items:
        for entity in sorted(exposed[item.id]):
            exposing[entity][item.id] = None
    selection = _Selection(protected, exposed, dict(exposing))
    strata = {item.id: stratum(item, by_direction=config.by_direction) for item in items}
    by_stratum: dict[Stratum, list[str]] = defaultdict(list)
    for item in items:
        by_stratum[strata[item.id]].append(item.id)
    wanted = _wanted_counts(by_stratum, config)
    hold_out(selection, [item.id for item in items], wanted, strata, seed=config.seed)

    result = split_result(items, selection)
    logger.info("split by %s: %s", config.split_by, result.counts())
    return result


def split_result(items: Sequence[Item], selection: _Selection) -> SplitResult:
    """The items in their splits, in input order: held out as ``selection`` chose, dropped for overlap, or
    train."""
    result = SplitResult()
    for item in items:
        if item.id in selection.split_of:
            result.splits[selection.split_of[item.id]].append(item)
        elif item.id in selection.dropped:
            result.dropped_for_overlap.append(item.id)
        else:
            result.splits["train"].append(item)
    return result
