"""The walk of a chain item: the direction of each hop, the candidate chains its open-book facts hold, and the
facts worded in the order the question walks them.

A chain question walks its evidence path from its start; a hop walks an edge subject -> object
("F", along the edge's stored wording) or object -> subject ("I", against it). An open-book item's
facts hold the gold chain and one decoy chain per distractor, each a walk along the same metapath, and
dead-end branches off each chain's first hop (`kgsynth.questions.openbook`), so walking the gold path's steps
from every entity of the facts finds every chain.

Worded in walk order, every fact a chain walks against its stored direction is spoken with the schema's
``inverse`` sentence, so each fact reads START ... NEXT the way the question (and the SFT chain
``START → NEXT``) walks it: a model that learns to copy what follows the start in the facts then needs
no reverse lookup (`docs/evaluation.md`, the learning pilot).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from kgsynth.questions.item import Item, Triple
from kgsynth.questions.wording import mid_sentence

logger = logging.getLogger(__name__)

FORWARD, AGAINST = "F", "I"  # a hop along the edge's stored direction, or against it
NO_WALK = "none"  # the direction pattern of an item without a single walk (a vignette)


@dataclass(frozen=True)
class Hop:
    """One hop of a walk: its predicate, and whether it walks the edge object -> subject."""

    predicate: str
    against: bool


def start_entity(item: Item) -> str | None:
    """The question's start (its `start` constraint's entity), or None (a vignette)."""
    for constraint in item.constraints:
        if constraint.kind == "start" and (constraint.args or {}).get("entity"):
            return constraint.args["entity"]
    return None


def gold_walk(item: Item) -> tuple[list[str], list[Hop]] | None:
    """The entities of the evidence path in walk order from the start, and its hops; None when the path is
    not one walk from the start (a vignette, a branching path).

    >>> from kgsynth.questions.item import Constraint
    >>> t = Triple(subject="G:1", subject_name="KIT", predicate="p", object="D:1", object_name="D",
    ...            source="", licence="")
    >>> start = Constraint(description="", kind="start", candidates_after=1, args={"entity": "D:1"})
    >>> gold_walk(Item.model_construct(path=[t], constraints=[start]))
    (['D:1', 'G:1'], [Hop(predicate='p', against=True)])
    """
    start = start_entity(item)
    if start is None or not item.path:
        return None
    order, hops = [start], []
    for triple in item.path:
        if triple.subject == order[-1]:
            order.append(triple.object)
            hops.append(Hop(triple.predicate, False))
        elif triple.object == order[-1]:
            order.append(triple.subject)
            hops.append(Hop(triple.predicate, True))
        else:
            return None
    return order, hops


def direction_pattern(item: Item) -> str | None:
    """The item's hops as `F` (along the stored edge) or `I` (against it), in walk order: `"IF"`; None
    without a single walk."""
    walk = gold_walk(item)
    return None if walk is None else "".join(AGAINST if hop.against else FORWARD for hop in walk[1])


def _step(triple: Triple, hop: Hop, here: str) -> str | None:
    """Where ``hop`` leads from ``here`` over ``triple``, or None when it does not start there."""
    if triple.predicate != hop.predicate:
        return None
    frm, to = (triple.object, triple.subject) if hop.against else (triple.subject, triple.object)
    return to if frm == here else None


def fact_walks(item: Item) -> list[tuple[list[str], list[int]]]:
    """The chains the facts hold, gold first: each as its entities in walk order and the indices (into
    ``item.context``) of the facts it walks. Decoys share no entity with the gold chain or an earlier
    decoy. Empty for an item without facts or without a single walk."""
    walk = gold_walk(item)
    if walk is None or not item.context:
        return []
    order, hops = walk
    starts = list(dict.fromkeys(e for t in item.context for e in (t.subject, t.object)))
    walks: list[tuple[list[str], list[int]]] = [([s], []) for s in starts]
    for hop in hops:
        walks = [
            ([*entities, to], [*edges, k])
            for entities, edges in walks
            for k, triple in enumerate(item.context)
            if (to := _step(triple, hop, entities[-1])) is not None and to not in entities
        ]
    gold = [w for w in walks if w[0] == order]
    if not gold:
        return []
    chains, taken = [gold[0]], set(order)
    for entities, edges in walks:
        if not taken & set(entities):
            chains.append((entities, edges))
            taken |= set(entities)
    return chains


def names_of(item: Item) -> dict[str, str]:
    """Every entity of the path and the facts by CURIE, named as stems and facts write it (`mid_sentence`)."""
    names: dict[str, str] = {}
    for triple in [*item.path, *item.context]:
        names.setdefault(triple.subject, mid_sentence(triple.subject, triple.subject_name))
        names.setdefault(triple.object, mid_sentence(triple.object, triple.object_name))
    return names


def candidate_chains(item: Item) -> tuple[tuple[str, ...], ...]:
    """The chains of an open-book item's facts by name, start first, gold first (`fact_walks`)."""
    names = names_of(item)
    return tuple(tuple(names[e] for e in entities) for entities, _ in fact_walks(item))


def path_against(item: Item) -> list[bool]:
    """Per edge of ``item.path``, whether the question's walk crosses it object -> subject (all False without
    a single walk)."""
    walk = gold_walk(item)
    return [hop.against for hop in walk[1]] if walk is not None else [False] * len(item.path)


def facts_against(item: Item) -> list[bool]:
    """Per fact of ``item.context``, whether the chain that holds it walks it object -> subject; a branch (a
    first hop from a chain's start that no chain walks on, `kgsynth.questions.openbook.branch_facts`) is read
    as that first hop; any other fact keeps its stored direction (False)."""
    against = [False] * len(item.context)
    walk = gold_walk(item)
    if walk is None:
        return against
    first = walk[1][0] if walk[1] else None
    for entities, edges in fact_walks(item):
        for k, hop in zip(edges, walk[1], strict=True):
            against[k] = hop.against
        if first is not None:
            for k, triple in enumerate(item.context):
                if k not in edges and _step(triple, first, entities[0]) is not None:
                    against[k] = first.against
    return against


def direction_counts(items: Sequence[Item]) -> dict[str, int]:
    """How many items have each direction pattern (`direction_pattern`; `none`: no single walk, a vignette).

    >>> direction_counts([])
    {}
    """
    counts = Counter(direction_pattern(item) or NO_WALK for item in items)
    return dict(sorted(counts.items()))
