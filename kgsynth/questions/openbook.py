"""Open-book chain items (`generate --context facts`): the facts a prompt shows, so that the answer follows
only by chaining from the question's start.

The facts are real edges of the graph: the evidence path's, and for every distractor (for a short answer:
for every decoy endpoint, chosen by the same rules but not shown) one *decoy chain*, a real walk along the
same metapath -- same predicates, directions and hops -- that starts at another entity of the start's
category and ends at that distractor. No two chains share an entity (or a normalised name), so in the facts
the start reaches the key and nothing else, and every candidate endpoint ends exactly one chain.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from kgsynth.graph.index import Step
from kgsynth.questions.curation import norm_name
from kgsynth.questions.distractors import ChainTarget, chain_distractors
from kgsynth.questions.draft import Context, Draft, Drop, ow, stated_nodes

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
    """The decoys and facts of a chain draft: ``options - 1`` distractors (tried in the chain rules' order)
    that each end a decoy chain, or a drop when too few do."""
    g = ctx.graph
    k = ctx.config.options - 1
    categories = [int(g.category[n]) for n in draft.nodes]
    layers = walkable_layers(ctx, draft.steps, categories)
    target = ChainTarget(steps=draft.steps, layers=draft.layers, answer=draft.answer, open_prev=draft.open_prev,
                         allowed=layers[-1], stated=stated_nodes(ctx, draft.constraints),
                         hidden_ends=draft.fmt == "short")  # fmt: skip
    candidates = chain_distractors(ctx, target, rng, k * CANDIDATES_PER_DECOY)
    if len(candidates) < k:
        return Drop("open book: too few provably wrong distractors end a walk along the metapath")
    taken = _Taken(set(draft.nodes), {norm_name(g.names[n]) for n in draft.nodes})
    for d, _ in candidates:  # an option is never an entity of another option's decoy chain
        taken.nodes.add(d)
    decoys: list[tuple[int, str]] = []
    facts = list(draft.path_edges)
    for d, rule in candidates:
        if norm_name(g.names[d]) in taken.names:
            continue
        chain = decoy_chain(ctx, draft.steps, layers, d, taken, rng)
        if chain is None:
            continue
        decoys.append((d, rule))
        facts.extend(chain)
        if len(decoys) == k:
            break
    if len(decoys) < k:
        return Drop("open book: too few distractors end a decoy chain along the metapath")
    ends = chain_ends(ctx, facts, draft.nodes[0], draft.steps)
    if ends != {draft.answer}:  # cannot happen with disjoint chains; a guard on the promise
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


def decoy_chain(
    ctx: Context, steps: list[Step], layers: list[np.ndarray], end: int, taken: _Taken, rng: np.random.Generator
) -> list[int] | None:
    """The edges (path order) of a real walk along ``steps`` that ends at ``end``, its entities in the
    :func:`walkable_layers` ``layers`` and all outside ``taken`` (which then holds them), or None if the
    search finds none."""
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
        for i in rng.permutation(np.flatnonzero(ok))[:FANOUT]:
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
