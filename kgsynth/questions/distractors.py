"""Distractor rules: named functions, tried in order; the name of the rule that chose each distractor is
recorded on it.

A chain's distractors come from pools (:data:`CHAIN_RULES`), a vignette's wrong diagnoses are sorted
into rules by why they fail (:data:`DIAGNOSIS_RULES`). No rule draws from what the hidden entity's
siblings reach: in an open-world graph those are the options a clinician is most likely to call correct.
A chain's distractors are explicit negatives or *near* ones (:func:`near_association`): as associated with
what the stem states as the key is, so that association alone does not find the key; when too few near,
safe ones exist the attempt is dropped rather than filled with far ones.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from kgsynth.graph.index import Step, sorted_unique
from kgsynth.questions.curation import norm_name
from kgsynth.questions.draft import Context, association, ow, shortcut_tables
from kgsynth.questions.openworld import closure, relatives
from kgsynth.questions.sets import isin_sorted
from kgsynth.questions.starts import vignette_starts
from kgsynth.questions.verify import HAS_PHENOTYPE, SUBCLASS, SUPERCLASS, Prover, upward_closure
from kgsynth.questions.wording import aliases

logger = logging.getLogger(__name__)


@dataclass
class ChainTarget:
    """The end of a chain to find wrong options for: its steps, candidate layers and the key."""

    steps: list[Step]
    layers: list[np.ndarray]
    answer: int
    open_prev: np.ndarray | None = None  # more entities the hidden step could stand for (open world)
    allowed: np.ndarray | None = None  # a mask over nodes: only these may be chosen (open-book: decoy chain ends)
    stated: np.ndarray | None = None  # the entities the stem states (what nearness is measured from)
    # an open-book short answer's hidden decoy ends: no option is shown, so any safe end will do after the near
    hidden_ends: bool = False
    # a vignette's near wrong diagnoses: the runner-ups of its findings (kgsynth.questions.phenomatch), best first
    near_diagnoses: np.ndarray | None = None
    # a vignette continuation or an open-book decoy chain: the shortcut rules are sought, not required -- a key whose
    # anchor no near, safe peer shares keeps its other near options, and a key in its drug's use area needs no second
    # same-area option (kgsynth.questions.shortcuts; required, they cut vignette yield to a quarter and open-book
    # yield to 267 of 300)
    soft_anchor: bool = False


MEMBER_OF = Step("biolink:member_of")
TARGETED_BY = Step("biolink:interacts_with", True)  # gene -> the drugs acting on its product
TARGETS = Step("biolink:interacts_with")  # drug -> the genes whose products it acts on
GENE = "biolink:Gene"
DRUG = "biolink:Drug"
NEAR_LIMIT = 200  # relatives of the hidden layer are gathered when it holds at most this many entities


def _prev(ctx: Context, t: ChainTarget) -> np.ndarray | None:
    prev = t.layers[-2] if len(t.layers) > 1 else None
    if t.open_prev is not None:
        if prev is None:
            return t.open_prev
        # a vignette's continuation walks share both (the last union is kept)
        key = (prev.tobytes(), t.open_prev.tobytes())
        last = ctx.memo.prev_union
        if last is None or last[0] != key:
            union = np.union1d(prev, t.open_prev)
            union.flags.writeable = False
            last = ctx.memo.prev_union = (key, union)
        prev = last[1]
    return prev


def near_hidden(ctx: Context, prev: np.ndarray) -> np.ndarray:
    """The hidden entities with their ontology parents, siblings and name family (what the open world
    could substitute for them)."""
    if len(prev) == 0 or len(prev) > NEAR_LIMIT:
        return prev
    g, idx = ctx.graph, ctx.index
    cat = g.categories[int(g.category[int(prev[0])])]
    parents = idx.reach(prev, SUBCLASS)
    parts = [prev, parents, ctx.prover.siblings(prev), ow(ctx).same_name_or_family(prev, cat)]
    if cat != "biolink:PhenotypicFeature":
        parts.append(ctx.index.reach(parents, SUPERCLASS))
    if cat == "biolink:Disease":
        # every ancestor, and the whole of each small parent group: a finding common in the group is a finding
        # the open world may give the hidden disease too
        parts.append(upward_union(ctx, prev))
        for p in parents[:GROUP_PARENTS]:
            group = closure(idx, np.array([p], dtype=np.int32), SUPERCLASS, g.num_nodes)
            if len(group) <= GROUP_LIMIT:
                parts.append(group)
    return np.unique(np.concatenate(parts))


GROUP_LIMIT = 60  # a hidden disease's parent group is gathered whole when it holds at most this many diseases
GROUP_PARENTS = 8  # ... for at most this many parents


def unsafe_options(ctx: Context, t: ChainTarget) -> np.ndarray:
    """Everything the open world could make correct: the answer set, what the asked relation reaches from
    the hidden entities and their relatives, and (same category) every entity named like one of those.
    Ontology ancestors and descendants of all of that are ruled out too (in :func:`chain_distractors`)."""
    g, idx = ctx.graph, ctx.index
    unsafe = np.zeros(g.num_nodes, dtype=bool)
    unsafe[t.layers[-1]] = True
    if len(t.layers) > 1:
        near = near_hidden(ctx, t.layers[-2])
        if t.open_prev is not None:
            near = np.union1d(near, t.open_prev)
        unsafe[idx.reach(near, t.steps[-1])] = True
    cat = g.categories[int(g.category[t.answer])]
    lo, hi = g.category_range(cat)
    hit = np.flatnonzero(unsafe[lo:hi]).astype(np.int32) + lo
    unsafe[ow(ctx).same_name_or_family(hit, cat)] = True
    return unsafe


UNSAFE_CACHE = 4096  # hidden layers whose unsafe sets are kept (about half the chain items repeat one)


def unsafe_sets(ctx: Context, t: ChainTarget, *, hierarchical: bool) -> tuple[np.ndarray, np.ndarray]:
    """The unsafe entities of :func:`unsafe_options` and (``hierarchical``) the ancestors of those in the
    answer's category, as node ids; cached per hidden layer, answer set and asked relation."""
    prev = t.layers[-2] if len(t.layers) > 1 else None
    key = (str(t.steps[-1]), hierarchical, int(ctx.graph.category[t.answer]), t.layers[-1].tobytes(),
           b"" if prev is None else prev.tobytes(), b"-" if t.open_prev is None else t.open_prev.tobytes())  # fmt: skip
    got = ctx.memo.unsafe_cache.get(key)
    if got is None:
        g = ctx.graph
        unsafe = unsafe_options(ctx, t)
        unsafe_ids = np.flatnonzero(unsafe).astype(np.int32)
        up_ids = np.empty(0, dtype=np.int32)
        if hierarchical:
            lo, hi = g.category_range(g.categories[int(g.category[t.answer])])
            up_ids = upward_union(ctx, np.flatnonzero(unsafe[lo:hi]).astype(np.int32) + lo)
        if len(ctx.memo.unsafe_cache) >= UNSAFE_CACHE:
            ctx.memo.unsafe_cache.clear()
        got = ctx.memo.unsafe_cache[key] = (unsafe_ids, up_ids)
    return got


SMALL_UNION = 64  # up to this many nodes, ancestors are the union of their memoised closures


def upward_union(ctx: Context, nodes: np.ndarray) -> np.ndarray:
    """``nodes`` and all their ``subclass_of`` ancestors (sorted; the set :func:`closure` finds)."""
    if len(nodes) > SMALL_UNION:
        return closure(ctx.index, nodes, SUBCLASS, ctx.graph.num_nodes)
    if len(nodes) == 0:
        return np.empty(0, dtype=np.int32)
    bounds = (0, ctx.graph.num_nodes)
    parts = [ctx.memo.lineage.get(int(n)) for n in nodes]
    found = [p if p is not None else upward_closure(ctx.index, int(n), ctx.memo.lineage, bounds)
             for p, n in zip(parts, nodes, strict=True)]  # fmt: skip
    return sorted_unique(np.concatenate(found)).astype(np.int32)


def ancestors_of(ctx: Context, node: int) -> np.ndarray:
    """``node`` and its ontology ancestors (``subclass_of``), cached for the run."""
    if ctx.prover.pheno_lo <= node < ctx.prover.pheno_hi:
        return ctx.prover.ancestors(node)
    got = ctx.memo.lineage.get(node)
    if got is None:
        got = upward_closure(ctx.index, node, ctx.memo.lineage, (0, ctx.graph.num_nodes))
    return got


HIERARCHICAL = frozenset({"biolink:PhenotypicFeature", "biolink:Disease", "biolink:OntologyClass"})
# The kinds whose distractors never all share an ontology ancestor the key lacks (:func:`odd_one_out`); drug classes
# are left out: their vocabularies (MeSH, NDFRT, ChEBI) have roots of their own, which a key from another one lacks.
ODD_ANCESTOR_KINDS = frozenset({"biolink:PhenotypicFeature", "biolink:Disease"})


def negative_evidence(ctx: Context, t: ChainTarget, rng: np.random.Generator) -> np.ndarray:
    """Entities the last relation explicitly does NOT reach from every entity the hidden step could be."""
    return fitting(ctx, t.answer, _negated(ctx, t))


def _negated(ctx: Context, t: ChainTarget) -> np.ndarray:
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


def co_annotation(prover: Prover, a: int, b: int) -> float:
    """The Jaccard share of the diseases annotated with phenotype ``a`` (or a term below it) and with ``b``."""
    da, db = prover.diseases_with(a), prover.diseases_with(b)
    both = len(np.intersect1d(da, db, assume_unique=True))
    either = len(da) + len(db) - both
    return both / either if either else 0.0


def odd_cluster(prover: Prover, key: int, wrong: list[int], *, share: float, ratio: float) -> bool:
    """Whether the phenotypes ``wrong`` form a cluster ``key`` stands outside of: every two of them share at least
    ``share`` of their diseases (Jaccard) and at least ``ratio`` times the key's largest share with any of them --
    fever, raised ESR and raised CRP (0.13 at least) beside a raised creatine kinase (0.03 at most), three features
    of hyperthyroidism beside congenital hypothyroidism. A reader picks the odd one out without the chain."""
    if len(wrong) < 2 or share <= 0:
        return False
    inner = min(co_annotation(prover, a, b) for i, a in enumerate(wrong) for b in wrong[i + 1 :])
    outer = max(co_annotation(prover, key, a) for a in wrong)
    return inner >= share and inner >= ratio * outer


def odd_one_out(ctx: Context, key: int, wrong: list[int], stated: np.ndarray | None = None) -> bool:
    """Whether the distractors ``wrong`` (all of them, two at least) single out ``key`` without the chain: they all
    share an area the key is not in (three eye findings beside a hand tremor for an ophthalmic start drug; MET, JAK2
    and POLE, cancer genes, beside NR1H4), all act on a target a drug key does not (three oestrogens on ESR1 beside
    vinorelbine, three coumarins on VKORC1 beside dabigatran, whatever vocabulary names their classes; no two
    sharing one cut vignette yield to a third), beside a phenotype or disease key all sit under one ontology term
    the key is not under (the area rule at every depth: irritability, hyperactivity and polyphagia, all "Abnormality
    of mental function", beside a tremor; ``GenerateConfig.odd_ancestor``), or, beside a phenotype key, form a
    cluster of co-annotated findings it stands outside of (:func:`odd_cluster`). Beside a stem that states one
    entity (``stated``, a chain's start), the distractors never all lie in what it reaches at once
    (:func:`start_reach`) while the key does not (``GenerateConfig.odd_start_reach``): Graves disease, proptosis and
    a raised free T4 beside a lowered T4 for methimazole, three obesity findings beside a low vitamin K for
    orlistat -- the drug's own uses, which a reader sets aside."""
    if len(wrong) < 2:
        return False
    g, o, cfg = ctx.graph, ow(ctx), ctx.config
    if cfg.odd_start_reach and stated is not None and len(stated) == 1:
        reach = start_reach(ctx, int(stated[0]))  # (sorted)
        if isin_sorted(np.asarray(wrong), reach).all() and not isin_sorted(np.array([key]), reach)[0]:
            return True
    if functools.reduce(np.bitwise_and, o.areas[np.asarray(wrong)]) & ~o.areas[key]:
        return True
    kind = g.categories[int(g.category[key])]
    odd_ancestor = cfg.odd_ancestor and kind in ODD_ANCESTOR_KINDS
    if odd_ancestor and _shared_beyond([ancestors_of(ctx, w) for w in wrong], ancestors_of(ctx, key)):
        return True
    if kind == DRUG:
        return _shared_beyond([ctx.index.neighbors(d, TARGETS) for d in wrong], ctx.index.neighbors(key, TARGETS))
    if kind == "biolink:PhenotypicFeature":
        return odd_cluster(ctx.prover, key, wrong, share=cfg.cluster_min_share, ratio=cfg.cluster_key_ratio)
    return False


def _shared_beyond(sets: list[np.ndarray], own: np.ndarray) -> bool:
    """Whether the sorted arrays ``sets`` share an entity that the sorted array ``own`` lacks (a binary search per
    entity: the sets are short, and np.intersect1d and np.setdiff1d sort them again)."""
    shared = sets[0]
    for other in sets[1:]:
        shared = shared[isin_sorted(shared, other)]
    return bool(len(shared)) and not isin_sorted(shared, own).all()


def nested_names(a: str, b: str) -> bool:
    """Whether one name's words (:func:`norm_name`) run whole inside the other's: "Arthritis" and "Polyarticular
    arthritis", which HPO files apart (under "Polyarticular arthropathy"), read as broader and narrower.

    >>> nested_names("Arthritis", "Polyarticular arthritis"), nested_names("Arthritis", "Arthralgia")
    (True, False)
    """
    x, y = _name_words(a), _name_words(b)
    if len(x) > len(y):
        x, y = y, x
    return bool(x) and len(x) < len(y) and any(y[i : i + len(x)] == x for i in range(len(y) - len(x) + 1))


@functools.lru_cache(maxsize=1 << 16)
def _name_words(name: str) -> tuple[str, ...]:
    """The words of :func:`norm_name` of ``name`` (options are compared with every chosen one: cached)."""
    return tuple(norm_name(name).split())


def start_reach(ctx: Context, start: int) -> np.ndarray:
    """What ``start`` reaches at once: its neighbours along every relation, either direction, and the phenotypes of
    the diseases among them (the uses, symptomatic ones included, targets, classes and treated findings of a start
    drug; sorted, cached)."""
    got = ctx.memo.start_reach.get(start)
    if got is None:
        g = ctx.graph
        steps = [Step(r, inverse) for r in g.relations for inverse in (False, True)]
        symptomatic = ctx.symptomatic.get(start, np.empty(0, np.int32))  # uses a run without them still counts
        one = sorted_unique(
            np.concatenate([symptomatic, *(ctx.index.neighbors(start, s) for s in steps)]).astype(np.int32)
        )
        lo, hi = g.category_range("biolink:Disease")
        diseases = one[(one >= lo) & (one < hi)]
        got = sorted_unique(np.concatenate([one, ctx.index.reach(diseases, HAS_PHENOTYPE)])).astype(np.int32)
        ctx.memo.start_reach[start] = got
    return got


def fitting(ctx: Context, answer: int, pool: np.ndarray) -> np.ndarray:
    """The entities of ``pool`` (order kept) that could stand as options beside ``answer``: its category and
    kind, and for phenotypes an abnormality below organ-system depth and not a grouping term."""
    g, o = ctx.graph, ow(ctx)
    lo, hi = g.category_range(g.categories[int(g.category[answer])])
    pool = pool[(pool >= lo) & (pool < hi)]
    pool = pool[o.kind[pool] == o.kind[answer]]
    if g.categories[int(g.category[answer])] == "biolink:PhenotypicFeature":
        pool = pool[ctx.abnormal[pool] & ~o.generic_key[pool] & ~o.vague_key[pool]]
    return pool


def _reached_anywhere(ctx: Context, last: Step, answer: int) -> np.ndarray:
    """What ``last`` reaches anywhere in the graph, cut by :func:`fitting` (cached per step, category, kind)."""
    g = ctx.graph
    key = f"{last}|{int(g.category[answer])}|{ow(ctx).kind[answer]}"
    if key not in ctx.memo.reached:
        adj = ctx.index.adjacency(last)
        reached = np.unique(adj.cols) if adj is not None else np.empty(0, np.int32)
        ctx.memo.reached[key] = fitting(ctx, answer, reached)
    return ctx.memo.reached[key]


def near_diagnosis(ctx: Context, t: ChainTarget, rng: np.random.Generator) -> np.ndarray:
    """What the chain's steps reach from a vignette's near wrong diagnoses (``ChainTarget.near_diagnoses``: the
    diseases its findings rank next, each missing at least two of them), in the order of the diagnoses, within
    the key's twice-wide popularity band and area: the answer a clinician who took the runner-up for the
    diagnosis would give. Unsafe ends are cut as for every rule (:func:`chain_distractors`)."""
    if t.near_diagnoses is None or len(t.near_diagnoses) == 0:
        return np.empty(0, np.int32)
    # the result depends on the diagnoses, the steps and the key alone (both diagnosis tiers ask it; cached per run)
    key = ("near_diagnosis", t.near_diagnoses.tobytes(), "|".join(map(str, t.steps)), t.answer)
    got = ctx.memo.near_cache.get(key)
    if got is None:
        pool = fitting(ctx, t.answer, diagnosis_ends(ctx, t.near_diagnoses, t.steps))
        got = _remember(ctx, key, pool[isin_sorted(pool, near_shape(ctx, t, widen=2.0, same_area=True))])
    return got


def _keep(cache: dict[Any, np.ndarray], key: Any, value: np.ndarray, limit: int) -> np.ndarray:
    """Keep ``value`` read-only in one of ``ctx.memo``'s per-run caches under ``key``, the cache emptied first when it
    holds ``limit`` entries; returns ``value``."""
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value
    value.flags.writeable = False
    return value


def _remember(ctx: Context, key: tuple[object, ...], pool: np.ndarray) -> np.ndarray:
    """Keep a near tier's ``pool`` in ``ctx.memo.near_cache`` under ``key``."""
    return _keep(ctx.memo.near_cache, key, pool, NEAR_CACHE)


def diagnosis_ends(ctx: Context, diagnoses: np.ndarray, steps: list[Step]) -> np.ndarray:
    """What ``steps`` reach from each of ``diagnoses``, in the order of the diagnoses, each entity once (cached per
    run: a vignette's continuation walks and both diagnosis tiers ask the same)."""
    path = "|".join(map(str, steps))
    key = (np.asarray(diagnoses, dtype=np.int32).tobytes(), path)
    got = ctx.memo.diagnosis_ends.get(key)
    if got is None:
        ends = np.concatenate([_ends_of(ctx, int(d), steps, path) for d in diagnoses])
        _, first = np.unique(ends, return_index=True)
        got = _keep(ctx.memo.diagnosis_ends, key, ends[np.sort(first)], DERIVED_CACHE)
    return got


def _ends_of(ctx: Context, disease: int, steps: list[Step], path: str) -> np.ndarray:
    """What ``steps`` (spelled ``path``) reach from ``disease`` (cached per run: a runner-up diagnosis comes back in
    other vignettes' lists)."""
    got = ctx.memo.ends_of.get((disease, path))
    if got is None:
        got = ctx.prover.follow(np.array([disease], dtype=np.int32), steps)[-1]
        got = _keep(ctx.memo.ends_of, (disease, path), got, DERIVED_CACHE)
    return got


def paralog_hitters(ctx: Context, genes: np.ndarray) -> np.ndarray:
    """The drugs acting on a paralog of one of ``genes`` (:meth:`~kgsynth.questions.shortcuts.Shortcuts.paralogs`)
    and the members of small mechanism classes most of whose members are such drugs
    (:meth:`~kgsynth.questions.shortcuts.Shortcuts.class_mates`): none is a safe distractor of a drug key asked
    through ``genes`` (cached per run by ``genes``)."""
    key = np.asarray(genes, dtype=np.int32).tobytes()
    got = ctx.memo.hitters.get(key)
    if got is None:
        tables = shortcut_tables(ctx)
        hitters = ctx.index.reach(tables.paralogs(genes), TARGETED_BY)
        mates = tables.class_mates(hitters, ctx.config.class_target_share)
        got = _keep(ctx.memo.hitters, key, np.union1d(hitters, mates), DERIVED_CACHE)
    return got


DERIVED_CACHE = 8192  # paralog hitters (per hidden gene layer) and diagnosis ends (per diagnosis list) kept


def near_diagnosis_rest(ctx: Context, t: ChainTarget, rng: np.random.Generator) -> np.ndarray:
    """:func:`near_diagnosis` again, after the association tiers: its first pass takes at most ``NEAR_DIAGNOSIS_MAX``
    options (:func:`chain_distractors`), leaving one to a tier that may hold an option more associated
    with the stem than the key (a runner-up's ends are mostly less associated with the findings than the key,
    which the diagnosis itself reaches); this pass fills what those tiers left, never the last option (at least
    one option comes from another tier, else the attempt's walk is rejected)."""
    return near_diagnosis(ctx, t, rng)


def near_association(ctx: Context, t: ChainTarget, rng: np.random.Generator) -> np.ndarray:
    """Entities of the key's kind that the asked relation reaches somewhere and that are about as near to
    what the stem states as the key is: association (:func:`kgsynth.questions.draft.association`) between
    ``near_floor`` and ``near_band`` times the key's, popularity (neighbours) within ``popularity_band`` of
    the key's, and the key's organ system or therapeutic area (:mod:`kgsynth.questions.areas`) when it has one.
    Nearest first."""
    return _near(ctx, t, widen=1.0, same_area=True)


def near_association_wide(ctx: Context, t: ChainTarget, rng: np.random.Generator) -> np.ndarray:
    """:func:`near_association` with both association bounds and the popularity band twice as wide, still in
    the key's area: tried only when too few strictly near ones exist."""
    return _near(ctx, t, widen=2.0, same_area=True)


def near_association_other_area(ctx: Context, t: ChainTarget, rng: np.random.Generator) -> np.ndarray:
    """:func:`near_association_wide` outside the key's area: tried only once at least
    ``min_same_area_options`` distractors share the key's area (:func:`chain_distractors`), so that the key is
    never the only option in its organ system or therapeutic area."""
    return _near(ctx, t, widen=2.0, same_area=False)


def near_shape(ctx: Context, t: ChainTarget, *, widen: float, same_area: bool) -> np.ndarray:
    """The candidates of :func:`_near` before association is measured: what the asked relation reaches
    anywhere, of the key's kind, within the popularity band (``widen`` times as wide) and, ``same_area``,
    in the key's area."""
    o, cfg, answer = ow(ctx), ctx.config, t.answer
    degree = o.walks.degree
    area = o.areas[answer]
    # the result depends on the key only through these, so keys of one shape share it (cached per run)
    key = (str(t.steps[-1]), int(ctx.graph.category[answer]), int(o.kind[answer]), int(degree[answer]),
           int(area) if same_area else 0, widen)  # fmt: skip
    got = ctx.memo.near_shape_cache.get(key)
    if got is None:
        pool = _reached_anywhere(ctx, t.steps[-1], answer)
        pop = degree[pool] / max(int(degree[answer]), 1)
        near = (pop >= 1 / (cfg.popularity_band * widen)) & (pop <= cfg.popularity_band * widen)
        if area and same_area:
            near &= (o.areas[pool] & area) != 0
        got = _keep(ctx.memo.near_shape_cache, key, pool[near], NEAR_SHAPE_CACHE)
    return got


NEAR_SHAPE_CACHE = 8192  # key shapes whose near-tier candidates are kept


def same_area_nearest(ctx: Context, t: ChainTarget, rng: np.random.Generator) -> np.ndarray:
    """Entities in the key's area and twice-wide popularity band that the stem's entities reach at all
    (association above 0, no floor), nearest first: tried only while fewer than ``min_same_area_options``
    distractors share the key's area, and only for those (:func:`chain_distractors`)."""
    return _near(ctx, t, widen=2.0, same_area=True, floor=False)


def _near(ctx: Context, t: ChainTarget, *, widen: float, same_area: bool, floor: bool = True) -> np.ndarray:
    if t.stated is None or len(t.stated) == 0:
        return np.empty(0, np.int32)
    # the result depends on the stated set, the key, the asked relation and the tier alone: a vignette's continuation
    # walks share their stated set, and two tiers ask the same band (cached per run)
    key = ("near", t.stated.tobytes(), t.answer, str(t.steps[-1]), widen, same_area, floor)
    got = ctx.memo.near_cache.get(key)
    if got is None:
        got = _remember(ctx, key, _near_pool(ctx, t, widen=widen, same_area=same_area, floor=floor))
    return got


NEAR_CACHE = 16384  # near tiers' pools kept (stated set, key, relation, tier)


def _near_pool(ctx: Context, t: ChainTarget, *, widen: float, same_area: bool, floor: bool) -> np.ndarray:
    assert t.stated is not None
    cfg = ctx.config
    scores = association(ctx, t.stated)
    key_score = float(scores[t.answer])
    if key_score <= 0:
        return np.empty(0, np.int32)
    pool = near_shape(ctx, t, widen=widen, same_area=same_area)
    ratio = scores[pool] / key_score
    low = cfg.near_floor / widen if floor else 0.0
    near = (ratio > 0) & (ratio >= low) & (ratio <= cfg.near_band * widen)
    pool, ratio = pool[near], ratio[near]
    pool = pool[np.argsort(np.abs(np.log(ratio)), kind="stable")]
    # for a drug key, a drug of its mechanism class first (in every near tier and in :func:`shortcut_peer`, whose
    # anchor holds its therapeutic class too: one of those only where no mechanism peer is safe; every sulfonylurea
    # acts on the gene a glipizide key is asked through)
    g = ctx.graph
    peers = shortcut_tables(ctx).class_peers(t.answer) if g.categories[int(g.category[t.answer])] == DRUG else None
    if peers is not None:
        pool = pool[np.argsort(~isin_sorted(pool, peers), kind="stable")]  # (peers are sorted)
    return pool


def shortcut_peer(ctx: Context, t: ChainTarget, rng: np.random.Generator) -> np.ndarray:
    """Candidates sharing the key's shortcut anchor (:mod:`kgsynth.questions.shortcuts`: another drug of its
    mechanism class, another feature of the stated drug's uses), within the twice-wide popularity and association
    bands of what the asked relation reaches (those of :func:`near_association_wide`), nearest first: tried for
    one distractor, right after explicit negative evidence, only when the key has an anchor that no chosen
    distractor shares (:func:`chain_distractors`)."""
    anchor = shortcut_tables(ctx).anchor(t.answer, t.stated)
    if anchor is None:
        return np.empty(0, np.int32)
    if t.stated is None or len(t.stated) == 0:
        pool = near_shape(ctx, t, widen=2.0, same_area=False)
        return pool[isin_sorted(pool, anchor)]
    # as near by association as the wide tier asks (:func:`_near`): a peer far less associated than the key hands
    # the key back to association (vignette items with a peer had the key first by association in 69% before this
    # band); cutting to the anchor after the stable sorts keeps their order
    key = ("shortcut_peer", t.stated.tobytes(), t.answer, str(t.steps[-1]))
    got = ctx.memo.near_cache.get(key)
    if got is None:
        pool = _near(ctx, t, widen=2.0, same_area=False)
        got = _remember(ctx, key, pool[isin_sorted(pool, anchor)])  # (anchors are sorted)
    return got


def use_peer(ctx: Context, t: ChainTarget, rng: np.random.Generator) -> np.ndarray:
    """Drugs indicated for a disease the drug key is indicated for (:meth:`~kgsynth.questions.shortcuts.Shortcuts.
    use_peers`: another antiepileptic beside an antiepileptic key) that the asked relation reaches somewhere,
    within the twice-wide popularity band, associated with the stem at all, the most associated first: tried for
    one distractor, after the shortcut peer, for a drug key none of whose chosen distractors shares a use, when
    ``GenerateConfig.use_peer`` is on (:func:`chain_distractors`); sought, never required."""
    peers = shortcut_tables(ctx).use_peers(t.answer)
    if peers is None:
        return np.empty(0, np.int32)
    stated = b"" if t.stated is None else t.stated.tobytes()
    key = ("use_peer", stated, t.answer, str(t.steps[-1]))
    got = ctx.memo.near_cache.get(key)
    if got is None:
        pool = near_shape(ctx, t, widen=2.0, same_area=False)
        pool = pool[isin_sorted(pool, peers)]
        if t.stated is not None and len(t.stated):
            scores = association(ctx, t.stated)
            pool = pool[scores[pool] > 0]
            pool = pool[np.argsort(-scores[pool], kind="stable")]
        got = _remember(ctx, key, pool)
    return got


def decoy_end(ctx: Context, t: ChainTarget, rng: np.random.Generator) -> np.ndarray:
    """Any safe entity of the answer's kind the asked relation reaches somewhere: only for the decoy chain
    ends of an open-book short answer, which are never shown as options (``ChainTarget.hidden_ends``)."""
    return _reached_anywhere(ctx, t.steps[-1], t.answer) if t.hidden_ends else np.empty(0, np.int32)


# a rule returns its pool cut by :func:`fitting` (order kept)
ChainRule = Callable[[Context, ChainTarget, np.random.Generator], np.ndarray]
CHAIN_RULES: tuple[ChainRule, ...] = (
    negative_evidence,
    shortcut_peer,
    use_peer,
    near_diagnosis,
    near_association,
    near_association_wide,
    same_area_nearest,
    near_association_other_area,
    near_diagnosis_rest,
    decoy_end,
)
NEAR_RULES = (
    shortcut_peer,
    use_peer,
    near_diagnosis,
    near_diagnosis_rest,
    near_association,
    near_association_wide,
    same_area_nearest,
    near_association_other_area,
)
DIAGNOSIS_TIERS = (near_diagnosis, near_diagnosis_rest)
# options a vignette continuation takes from its near wrong diagnoses' ends, at most: their ends are mostly less
# associated with the findings than the key (items with two such options had the key first by association in 53%)
NEAR_DIAGNOSIS_MAX = 1
NEAR_SAMPLE = 6  # a rule's candidates are drawn at random from its nearest ``NEAR_SAMPLE * k``


def chain_distractors(ctx: Context, t: ChainTarget, rng: np.random.Generator, k: int) -> list[tuple[int, str]]:
    """Up to ``k`` distractors for the end of a chain, each with the name of the rule that chose it.

    Pools are tried in the order of :data:`CHAIN_RULES` and built only when needed; every pool is cut to
    the answer's category and kind, and nothing unsafe in the open world (:func:`unsafe_options`) is kept.
    """
    g, o = ctx.graph, ow(ctx)
    answer = t.answer
    cat = int(g.category[answer])
    lo = g.category_range(g.categories[cat])[0]
    hierarchical = g.categories[cat] in HIERARCHICAL
    unsafe_ids, up_ids = unsafe_sets(ctx, t, hierarchical=hierarchical)
    excluded = o.bad.copy()
    excluded[unsafe_ids] = True
    excluded[up_ids] = True  # an ancestor of an unsafe entity is unsafe too (a descendant: checked per candidate)
    # no distractor below an unsafe entity; the open world's generic terms (HPO organ-system depth) aside,
    # under which nearly everything lies (a correct one still counts)
    above = np.zeros(g.num_nodes, dtype=bool)
    above[unsafe_ids[~o.generic_key[unsafe_ids]]] = True
    above[t.layers[-1]] = True
    chosen: list[tuple[int, str]] = []
    name_id = o.name_table(g.categories[cat])[0]  # equal ids: equal normalised names
    taken = {int(name_id[answer - lo])}  # (the answer's synonyms are in the unsafe set already)
    excluded[answer] = True
    area, want = int(o.areas[answer]), ctx.config.min_same_area_options
    if area and t.stated is not None and not t.hidden_ends and not t.soft_anchor:
        # the key in an area of the stated drug's own uses: more options there (the use alone points to the area)
        tables = shortcut_tables(ctx)
        used = [int(s) for s in t.stated if g.categories[int(g.category[int(s)])] == "biolink:Drug"]
        if any(tables.use_areas(s, o.areas) & area for s in used):
            want = max(want, ctx.config.min_same_area_options_in_use_area)
    # drugs: no two distractors share a class the key is not in (three cardiac glycosides and cinacalcet: the odd
    # one out is the key); the last one never makes the set an odd one out (:func:`odd_one_out`)
    drugs = g.categories[cat] == "biolink:Drug"
    key_classes = set(ctx.index.neighbors(answer, MEMBER_OF).tolist()) if drugs else set()
    used_classes: set[int] = set()
    lineage = np.zeros(g.num_nodes, dtype=bool)  # the chosen distractors and their ancestors
    picked = np.zeros(g.num_nodes, dtype=bool)  # the chosen distractors
    prev = _prev(ctx, t)
    if prev is not None and len(prev) > NEAR_LIMIT and len(t.layers) > 1:
        prev = t.layers[-2]  # (a vignette's open world holds many genes: the proven hidden ones at least)
    if (
        drugs
        and prev is not None
        and 0 < len(prev) <= NEAR_LIMIT
        and g.categories[int(g.category[int(prev[0])])] == GENE
    ):
        # a drug acting on a paralog of the hidden gene (PSMB5 for PSMB8): a clinician may call it correct; so is a
        # drug of a small mechanism class most of whose members act on one (enflurane among the general anaesthetics
        # on GABRG2: the 2017 DrugCentral targets do not list every drug's)
        excluded[paralog_hitters(ctx, prev)] = True
    # the key's shortcut (kgsynth.questions.shortcuts): one distractor must share its anchor, or none is returned
    anchor = None if t.hidden_ends else shortcut_tables(ctx).anchor(answer, t.stated)
    for make in CHAIN_RULES:
        # never leave the key the only option in its area (an item answered by the area alone)
        in_area = sum(1 for d, _ in chosen if o.areas[d] & area) if area and not t.hidden_ends else 0
        short = want - in_area if area and not t.hidden_ends else 0
        # the nearest same-area ones without an association floor fill only the base requirement: the extra one of
        # a key in its drug's use area is near by association too (else association finds the key again)
        if make is same_area_nearest:
            short = min(short, ctx.config.min_same_area_options - in_area)
        if make is same_area_nearest and short <= 0:
            continue
        if anchor is not None and chosen and np.isin(np.array([d for d, _ in chosen], dtype=np.int32), anchor).any():
            anchor = None  # (explicit negative evidence may already share it)
        if make is shortcut_peer and anchor is None:
            continue
        if make is use_peer and (
            t.hidden_ends
            or not ctx.config.use_peer
            or not shortcut_tables(ctx).use_alone(answer, [d for d, _ in chosen])
        ):
            continue  # (a key with no use peer, a non-drug key included, is never alone in its use)
        if anchor is not None and make is not negative_evidence and make is not shortcut_peer:
            if not t.soft_anchor:
                return []  # no safe option shares the key's anchor: the key would stand out without the chain
            anchor = None  # (a vignette continuation: the near tiers go on without it)
        if make is near_association_other_area and short > 0:
            continue
        pool = make(ctx, t, rng)  # already cut by :func:`fitting`
        pool = pool[~excluded[pool]]
        if t.allowed is not None:
            pool = pool[t.allowed[pool]]
        if len(pool) == 0:
            continue
        take = pool[: NEAR_SAMPLE * k] if make in NEAR_RULES else pool
        take = take if len(take) <= 20 * k else take[rng.choice(len(take), 20 * k, replace=False)]
        order = rng.permutation(take)
        if make in NEAR_RULES and t.stated is not None and len(t.stated):
            # one option more associated than the key first, when the tier holds one and none is chosen yet:
            # otherwise the key is the option most associated with the stem in most items
            scores = association(ctx, t.stated)
            over = scores[order] > scores[answer]
            if not any(scores[d] > scores[answer] for d, _ in chosen) and over.any():
                order = np.concatenate([order[over][:1], order[~over], order[over][1:]])
        for d in order:
            # never more than NEAR_DIAGNOSIS_MAX options from the near wrong diagnoses: with all of them from there,
            # association found the key in 97 of 100 such items
            if make in DIAGNOSIS_TIERS and sum(1 for _, r in chosen if r == "near_diagnosis") >= NEAR_DIAGNOSIS_MAX:
                break
            d = int(d)
            if excluded[d] or int(name_id[d - lo]) in taken:
                continue
            if hierarchical and above[ancestors_of(ctx, d)].any():
                excluded[d] = True
                continue
            if hierarchical and chosen and (lineage[d] or picked[ancestors_of(ctx, d)].any()):
                continue  # beside a broader or narrower option (arthritis, oligoarthritis): the key is the odd one out
            if any(nested_names(g.names[d], g.names[c]) for c in (answer, *(c for c, _ in chosen))):
                continue  # broader or narrower by name where the ontology does not say so (arthritis, polyarticular)
            if len(chosen) == k - 1 and odd_one_out(ctx, answer, [*(c for c, _ in chosen), d], t.stated):
                continue
            if drugs:
                classes = set(ctx.index.neighbors(d, MEMBER_OF).tolist()) - key_classes
                if classes & used_classes:
                    continue
                used_classes |= classes
            rule = "near_diagnosis" if make is near_diagnosis_rest else make.__name__
            chosen.append((d, rule))
            if hierarchical:
                lineage[ancestors_of(ctx, d)] = True  # (its own id included)
                picked[d] = True
            excluded[d] = True
            taken.add(int(name_id[d - lo]))
            if len(chosen) == k:
                return chosen
            if make is same_area_nearest and (short := short - 1) <= 0:
                break
            if make is shortcut_peer or make is use_peer:
                break
    return chosen


DIAGNOSIS_RULES = ("negative_evidence", "near_diagnosis", "unannotated_organ_system", "far_negative")


RELATIVES_CACHE = 8192  # diagnoses whose relatives are kept (a vignette run draws each several times)


def diagnosis_relatives(ctx: Context, disease: int) -> np.ndarray:
    """The diagnosis's ontology ancestors, descendants and siblings, and its name family (cached per run)."""
    got = ctx.memo.relatives_cache.get(disease)
    if got is None:
        one = np.array([disease], dtype=np.int32)
        parts = [relatives(ctx.index, one, ctx.graph.num_nodes), ctx.prover.siblings(one),
                 ow(ctx).same_name_or_family(one, "biolink:Disease")]  # fmt: skip
        if len(ctx.memo.relatives_cache) >= RELATIVES_CACHE:
            ctx.memo.relatives_cache.clear()
        got = ctx.memo.relatives_cache[disease] = np.unique(np.concatenate(parts))
    return got


def diagnosis_distractors(
    ctx: Context,
    disease: int,
    cand: np.ndarray,
    chosen: list[tuple[int, int, float, dict[str, Any]]],
    near: np.ndarray,
    rng: np.random.Generator,
) -> list[tuple[int, str, int]]:
    """Wrong diagnoses, each with the constraint it fails: explicit negative evidence first, then the near wrong
    diagnoses (``near``: the diseases the findings rank next, best first) missing two or more findings, then
    diseases missing two or more findings one of which lies in an organ system they have no annotation in, then
    any disease missing two or more findings. Never a relative or namesake of the diagnosis, never one that
    misses a single finding (the open world may hold that annotation)."""
    g, prover, o = ctx.graph, ctx.prover, ow(ctx)
    k = ctx.config.options - 1
    findings = [p for p, _, _, _ in chosen]
    sets = [prover.diseases_with(p) for p in findings]
    union = np.concatenate(sets)
    uniq, counts = np.unique(union, return_counts=True)
    keep = ~np.isin(uniq, cand)
    uniq, counts = uniq[keep], counts[keep]
    # hardest first (most findings shared), ties in random order
    order = np.lexsort((rng.random(len(uniq)), -counts))
    pool = [int(x) for x in near] + [int(x) for x in uniq[order][:300]]
    near_set = {int(x) for x in near}
    lo, hi = g.category_range("biolink:Disease")
    starts = vignette_starts(ctx)
    pool += [int(x) for x in rng.choice(starts, size=min(200, len(starts)), replace=False) if int(x) not in cand]
    unsafe = np.zeros(g.num_nodes, dtype=bool)
    unsafe[diagnosis_relatives(ctx, disease)] = True
    unsafe |= o.bad
    pool = [d for d in dict.fromkeys(pool) if lo <= d < hi and d != disease and not unsafe[d]]
    by_rule: dict[str, list[tuple[int, str, int]]] = {r: [] for r in DIAGNOSIS_RULES}
    names = {norm_name(a) for a in aliases(g, disease)}
    for d in pool:
        if norm_name(g.names[d]) in names:
            continue
        failed = [i for i, s in enumerate(sets) if not np.isin(d, s)]
        neg = [i for i in failed if prover.lacks(d, findings[i])]
        if neg:
            by_rule["negative_evidence"].append((d, "negative_evidence", neg[0]))
            continue
        if len(failed) < 2:
            continue
        if d in near_set:
            by_rule["near_diagnosis"].append((d, "near_diagnosis", failed[0]))
            continue
        systems = annotated_systems(ctx, d)
        empty = [i for i in failed if prover.systems_of(findings[i]) and not (prover.systems_of(findings[i]) & systems)]
        if empty:
            by_rule["unannotated_organ_system"].append((d, "unannotated_organ_system", empty[0]))
        else:
            by_rule["far_negative"].append((d, "far_negative", failed[0]))
    out: list[tuple[int, str, int]] = []
    seen_names = set(names)
    for rule in DIAGNOSIS_RULES:
        for d, r, f in by_rule[rule]:
            if len(out) == k:
                return out
            if norm_name(g.names[d]) in seen_names:
                continue
            seen_names.add(norm_name(g.names[d]))
            out.append((d, r, f))
    return out


def annotated_systems(ctx: Context, disease: int) -> frozenset[int]:
    """The HPO organ systems ``disease`` has any annotation in (cached)."""
    got = ctx.memo.systems_cache.get(disease)
    if got is None:
        got = ctx.prover.annotated_systems(disease)
        ctx.memo.systems_cache[disease] = got
    return got
