"""Distractor rules: named functions, tried in order; the name of the rule that chose each distractor is
recorded on it.

A chain's distractors come from pools (:data:`CHAIN_RULES`), a vignette's wrong diagnoses are sorted
into rules by why they fail (:data:`DIAGNOSIS_RULES`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from kgsynth.draft import Context
from kgsynth.index import Step
from kgsynth.item import Constraint
from kgsynth.starts import vignette_starts
from kgsynth.verify import HAS_PHENOTYPE, SUBCLASS
from kgsynth.wording import aliases

logger = logging.getLogger(__name__)


@dataclass
class ChainTarget:
    """The end of a chain to find wrong options for: its steps, candidate layers and the key."""

    steps: list[Step]
    layers: list[np.ndarray]
    answer: int


def negative_evidence(ctx: Context, t: ChainTarget, rng: np.random.Generator) -> np.ndarray:
    """Entities the last relation explicitly does NOT reach from every entity the hidden step could be."""
    idx, last = ctx.index, t.steps[-1]
    prev = t.layers[-2] if len(t.layers) > 1 else None
    if prev is None:
        return np.empty(0, dtype=np.int32)
    if last.relation == "biolink:treats" and last.inverse and len(prev) <= 20:
        per = [idx.neighbors(int(d), Step("NOT biolink:treats", True)) for d in prev]
        return functools.reduce(np.intersect1d, per)
    if last == HAS_PHENOTYPE and len(prev) <= 5:
        per = []
        for d in prev:
            negated = idx.neighbors(int(d), Step("NOT biolink:has_phenotype"))
            per.append(np.unique(np.concatenate([negated, *(ctx.prover.descendants(int(x)) for x in negated)])))
        return functools.reduce(np.intersect1d, per)
    return np.empty(0, dtype=np.int32)


def hard_negative_closed_world(ctx: Context, t: ChainTarget, rng: np.random.Generator) -> np.ndarray:
    """What the hidden entities' siblings reach by the last relation."""
    prev = t.layers[-2] if len(t.layers) > 1 else None
    if prev is None:
        return np.empty(0, np.int32)
    near = prev if len(prev) <= 32 else prev[rng.choice(len(prev), 32, replace=False)]
    return ctx.index.reach(ctx.prover.siblings(near), t.steps[-1])


def closed_world_same_relation(ctx: Context, t: ChainTarget, rng: np.random.Generator) -> np.ndarray:
    """Anything the last relation reaches from anywhere."""
    last = t.steps[-1]
    key = str(last)
    if key not in ctx.reached:
        adj = ctx.index._adj(last)
        ctx.reached[key] = np.unique(adj.cols) if adj is not None else np.empty(0, np.int32)
    return ctx.reached[key]


ChainRule = Callable[[Context, ChainTarget, np.random.Generator], np.ndarray]
CHAIN_RULES: tuple[ChainRule, ...] = (negative_evidence, hard_negative_closed_world, closed_world_same_relation)


def chain_distractors(ctx: Context, t: ChainTarget, rng: np.random.Generator, k: int) -> list[tuple[int, str]]:
    """Up to ``k`` distractors for the end of a chain, each with the name of the rule that chose it.

    Pools are tried in the order of :data:`CHAIN_RULES` and built only when needed.
    """
    g = ctx.graph
    final, answer = t.layers[-1], t.answer
    cat = int(g.category[answer])
    lo, hi = g.category_range(g.categories[cat])
    is_pheno = g.categories[cat] == "biolink:PhenotypicFeature"
    excluded = np.zeros(g.num_nodes, dtype=bool)
    excluded[final] = True
    if is_pheno:
        # a broader term of a true answer is true too (HPO is_a): never offer one as wrong
        frontier = final
        while len(frontier):
            up = ctx.index.reach(frontier, SUBCLASS)
            frontier = up[~excluded[up]]
            excluded[frontier] = True
    chosen: list[tuple[int, str]] = []
    names = {g.names[answer].lower(), *(a.lower() for a in aliases(g, answer))}
    excluded[answer] = True
    for make in CHAIN_RULES:
        pool = make(ctx, t, rng)
        pool = pool[(pool >= lo) & (pool < hi)]
        pool = pool[~excluded[pool]]
        if is_pheno:
            pool = pool[ctx.abnormal[pool]]
        if len(pool) == 0:
            continue
        take = pool if len(pool) <= 50 * k else pool[rng.choice(len(pool), 50 * k, replace=False)]
        for d in rng.permutation(take):
            d = int(d)
            if excluded[d] or g.names[d].lower() in names:
                continue
            chosen.append((d, make.__name__))
            excluded[d] = True
            names.add(g.names[d].lower())
            if len(chosen) == k:
                return chosen
    return chosen


DIAGNOSIS_RULES = ("negative_evidence", "unannotated_organ_system", "hard_negative_closed_world")


def diagnosis_distractors(
    ctx: Context,
    disease: int,
    cand: np.ndarray,
    chosen: list[tuple[int, int, float, dict[str, Any]]],
    constraints: list[Constraint],
    rng: np.random.Generator,
) -> list[tuple[int, str, int]]:
    """Wrong diagnoses: explicit negative evidence first, then a whole unannotated organ system,
    then (closed world) the diseases sharing the most findings; each with the constraint it fails."""
    g, prover = ctx.graph, ctx.prover
    k = ctx.config.options - 1
    findings = [p for p, _, _, _ in chosen]
    sets = [prover.diseases_with(p) for p in findings]
    union = np.concatenate(sets)
    uniq, counts = np.unique(union, return_counts=True)
    keep = ~np.isin(uniq, cand)
    uniq, counts = uniq[keep], counts[keep]
    # hardest first (most findings shared), ties in random order
    order = np.lexsort((rng.random(len(uniq)), -counts))
    pool = [int(x) for x in uniq[order][:300]]
    lo, hi = g.category_range("biolink:Disease")
    starts = vignette_starts(ctx)
    pool += [int(x) for x in rng.choice(starts, size=min(200, len(starts)), replace=False) if int(x) not in cand]
    pool = [d for d in dict.fromkeys(pool) if lo <= d < hi and d != disease]
    by_rule: dict[str, list[tuple[int, str, int]]] = {r: [] for r in DIAGNOSIS_RULES}
    names = {a.lower() for a in aliases(g, disease)}
    for d in pool:
        if g.names[d].lower() in names:
            continue
        failed = [i for i, s in enumerate(sets) if not np.isin(d, s)]
        if not failed:
            # has every finding: fails only a later constraint (inheritance or onset)
            later = [i for i, c in enumerate(constraints) if i >= len(sets)]
            if not later:
                continue
            by_rule["hard_negative_closed_world"].append((d, "hard_negative_closed_world", later[0]))
            continue
        neg = [i for i in failed if prover.lacks(d, findings[i])]
        if neg:
            by_rule["negative_evidence"].append((d, "negative_evidence", neg[0]))
            continue
        systems = annotated_systems(ctx, d)
        empty = [i for i in failed if prover.systems_of(findings[i]) and not (prover.systems_of(findings[i]) & systems)]
        if empty:
            by_rule["unannotated_organ_system"].append((d, "unannotated_organ_system", empty[0]))
        else:
            by_rule["hard_negative_closed_world"].append((d, "hard_negative_closed_world", failed[0]))
    out: list[tuple[int, str, int]] = []
    seen_names = set(names)
    for rule in DIAGNOSIS_RULES:
        for d, r, f in by_rule[rule]:
            if len(out) == k:
                return out
            if g.names[d].lower() in seen_names:
                continue
            seen_names.add(g.names[d].lower())
            out.append((d, r, f))
    return out


def annotated_systems(ctx: Context, disease: int) -> frozenset[int]:
    """The HPO organ systems ``disease`` has any annotation in (cached)."""
    got = ctx.systems_cache.get(disease)
    if got is None:
        got = ctx.prover.annotated_systems(disease)
        ctx.systems_cache[disease] = got
    return got
