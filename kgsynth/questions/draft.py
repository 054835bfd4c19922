"""What every step of question making shares: the context built once per run, a draft, a drop."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

import numpy as np

from kgsynth.graph.index import CSRIndex, Step
from kgsynth.graph.model import Graph
from kgsynth.graph.schema import GraphSchema, MetapathSpec
from kgsynth.questions.areas import subtrees
from kgsynth.questions.curation import INTERACTS_WITH, load_curation
from kgsynth.questions.frequency import edge_share
from kgsynth.questions.genconfig import AnswerFormat, GenerateConfig, QuestionType
from kgsynth.questions.hidden import (
    INHERITANCE,
    MULTIFACTORIAL,
    heterogeneous_diseases,
    passes_promiscuous_drug,
    passes_susceptibility_gene,
    passes_unmapped_gene_edge,
    promiscuous_drugs,
    susceptibility_diseases,
    unmapped_gene_edges,
)
from kgsynth.questions.item import Constraint
from kgsynth.questions.leaks import load_leak_rules
from kgsynth.questions.openworld import OpenWorld, build_open_world, norms_overlap
from kgsynth.questions.sample import rarity_scores, sample_walks
from kgsynth.questions.sets import isin_sorted
from kgsynth.questions.shortcuts import Shortcuts
from kgsynth.questions.verify import Prover, upward_closure
from kgsynth.questions.wording import Templates, load_templates

logger = logging.getLogger(__name__)

ONSET_ROOT = "HP:0003674"
MEMBER_OF_STEP = Step("biolink:member_of")
INTERACTS_WITH_STEP = Step(INTERACTS_WITH)
HAS_PHENOTYPE_STEP = Step("biolink:has_phenotype")
HIDDEN_CAPPED = "cap: a hidden intermediate already has its share of the items"
TOO_FEW_NEAR = "too few near, safe distractors"
TOO_MANY_SHORT_ANSWERS = "short answer: more proven answers than a fair short question accepts (max_short_answers)"


@dataclass
class Drop:
    """Why an attempt yielded no item."""

    reason: str


@dataclass
class Memo:
    """A cache of values derived from the frozen inputs of a :class:`Context` (``blocked``: and from the tally,
    keyed by its state), filled lazily by the question steps; dropping it changes no output (only the time the
    next attempts take)."""

    starts: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    systems_cache: dict[int, frozenset[int]] = field(default_factory=dict)
    reached: dict[str, np.ndarray] = field(default_factory=dict)
    lineage: dict[int, np.ndarray] = field(default_factory=dict)
    unsafe_cache: dict[tuple[object, ...], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    usable_cache: dict[int, list[Any]] = field(default_factory=dict)  # a disease's statable findings
    annotations: dict[int, list[Any]] = field(default_factory=dict)  # ... and all its phenotype annotations
    # a disease's statable findings' draw weights and hallmarks (kgsynth.questions.vignette._finding_weights)
    finding_weights: dict[int, tuple[np.ndarray, list[int]]] = field(default_factory=dict)
    # short answers: each start's first answer (per start distribution)
    short_answers: dict[str, np.ndarray] = field(default_factory=dict)
    relatives_cache: dict[int, np.ndarray] = field(default_factory=dict)  # a diagnosis's relatives
    # a vignette diagnosis: whether its best findings rank it first (kgsynth.questions.vignette.rankable)
    rankable: dict[int, bool] = field(default_factory=dict)
    twin_cache: dict[int, bool] = field(default_factory=dict)  # a disease named like an HPO phenotype
    phenotype_norms: frozenset[str] | None = None  # every normalised name and synonym of an HPO phenotype
    # stated entities -> association scores, kept sparse (touched nodes, their scores) and least recently used
    # first, so that a chain start drawn again finds its scores; the last set's dense scores beside them
    association_cache: OrderedDict[bytes, tuple[np.ndarray, np.ndarray]] = field(default_factory=OrderedDict)
    association_last: tuple[bytes, np.ndarray] | None = None
    # a near tier's candidates before association (kgsynth.questions.distractors.near_shape), per key shape
    near_shape_cache: dict[tuple[object, ...], np.ndarray] = field(default_factory=dict)
    # the chain metapaths a multiple-choice attempt draws from: those whose walks' ends can have near, safe
    # distractors (kgsynth.questions.chain.viable_chain_paths, probed on its own random stream; None until probed)
    viable_chain_paths: list[tuple[MetapathSpec, list[Step]]] | None = None
    blocked: tuple[tuple[int, int], np.ndarray] | None = None  # kgsynth.questions.draft.hidden_blocked
    shortcuts: Shortcuts | None = None  # kgsynth.questions.shortcuts (built on first use)
    start_reach: dict[int, np.ndarray] = field(default_factory=dict)  # kgsynth.questions.distractors.start_reach
    sexes: np.ndarray | None = None  # kgsynth.questions.vignette.phenotype_sexes
    by_test: np.ndarray | None = None  # kgsynth.questions.vignette.diagnosed_by_test
    use_findings: dict[int, np.ndarray] = field(default_factory=dict)  # a drug's uses' phenotypes (own_use)
    # hidden genes -> the drugs no drug key may stand beside (kgsynth.questions.distractors.paralog_hitters)
    hitters: dict[bytes, np.ndarray] = field(default_factory=dict)
    # near wrong diagnoses and steps -> what the steps reach from each, in order (distractors.diagnosis_ends)
    diagnosis_ends: dict[tuple[bytes, str], np.ndarray] = field(default_factory=dict)
    ends_of: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)  # ... and from one of them
    # a chain start and steps -> the start and the candidate set after each step (kgsynth.questions.chain.chain_layers)
    chain_layers: dict[tuple[int, str], list[np.ndarray]] = field(default_factory=dict)
    # a near tier's pool (kgsynth.questions.distractors._near, near_diagnosis, shortcut_peer, use_peer), per its inputs
    near_cache: dict[tuple[object, ...], np.ndarray] = field(default_factory=dict)
    # the last union of a hidden layer and its open-world stand-ins (kgsynth.questions.distractors._prev)
    prev_union: tuple[tuple[bytes, bytes], np.ndarray] | None = None
    # a vignette start distribution's drawable starts, per tally state (kgsynth.questions.vignette._drawable)
    drawable: dict[tuple[object, ...], np.ndarray] = field(default_factory=dict)

    def share_graph_caches(self, other: Memo) -> None:
        """Use ``other``'s caches of what depends on the graph, schema and question options alone (not on the start
        distribution, the probe or the tally): a second run over the same inputs with other rarity weights (the
        uniform-start baseline of ``kgsynth generate``) finds them filled. Its own output is unchanged."""
        for name in GRAPH_CACHES:
            setattr(self, name, getattr(other, name))

    def clear(self) -> None:
        """Drop every cached value (each field back to its empty default)."""
        for f in fields(self):
            setattr(self, f.name, f.default_factory() if f.default_factory is not MISSING else f.default)


# the Memo fields that depend on the graph, schema and question options alone (Memo.share_graph_caches)
GRAPH_CACHES = ("systems_cache", "reached", "lineage", "unsafe_cache", "usable_cache", "annotations", "relatives_cache",
                "twin_cache", "association_cache", "near_shape_cache", "start_reach",
                "sexes", "by_test", "hitters", "diagnosis_ends", "ends_of", "chain_layers",
                "near_cache", "finding_weights")  # fmt: skip


@dataclass
class Tally:
    """What the run has accepted so far, as the question steps need it: held by the run's generator
    (:class:`kgsynth.run.generate.Generator`), which alone writes it after each accepted item, and read by the
    steps through ``ctx.tally`` (the same object), so an attempt depends on the items accepted before it."""

    # items through each hidden intermediate so far, and how many one may have: walks through one at its cap
    # are passed over, so the cap costs a walk rather than an attempt
    hidden_counts: dict[int, int] = field(default_factory=dict)
    hidden_cap: int = 1
    # short answers: items per key, chain starts used; vignettes: items per diagnosis, vignettes accepted
    key_counts: dict[int, int] = field(default_factory=dict)
    used_starts: set[tuple[str, int]] = field(default_factory=set)
    diagnosis_counts: dict[int, int] = field(default_factory=dict)
    vignettes_accepted: int = 0


@dataclass(frozen=True, eq=False)
class Context:
    """The inputs of a run and what is derived from them once (graph, index, prover, templates, masks), built
    once by :func:`build_context` and never changed; plus the run's :class:`Memo` (a cache) and its
    :class:`Tally` (the items accepted so far, written by the generator alone)."""

    graph: Graph
    index: CSRIndex
    schema: GraphSchema
    config: GenerateConfig
    prover: Prover
    templates: Templates
    scores: np.ndarray
    abnormal: np.ndarray
    onset_terms: frozenset[int]
    pheno_degree: np.ndarray
    licence_of: list[str]
    commercial: list[bool]
    open_world: OpenWorld | None = None
    inheritance_modes: frozenset[int] = frozenset()
    chain_paths: list[tuple[MetapathSpec, list[Step]]] = field(default_factory=list)
    continuations: list[tuple[MetapathSpec, list[Step]]] = field(default_factory=list)
    # per node: a disease whose gene associations are susceptibility loci (kgsynth.questions.hidden)
    susceptible: np.ndarray | None = None
    # per node: a disease with too many genes for a middle gene, a drug with too many targets (obscure edges)
    heterogeneous: np.ndarray | None = None
    promiscuous: np.ndarray | None = None
    # per edge: a gene-disease edge OMIM's gene map does not back where it could (a modifier or candidate)
    unmapped: np.ndarray | None = None
    # per node: a gene more than the curation list's ``max_key_target_drugs`` drugs act on (never the key reached
    # from a hidden drug)
    hub_target: np.ndarray | None = None
    # per edge: an edge of the curation list's ``doubtful_edges`` (never on a question's path)
    doubtful: np.ndarray | None = None
    # per node: a phenotype a drug produces itself (never the key of a chain from a drug)
    drug_effect: np.ndarray | None = None
    # per drug class of the curation list's ``class_effect_phenotype_roots``: a mask of the class and its subclasses,
    # and one of the phenotypes its members produce (never the key of a chain from one of them)
    class_effect: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    # per drug: the diseases of its symptomatic indications, when the run leaves those edges out of the graph
    symptomatic: dict[int, np.ndarray] = field(default_factory=dict)
    # per drug: the diseases of its known treatments the sources lack (the curation list's ``known_treatments``)
    known_uses: dict[int, np.ndarray] = field(default_factory=dict)
    memo: Memo = field(default_factory=Memo)
    tally: Tally = field(default_factory=Tally)


_OPEN_WORLDS: dict[tuple[int, str, str | None], tuple[Graph, OpenWorld]] = {}


def _open_world(graph: Graph, index: CSRIndex, prover: Prover, schema_name: str) -> OpenWorld:
    """The open-world tables of ``graph``, built once per graph, schema and phenotype root and process."""
    got = _OPEN_WORLDS.get((id(graph), schema_name, prover.phenotype_root))
    if got is not None and got[0] is graph:
        return got[1]
    made = build_open_world(graph, index, prover, load_curation(schema_name))
    _OPEN_WORLDS.clear()
    _OPEN_WORLDS[(id(graph), schema_name, prover.phenotype_root)] = (graph, made)
    return made


def build_context(
    graph: Graph,
    index: CSRIndex,
    schema: GraphSchema,
    config: GenerateConfig,
    *,
    tally: Tally | None = None,
    symptomatic: dict[int, np.ndarray] | None = None,
) -> Context:
    """The shared context of one run (rarity scores, HPO masks under the schema's phenotype root, templates),
    everything computed first and the context constructed once; ``tally`` is the run generator's record of the
    items accepted (a fresh one if not given); ``symptomatic`` the symptomatic uses per drug of a run that leaves
    them out of ``graph`` (:func:`kgsynth.questions.curation.symptomatic_uses`)."""
    prover = Prover(graph, index, phenotype_root=schema.phenotype_root)
    onset_terms: frozenset[int] = frozenset()
    if ONSET_ROOT in graph.index:
        onset_terms = frozenset(int(x) for x in prover.descendants(graph.index[ONSET_ROOT]))
    abnormal = np.zeros(graph.num_nodes, dtype=bool)
    if prover.phenotype_root_node is not None:
        abnormal[prover.descendants(prover.phenotype_root_node)] = True
    templates = load_templates(schema)
    inheritance_modes = frozenset(
        int(x) for x in index.reach(np.arange(graph.num_nodes, dtype=np.int32), Step("biolink:has_mode_of_inheritance"))
    )

    multifactorial = np.zeros(graph.num_nodes, dtype=bool)
    if MULTIFACTORIAL in graph.index:
        multifactorial[
            index.reach(np.array([graph.index[MULTIFACTORIAL]], dtype=np.int32), Step(INHERITANCE, True))
        ] = True
    # drugs indicated per disease, symptomatic indications a run leaves out counted too (antipsychotics for
    # schizophrenia are all symptomatic in PharmacotherapyDB: without them schizophrenia passed as a rare entry)
    treated = index.degree(Step("biolink:treats", True))
    if symptomatic:
        treated = treated + np.bincount(np.concatenate(list(symptomatic.values())), minlength=graph.num_nodes)
    susceptible = susceptibility_diseases(graph, multifactorial, treated)
    curation = load_curation(config.schema_name)
    somatic = subtrees(graph, index, curation.somatic_disease_roots)

    chain_paths = askable_metapaths(schema, templates, index, None, config.hops)
    continuations = []
    if config.hops > 1:
        continuations = askable_metapaths(schema, templates, index, "biolink:Disease", config.hops - 1)
    return Context(
        graph=graph, index=index, schema=schema, config=config, prover=prover, templates=templates,
        scores=rarity_scores(graph, index, config.rarity), abnormal=abnormal, onset_terms=onset_terms,
        pheno_degree=index.degree(Step("biolink:has_phenotype", inverse=True)),
        licence_of=[s.licence for s in graph.sources], commercial=[s.commercial_use for s in graph.sources],
        open_world=_open_world(graph, index, prover, config.schema_name), inheritance_modes=inheritance_modes,
        chain_paths=chain_paths, continuations=continuations, susceptible=susceptible,
        heterogeneous=heterogeneous_diseases(index, config.max_disease_genes, somatic),
        promiscuous=promiscuous_drugs(index, config.max_drug_targets), unmapped=unmapped_gene_edges(graph),
        doubtful=doubtful_edges(graph, curation.doubtful_edges),
        hub_target=index.degree(Step(INTERACTS_WITH, inverse=True)) > curation.max_key_target_drugs,
        drug_effect=subtrees(graph, index, curation.drug_effect_phenotype_roots),
        class_effect=[(subtrees(graph, index, [klass]), subtrees(graph, index, roots))
                      for klass, roots in curation.class_effect_phenotype_roots.items()],
        tally=tally if tally is not None else Tally(), symptomatic=symptomatic or {},
        known_uses=known_uses(graph, curation.known_treatments),
    )  # fmt: skip


def doubtful_edges(graph: Graph, pairs: list[tuple[str, str]]) -> np.ndarray:
    """A mask over the edges of ``graph`` from the subject to the object of one of ``pairs`` (CURIEs; any relation;
    a pair not in ``graph`` skipped): the curation list's ``doubtful_edges``.

    >>> from kgsynth.graph.model import GraphBuilder, SourceInfo
    >>> b = GraphBuilder(); b.register_source(SourceInfo(name="s", title="s", licence="CC0"))
    >>> _ = b.stream("x", "s")
    >>> b.add_node("MONDO:1", "biolink:Disease", "absence epilepsy", source="s")
    >>> for c in ["HP:1", "HP:2"]: b.add_node(c, "biolink:PhenotypicFeature", c, source="s")
    >>> for c in ["HP:1", "HP:2"]: b.add_edge("MONDO:1", "biolink:has_phenotype", c, source="s", stream="x")
    >>> g = b.build()
    >>> [bool(x) for x in doubtful_edges(g, [("MONDO:1", "HP:2"), ("MONDO:9", "HP:1")])]
    [False, True]
    """
    out = np.zeros(graph.num_edges, dtype=bool)
    for subject, obj in pairs:
        if subject in graph.index and obj in graph.index:
            out |= (graph.src == graph.index[subject]) & (graph.dst == graph.index[obj])
    return out


def known_uses(graph: Graph, treatments: dict[str, list[str]]) -> dict[int, np.ndarray]:
    """Per drug node, the disease nodes (sorted) of the curation list's ``known_treatments`` (CURIEs not in
    ``graph`` skipped): dantrolene for malignant hyperthermia, which PharmacotherapyDB, a list of common diseases'
    indications, lacks.

    >>> from kgsynth.graph.model import GraphBuilder, SourceInfo
    >>> b = GraphBuilder(); b.register_source(SourceInfo(name="s", title="s", licence="CC0"))
    >>> for c, k in [("DB:1", "biolink:Drug"), ("D:1", "biolink:Disease"), ("D:2", "biolink:Disease")]:
    ...     b.add_node(c, k, c, source="s")
    >>> g = b.build()
    >>> got = known_uses(g, {"DB:1": ["D:2", "D:9"], "DB:9": ["D:1"]})
    >>> {g.ids[d]: [g.ids[int(x)] for x in v] for d, v in got.items()}
    {'DB:1': ['D:2']}
    """
    out: dict[int, np.ndarray] = {}
    for drug, diseases in treatments.items():
        found = sorted({graph.index[d] for d in diseases if d in graph.index})
        if drug in graph.index and found:
            out[graph.index[drug]] = np.array(found, dtype=np.int32)
    return out


def phenotypes_ok(ctx: Context, nodes: np.ndarray) -> bool:
    """No phenotype on the path is a clinical-course or modifier term (all under 'Phenotypic abnormality')."""
    lo, hi = ctx.prover.pheno_lo, ctx.prover.pheno_hi
    return all(bool(ctx.abnormal[int(n)]) for n in nodes if lo <= n < hi)


@dataclass
class Draft:
    """A question before assembly: its proof (constraints, candidate layers), path and wording context."""

    qtype: QuestionType
    fmt: AnswerFormat
    gold: int
    steps: list[Step]
    layers: list[np.ndarray]
    answer: int
    constraints: list[Constraint]
    path_edges: list[int]
    start_text: str
    start: int
    nodes: list[int]
    mp_name: str
    vignette_ctx: dict[str, Any] | None = None
    vignette_distractors: list[tuple[int, str, int]] | None = None
    # a chain end's distractors, chosen while the walk was picked (kgsynth.questions.itemize.walk_distractors)
    chain_distractors: list[tuple[int, str, int]] | None = None
    # an open-book multiple-choice chain's facts (edge ids, shuffled), built with its decoys while the walk was picked
    facts: list[int] | None = None
    findings_rationale: dict[str, Any] | None = None
    # for a vignette's continuation: the hidden layer before the last step, followed from every disease
    # consistent with all findings but one (the open world may hold the missing annotation)
    open_prev: np.ndarray | None = None


def ow(ctx: Context) -> OpenWorld:
    """The run's open-world tables."""
    assert ctx.open_world is not None
    return ctx.open_world


ASSOCIATION_CACHE = 2048  # stated-entity sets whose association scores are kept (sparse: a few thousand nodes each)


def shortcut_tables(ctx: Context) -> Shortcuts:
    """The run's :class:`~kgsynth.questions.shortcuts.Shortcuts` (built on first use, kept in ``ctx.memo``)."""
    if ctx.memo.shortcuts is None:
        cfg = ctx.config
        ctx.memo.shortcuts = Shortcuts.build(
            ctx.graph, ctx.index, ow(ctx).curation,
            use_terms=cfg.shortcut_use_terms, class_members=cfg.shortcut_class_members,
            contradicted=ow(ctx).contradicted,
        )  # fmt: skip
    return ctx.memo.shortcuts


def stated_nodes(ctx: Context, constraints: list[Constraint]) -> np.ndarray:
    """The entities a question's stem states: its start entity, or a vignette's findings and mode of
    inheritance (sorted node ids)."""
    curies = [v for c in constraints if c.kind in ("start", "has_phenotype", "has_mode_of_inheritance")
              for k, v in c.args.items() if k in ("entity", "phenotype", "mode")]  # fmt: skip
    index = ctx.graph.index
    return np.unique(np.array([index[c] for c in curies if c in index], dtype=np.int32))


def association(ctx: Context, stated: np.ndarray) -> np.ndarray:
    """The association of every node with ``stated`` (:func:`kgsynth.questions.association.association_scores`, walks
    as long as the run's chains), cached per stated set."""
    from kgsynth.questions.association import association_scores

    key = stated.tobytes()
    memo = ctx.memo
    if memo.association_last is not None and memo.association_last[0] == key:
        return memo.association_last[1]
    kept = memo.association_cache.get(key)
    if kept is not None:
        memo.association_cache.move_to_end(key)
        got = np.zeros(ctx.graph.num_nodes, dtype=np.float64)
        got[kept[0]] = kept[1]
    else:
        got = association_scores(ow(ctx).walks, stated, steps=min(ctx.config.hops + 1, 4),
                                 keep=ctx.config.association_keep)  # fmt: skip
        touched = np.flatnonzero(got > 0).astype(np.int32)  # (scores are never negative; a float scan is slower)
        memo.association_cache[key] = (touched, got[touched])
        if len(memo.association_cache) > ASSOCIATION_CACHE:
            memo.association_cache.popitem(last=False)
    got.flags.writeable = False
    memo.association_last = (key, got)
    return got


def nodes_readable(ctx: Context, nodes: np.ndarray) -> bool:
    """No node is a raw identifier or an incidental class."""
    return not bool(ow(ctx).bad[np.asarray(nodes, dtype=np.int64)].any())


def key_problem(ctx: Context, nodes: list[int], hidden: list[int]) -> str | None:
    """Why the end of a path is not a key a clinician would accept (None if it is).

    ``nodes`` is the walked path (start first, key last); ``hidden`` the entities the question does not
    name, which the key must not restate."""
    g, o = ctx.graph, ow(ctx)
    key = nodes[-1]
    if not nodes_readable(ctx, np.array(nodes)):
        return "path has an unnamed entity or an incidental drug class"
    cat = g.categories[int(g.category[key])]
    if cat == "biolink:PhenotypicFeature" and o.generic_key[key]:
        return "key is an HPO term at organ-system depth"
    if cat == "biolink:PhenotypicFeature" and o.vague_key[key]:
        return "key is an HPO grouping term"
    if g.names[key] and key in ctx.inheritance_modes and key not in o.mendelian:
        return "key is a non-Mendelian mode of inheritance"
    # (a gene too: BBS10 is a synonym of "Bardet-Biedl syndrome 10", which a path may hold)
    if cat in ("biolink:PhenotypicFeature", "biolink:Disease", "biolink:Gene") and o.key_restates(key, hidden):
        return "key restates the hidden entity"
    # nor, beyond one hop, the start the stem names ("High serum calcitriol" from calcitriol through VDR)
    if (
        cat in ("biolink:PhenotypicFeature", "biolink:Disease")
        and len(nodes) > 2
        and norms_overlap(o.norms(key), o.norms(nodes[0]))
    ):
        return "key restates the question's start"
    if cat == "biolink:OntologyClass":
        # a class named after an entity of its path ("Cystic Fibrosis Transmembrane Conductance Regulator
        # Potentiator" after cystic fibrosis): the audit's circular key
        named = [*hidden, nodes[0]] if len(nodes) > 2 else hidden
        if any(norms_overlap(o.norms(key), o.norms(h)) for h in named):
            return "key restates the hidden entity"
        start = nodes[0]
        if g.categories[int(g.category[start])] == "biolink:Drug" and key in ctx.index.neighbors(start, MEMBER_OF_STEP):
            return "answer class is the start drug's own class"
    return None


WalkCheck = Callable[[np.ndarray, np.ndarray], str | None]


def acceptable_walk(
    ctx: Context,
    steps: list[Step],
    starts: np.ndarray,
    rng: np.random.Generator,
    *,
    hidden_from: int,
    accept: WalkCheck | None = None,
) -> tuple[np.ndarray, np.ndarray] | Drop:
    """Walks along ``steps`` from ``starts``; the nodes and edges of the first whose path and key pass
    :func:`key_problem` and the phenotype check (and ``accept``, given the walk's nodes and edges: the
    question's own last check, such as finding near distractors, so that a walk that fails it costs a walk,
    not an attempt), or the first walk's problem (``hidden_from``: the index of the first node the question
    does not name)."""
    blocked = hidden_blocked(ctx)
    avoid: list[np.ndarray | None] = [blocked if hidden_from <= j + 1 < len(steps) else ow(ctx).bad
                                      for j in range(len(steps))]  # fmt: skip
    walks = sample_walks(ctx.index, steps, starts, seed=rng, hub_cap=ctx.config.hub_cap, avoid=avoid)
    if len(walks.nodes) == 0:
        return Drop("walk died (dead end, repeated node or hub)")
    first: str | None = None
    for w in range(len(walks.nodes)):
        path = [int(x) for x in walks.nodes[w]]
        problem = (
            None
            if phenotypes_ok(ctx, walks.nodes[w])
            else "path has a clinical-course or modifier term, not a phenotypic abnormality"
        )
        if problem is None and ow(ctx).contradicted[walks.edges[w]].any():
            problem = "path has a drug-class membership the drug's targets contradict"
        problem = problem or key_problem(ctx, path, path[hidden_from:-1])
        tally = ctx.tally
        if problem is None and any(tally.hidden_counts.get(h, 0) >= tally.hidden_cap for h in path[hidden_from:-1]):
            problem = HIDDEN_CAPPED
        if problem is None and circular_feature(ctx, steps, path, hidden_from):
            problem = CIRCULAR_FEATURE
        if problem is None and hidden_from == 1 and len(steps) > 1 and adjacent(ctx, path[0], path[-1]):
            problem = KEY_BESIDE_START
        if problem is None and hidden_from == 0 and indicated_above(ctx, path[0], path[-1]):
            problem = DIAGNOSIS_TREATED
        if problem is None:
            problem = walk_problem(ctx, steps, walks.nodes[w], walks.edges[w])
        if problem is None and accept is not None:
            problem = accept(walks.nodes[w], walks.edges[w])
        if problem is None:
            return walks.nodes[w], walks.edges[w]
        first = first or problem
    assert first is not None
    return Drop(first)


def hidden_blocked(ctx: Context) -> np.ndarray:
    """A mask of the nodes a walk should not pass as a hidden intermediate: unnamed or incidental ones, and those
    at their share of the items (``hidden_counts`` at ``hidden_cap``); rebuilt when either changes."""
    key = (ctx.tally.hidden_cap, sum(ctx.tally.hidden_counts.values()))
    if ctx.memo.blocked is None or ctx.memo.blocked[0] != key:
        mask = ow(ctx).bad.copy()
        capped = [h for h, c in ctx.tally.hidden_counts.items() if c >= ctx.tally.hidden_cap]
        mask[np.array(capped, dtype=np.int64)] = True
        ctx.memo.blocked = (key, mask)
    return ctx.memo.blocked[1]


CIRCULAR_FEATURE = "a hidden disease that is itself a phenotype (an HPO term of its name) is asked for a feature"


TREATS = Step("biolink:treats")
DRUG = "biolink:Drug"
DISEASE = "biolink:Disease"
DRUG_EFFECT = "key is a phenotype a drug produces itself, in a chain from a drug (its own pharmacology answers it)"
HUB_TARGET = "key is a gene a hidden drug acts on, and more than max_key_target_drugs drugs do (a class's hub target)"
DOUBTFUL = "path has an edge the curation list doubts (doubtful_edges: an obscure link or a doubtful annotation)"
CLASS_EFFECT = "key is a phenotype the start drug's class produces, in a chain from a drug (its class answers it)"
DIAGNOSIS_TREATED = "vignette's drug key is indicated for its diagnosis or a broader one (the diagnosis gives it)"
HETEROGENEOUS = "path passes a gene through a disease with more genes than max_disease_genes (a minor gene)"
UNMAPPED = "path has a gene-disease edge OMIM's gene map does not back (a modifier, susceptibility or candidate gene)"
PROMISCUOUS = "path has a drug-target edge of a drug with more targets than max_drug_targets (an incidental binding)"
OWN_USE = "key is a phenotype of a use of the start drug, or named like one (the drug's use answers it)"
USE_KIND = "a hidden disease is a use of the start drug or a kind of one (the drug's use answers it)"


KEY_BESIDE_START = "key is a direct neighbour of the start entity (answered by association, not the chain)"


def indicated_above(ctx: Context, disease: int, drug: int) -> bool:
    """``drug`` is indicated for ``disease`` or a broader disease above it (``subclass_of``): ruxolitinib for primary
    myelofibrosis, chlorpropamide for diabetes mellitus above permanent neonatal diabetes. A vignette whose
    diagnosis is treated by its key is answered from the diagnosis alone, without the gene."""
    g = ctx.graph
    if g.categories[int(g.category[drug])] != DRUG:
        return False
    above = upward_closure(ctx.index, disease, ctx.memo.lineage, (0, g.num_nodes))  # (the run's lineage cache)
    return bool(isin_sorted(uses_of(ctx, drug), above).any())  # (closures are sorted)


def uses_of(ctx: Context, drug: int) -> np.ndarray:
    """The diseases ``drug`` is indicated for, its symptomatic uses included when the run leaves them out, and its
    known treatments the sources lack (:func:`known_uses`)."""
    none = np.empty(0, np.int32)
    return np.concatenate(
        [ctx.index.neighbors(drug, TREATS), ctx.symptomatic.get(drug, none), ctx.known_uses.get(drug, none)]
    )


def own_use(ctx: Context, drug: int, phenotype: int) -> bool:
    """``phenotype`` is a finding of a disease ``drug`` is indicated for (symptomatic uses included), or a name of
    it is (part of) a name of such a disease: estradiol, indicated for osteoporosis, and "Osteopenia";
    calcitriol, for chronic kidney disease, and "Secondary hyperparathyroidism". A chain from the drug to that
    phenotype is answered by what the drug is used for, without the chain."""
    uses = uses_of(ctx, drug)
    found = ctx.memo.use_findings.get(drug)
    if found is None:
        found = ctx.memo.use_findings[drug] = np.unique(ctx.index.reach(uses.astype(np.int32), HAS_PHENOTYPE_STEP))
    if isin_sorted(np.array([phenotype]), found)[0]:
        return True
    key = ow(ctx).norms(phenotype)
    return any(norms_overlap(key, ow(ctx).norms(int(u))) for u in uses.tolist())


def use_kind(ctx: Context, steps: list[Step], nodes: np.ndarray) -> bool:
    """A chain from a drug passes a hidden disease, reached by a step other than its indication, that the drug is
    indicated for or that lies below one of its uses (:func:`indicated_above`): levothyroxine -> THRA -> congenital
    nongoitrous hypothyroidism 6, a hypothyroidism, whose features a reader names from levothyroxine's use without
    the target or the gene (a physician read of ``make demo``)."""
    g, start = ctx.graph, int(nodes[0])
    return any(
        step != TREATS and g.categories[int(g.category[int(n)])] == DISEASE and indicated_above(ctx, int(n), start)
        for step, n in zip(steps[:-1], nodes[1:-1], strict=True)
    )


def adjacent(ctx: Context, a: int, b: int) -> bool:
    """Some edge of any relation joins ``a`` and ``b`` (a drug and its own side effect: steroids and hypokalemia)."""
    w = ow(ctx).walks
    return bool((w.cols[w.indptr[a] : w.indptr[a + 1]] == b).any())


def phenotype_twin(ctx: Context, disease: int) -> bool:
    """``disease`` has a name or synonym that is the name or synonym of an HPO phenotype (obesity, osteoporosis,
    migraine, Barrett esophagus, type 2 diabetes): a disease used as a phenotype, cached per run."""
    got = ctx.memo.twin_cache.get(disease)
    if got is None:
        if ctx.memo.phenotype_norms is None:
            g = ctx.graph
            lo, hi = g.category_range("biolink:PhenotypicFeature")
            ctx.memo.phenotype_norms = frozenset(n for p in range(lo, hi) for n in ow(ctx).norms(p))
        got = ctx.memo.twin_cache[disease] = bool(ow(ctx).norms(disease) & ctx.memo.phenotype_norms)
    return got


def circular_feature(ctx: Context, steps: list[Step], path: list[int], hidden_from: int) -> bool:
    """The walk asks for a phenotype of a hidden disease that is itself a phenotype (:func:`phenotype_twin`): its
    "features" are its own synonyms, parents or complications (obesity -> increased body weight, Barrett
    esophagus -> esophageal neoplasm), a circular question."""
    g = ctx.graph
    return any(
        j >= hidden_from
        and step == HAS_PHENOTYPE_STEP
        and g.categories[int(g.category[path[j]])] == "biolink:Disease"
        and phenotype_twin(ctx, path[j])
        for j, step in enumerate(steps)
    )


def walk_problem(ctx: Context, steps: list[Step], nodes: np.ndarray, edges: np.ndarray) -> str | None:
    """Why a walk is not worth asking though its key is acceptable: a phenotype key from a rare annotation, a
    gene in the middle reached through a susceptibility locus rather than a Mendelian association or through a
    heterogeneous disease, a gene-disease edge OMIM's gene map does not back, an edge the curation list doubts
    (:func:`doubtful_edges`), a hub target gene key reached from a hidden drug, a drug-target edge of a promiscuous
    drug (:mod:`kgsynth.questions.hidden`), or, in a chain from a drug, a phenotype key the drug or its class
    produces itself (:func:`class_effect`) or one of its uses has (:func:`own_use`), or a hidden disease that is its
    use (:func:`use_kind`)."""
    if (
        steps
        and steps[-1] == HAS_PHENOTYPE_STEP
        and edge_share(ctx.graph, int(edges[-1])) < ctx.config.min_finding_frequency
    ):
        return "key is a phenotype from an infrequent annotation"
    g = ctx.graph
    start = int(nodes[0])
    if g.categories[int(g.category[start])] == "biolink:PhenotypicFeature" and any(
        g.categories[int(g.category[int(n)])] == "biolink:Gene" for n in nodes
    ):
        names = [g.names[start], *g.synonyms[start], *g.layperson[start]]
        if load_leak_rules(ctx.config.schema_name).molecular(names) is not None:
            return "start phenotype names a molecular activity with a gene on the path"
    if ctx.susceptible is not None and passes_susceptibility_gene(steps, nodes, ctx.susceptible):
        return "path passes a gene through a susceptibility locus (not a Mendelian association)"
    if ctx.heterogeneous is not None and passes_susceptibility_gene(steps, nodes, ctx.heterogeneous):
        return HETEROGENEOUS
    if ctx.unmapped is not None and passes_unmapped_gene_edge(steps, edges, ctx.unmapped):
        return UNMAPPED
    if ctx.doubtful is not None and ctx.doubtful[edges].any():
        return DOUBTFUL
    if (
        ctx.hub_target is not None
        and len(steps) > 1
        and steps[-1] == INTERACTS_WITH_STEP
        and ctx.hub_target[int(nodes[-1])]
    ):
        return HUB_TARGET
    if ctx.promiscuous is not None and passes_promiscuous_drug(steps, nodes, ctx.promiscuous):
        return PROMISCUOUS
    if g.categories[int(g.category[start])] == DRUG:
        if ctx.drug_effect is not None and ctx.drug_effect[int(nodes[-1])]:
            return DRUG_EFFECT
        if class_effect(ctx, start, int(nodes[-1])):
            return CLASS_EFFECT
        if ctx.abnormal[int(nodes[-1])] and own_use(ctx, start, int(nodes[-1])):
            return OWN_USE
        if use_kind(ctx, steps, nodes):
            return USE_KIND
    return None


def class_effect(ctx: Context, drug: int, phenotype: int) -> bool:
    """``phenotype`` is one the curation list's ``class_effect_phenotype_roots`` give a class of ``drug`` (it or a
    subclass of it has ``drug`` as a member): a thiazide's hypokalaemic weakness and cramps, a loop diuretic's
    nephrocalcinosis, an antithyroid drug's hypothyroidism and goitre.

    >>> from kgsynth.graph.model import GraphBuilder, SourceInfo
    >>> from kgsynth.graph.index import CSRIndex
    >>> b = GraphBuilder(); b.register_source(SourceInfo(name="s", title="s", licence="CC0"))
    >>> _ = b.stream("x", "s")
    >>> b.add_node("D:1", "biolink:Drug", "thiazide", source="s")
    >>> for c in ["C:diuretic", "C:thiazides"]: b.add_node(c, "biolink:OntologyClass", c, source="s")
    >>> for c in ["HP:weak", "HP:proximal", "HP:rash"]: b.add_node(c, "biolink:PhenotypicFeature", c, source="s")
    >>> b.add_edge("D:1", "biolink:member_of", "C:thiazides", source="s", stream="x")
    >>> b.add_edge("C:thiazides", "biolink:subclass_of", "C:diuretic", source="s", stream="x")
    >>> b.add_edge("HP:proximal", "biolink:subclass_of", "HP:weak", source="s", stream="x")
    >>> g = b.build(); idx = CSRIndex(g)
    >>> from types import SimpleNamespace
    >>> effect = [(subtrees(g, idx, ["C:diuretic"]), subtrees(g, idx, ["HP:weak"]))]
    >>> ctx = SimpleNamespace(index=idx, class_effect=effect)
    >>> [class_effect(ctx, g.index["D:1"], g.index[p]) for p in ["HP:proximal", "HP:rash"]]
    [True, False]
    """
    if not ctx.class_effect:
        return False
    classes = ctx.index.neighbors(drug, MEMBER_OF_STEP)
    return any(effects[phenotype] and members[classes].any() for members, effects in ctx.class_effect)


def askable_metapaths(
    schema: GraphSchema, templates: Templates, index: CSRIndex, start: str | None, hops: int
) -> list[tuple[MetapathSpec, list[Step]]]:
    """The schema's metapaths of ``hops`` steps (from ``start`` if given) whose every step has phrases and edges."""
    out = []
    for mp in schema.metapaths:
        if len(mp.steps) != hops or (start is not None and mp.start != start):
            continue
        steps = [Step.parse(s) for s in mp.steps]
        if all(str(s) in templates.phrases and index.adjacency(s) is not None for s in steps):
            out.append((mp, steps))
    return out
