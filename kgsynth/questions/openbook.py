"""Open-book chain items (`generate --context facts`): the facts a prompt shows, so that the answer follows
only by chaining from the question's start.

The facts are real edges of the graph: the evidence path's, and for every distractor (for a short answer:
for every decoy endpoint, chosen by the same rules but not shown) one *decoy chain*, a real walk along the
same metapath -- same predicates, directions and hops -- that starts at another entity of the start's
category and ends at that distractor, and for every chain one *branch*, a fact along the chain's first step to
an entity beside its second that continues nowhere. Decoy chains and branches go through the entities most
associated with what the stem states, so they lie in the key's field, not another. No two chains share an
entity (or a normalised name), so in the facts the start reaches the key and nothing else, and every
candidate endpoint ends exactly one chain and is named in exactly one fact.

A multiple-choice chain walk gets its facts while it is picked (:func:`kgsynth.questions.chain.chain_draft`), so a
walk whose end has too few decoy chains costs a walk, not an attempt.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from kgsynth.graph.index import Step
from kgsynth.questions.curation import norm_name
from kgsynth.questions.distractors import ChainTarget, chain_distractors, odd_one_out
from kgsynth.questions.draft import Context, Draft, Drop, association, ow, stated_nodes

logger = logging.getLogger(__name__)

CANDIDATES_PER_DECOY = 4  # distractor candidates asked for per decoy chain needed (one without a chain gives way)
FANOUT = 8  # entities tried per position while walking a decoy chain back from its end
MAX_EXPANSIONS = 64  # entities tried per decoy chain at most


@dataclass(frozen=True)
class OpenBook:
    """An open-book item's decoys (node, rule that chose it) and its facts (edge ids, shuffled)."""

    decoys: list[tuple[int, str]]
    facts: list[int]


@dataclass
class _Taken:
    """What the chains built so far hold: their entities and those entities' normalised names."""

    nodes: set[int]
    names: set[str]


def open_book(ctx: Context, draft: Draft, rng: np.random.Generator) -> OpenBook | Drop:
    """The decoys and facts of a chain draft (:func:`book_of`)."""
    target = ChainTarget(steps=draft.steps, layers=draft.layers, answer=draft.answer, open_prev=draft.open_prev,
                         stated=stated_nodes(ctx, draft.constraints), hidden_ends=draft.fmt == "short",
                         soft_anchor=True)  # fmt: skip
    return book_of(ctx, target, draft.nodes, draft.path_edges, rng)


def book_of(
    ctx: Context, target: ChainTarget, nodes: list[int], path_edges: list[int], rng: np.random.Generator
) -> OpenBook | Drop:
    """The decoys and facts of a walk (``nodes``, ``path_edges``) whose end is ``target``: ``options - 1``
    distractors (tried in the chain rules' order) that each end a decoy chain, or a drop when too few do.

    Each decoy chain is walked back from its distractor through the entities nearest to what the stem states
    (:func:`decoy_chain`), and each chain, the key's too, gets one *branch*: a fact along the first step from its
    first entity to an entity beside its second that continues nowhere in the facts (:func:`branch_facts`), so
    that the start's first fact is not always the chain's and a branch does not mark the key's chain."""
    g = ctx.graph
    k = ctx.config.options - 1
    steps = target.steps
    categories = [int(g.category[n]) for n in nodes]
    layers = walkable_layers(ctx, steps, categories)
    target = dataclasses.replace(target, allowed=layers[-1])
    candidates = chain_distractors(ctx, target, rng, k * CANDIDATES_PER_DECOY)
    if len(candidates) < k:
        return Drop("open book: too few provably wrong distractors end a walk along the metapath")
    taken = _Taken(set(nodes), {norm_name(g.names[n]) for n in nodes})
    for d, _ in candidates:  # an option is never an entity of another option's decoy chain
        taken.nodes.add(d)
    near = association(ctx, target.stated) if target.stated is not None and len(target.stated) else None
    decoys: list[tuple[int, str]] = []
    facts = list(path_edges)
    heads = [nodes[0]]  # each chain's first entity: the key's chain first
    for d, rule in candidates:
        if norm_name(g.names[d]) in taken.names:
            continue
        if len(decoys) == k - 1 and odd_one_out(ctx, target.answer, [*(c for c, _ in decoys), d], target.stated):
            continue  # (the candidates hold more than the options: the rule of the last one applies here)
        chain = decoy_chain(ctx, steps, layers, d, taken, rng, near=near)
        if chain is None:
            continue
        decoys.append((d, rule))
        facts.extend(chain)
        heads.append(int(g.src[chain[0]]) if not steps[0].inverse else int(g.dst[chain[0]]))
        if len(decoys) == k:
            break
    if len(decoys) < k:
        return Drop("open book: too few distractors end a decoy chain along the metapath")
    facts.extend(branch_facts(ctx, steps, layers, heads, taken, rng, near=near))
    ends = chain_ends(ctx, facts, nodes[0], steps)
    if ends != {target.answer}:  # cannot happen with disjoint chains and dead-end branches; a guard on the promise
        return Drop("open book: the facts lead from the start to more than the key")
    return OpenBook(decoys=decoys, facts=[facts[i] for i in rng.permutation(len(facts))])


def walkable_layers(ctx: Context, steps: list[Step], categories: list[int]) -> list[np.ndarray]:
    """Per position of the metapath, a mask of the entities some walk along ``steps`` from an entity of the
    start's category reaches there (each of that position's category, readable, no clinical-course term);
    cached per metapath and categories."""
    key = "open-book|" + "|".join(map(str, steps)) + "|" + ",".join(map(str, categories))
    if key + "|0" not in ctx.memo.reached:
        g, bad = ctx.graph, ow(ctx).bad
        lo, hi = ctx.prover.pheno_lo, ctx.prover.pheno_hi
        unfit = bad.copy()
        unfit[lo:hi] |= ~ctx.abnormal[lo:hi]
        nodes = np.flatnonzero((g.category == categories[0]) & ~unfit).astype(np.int32)
        for j, step in enumerate([None, *steps]):
            if step is not None:
                nodes = ctx.index.reach(nodes, step)
                nodes = nodes[(g.category[nodes] == categories[j]) & ~unfit[nodes]]
            mask = np.zeros(g.num_nodes, dtype=bool)
            mask[nodes] = True
            ctx.memo.reached[f"{key}|{j}"] = mask
    return [ctx.memo.reached[f"{key}|{j}"] for j in range(len(steps) + 1)]


def nearest_first(
    picks: np.ndarray, nodes: np.ndarray, near: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    """``picks`` (indices into ``nodes``) in random order, then (``near`` given) stably sorted by ``near`` of their
    node, highest first: the entities most associated with the stem first, ties in random order."""
    order = rng.permutation(picks)
    if near is None or len(order) < 2:
        return order
    return order[np.argsort(-near[nodes[order]], kind="stable")]


def decoy_chain(
    ctx: Context,
    steps: list[Step],
    layers: list[np.ndarray],
    end: int,
    taken: _Taken,
    rng: np.random.Generator,
    *,
    near: np.ndarray | None = None,
) -> list[int] | None:
    """The edges (path order) of a real walk along ``steps`` that ends at ``end``, its entities in the
    :func:`walkable_layers` ``layers`` and all outside ``taken`` (which then holds them), or None if the
    search finds none. With ``near`` (association with what the stem states) the entities most associated
    with the stem are tried first, so a decoy chain runs beside the key's rather than through another field."""
    g = ctx.graph
    budget = [MAX_EXPANSIONS]
    name_of = {end: norm_name(g.names[end])}

    def back(pos: int, node: int, seen: list[int]) -> list[int] | None:
        if pos == 0:
            return []
        step = steps[pos - 1]
        rev = Step(step.relation, not step.inverse)
        nbrs, eids = ctx.index.neighbors(node, rev), ctx.index.edge_ids(node, rev)
        nbrs, first = np.unique(nbrs, return_index=True)
        eids = eids[first]
        ok = layers[pos - 1][nbrs] & ~ow(ctx).contradicted[eids]
        for i in nearest_first(np.flatnonzero(ok), nbrs, near, rng)[:FANOUT]:
            n = int(nbrs[i])
            if budget[0] <= 0:
                return None
            budget[0] -= 1
            if n in taken.nodes or n in seen:
                continue
            name = norm_name(g.names[n])
            if name in taken.names or name in {name_of[s] for s in seen}:
                continue
            name_of[n] = name
            rest = back(pos - 1, n, [*seen, n])
            if rest is not None:
                return [*rest, int(eids[i])]
        return None

    chain = back(len(steps), end, [end])
    if chain is None:
        return None
    for e in chain:
        for n in (int(g.src[e]), int(g.dst[e])):
            taken.nodes.add(n)
            taken.names.add(norm_name(g.names[n]))
    return chain


def branch_facts(
    ctx: Context,
    steps: list[Step],
    layers: list[np.ndarray],
    heads: list[int],
    taken: _Taken,
    rng: np.random.Generator,
    *,
    near: np.ndarray | None = None,
) -> list[int]:
    """One dead-end fact per chain of two or more hops (``heads``: each chain's first entity): a real edge
    along the chain's first step from its first entity to an entity beside its second one -- the same
    step's other end, in the :func:`walkable_layers` layer, outside ``taken`` (which then holds it), the entity
    most associated with the stem first. Nothing in the facts continues from that entity, so the metapath
    still leads from each chain's start to its end alone, but a reader must see which of the start's two
    facts goes on; every chain gets one, so a branch does not mark the key's chain."""
    g = ctx.graph
    if len(steps) < 2:
        return []
    out: list[int] = []
    for first in heads:
        nbrs, eids = ctx.index.neighbors(first, steps[0]), ctx.index.edge_ids(first, steps[0])
        nbrs, at = np.unique(nbrs, return_index=True)
        eids = eids[at]
        ok = layers[1][nbrs] & ~ow(ctx).contradicted[eids]
        for i in nearest_first(np.flatnonzero(ok), nbrs, near, rng)[:FANOUT]:
            n = int(nbrs[i])
            name = norm_name(g.names[n])
            if n in taken.nodes or name in taken.names:
                continue
            taken.nodes.add(n)
            taken.names.add(name)
            out.append(int(eids[i]))
            break
    return out


def chain_ends(ctx: Context, facts: Iterable[int], start: int, steps: list[Step]) -> set[int]:
    """Every entity reached from ``start`` along ``steps`` using only the edges ``facts`` (sets, not walks)."""
    g = ctx.graph
    layer = {start}
    facts = list(facts)
    for step in steps:
        rel = g.relations.index(step.relation) if step.relation in g.relations else -1
        nxt: set[int] = set()
        for e in facts:
            if int(g.rel[e]) != rel:
                continue
            s, o = int(g.src[e]), int(g.dst[e])
            frm, to = (o, s) if step.inverse else (s, o)
            if frm in layer:
                nxt.add(to)
        layer = nxt
    return layer
