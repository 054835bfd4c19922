"""Proofs over the graph: candidate sets of stated constraints, and why each distractor is wrong.

A question states constraints; its candidate set is every entity that satisfies all of them, computed
exhaustively on the CSR index (a chain is followed through every possible hidden intermediate, not just
the sampled one). For phenotypes, a disease has a listed phenotype if it is annotated with it or with a
more specific term (HPO ``is_a``); a ``NOT`` annotation of the phenotype or of a broader term is explicit
evidence that the disease lacks it.
"""

from __future__ import annotations

import logging
from functools import cached_property

import numpy as np

from kgsynth.graph.index import CSRIndex, Step
from kgsynth.graph.model import Graph
from kgsynth.graph.schema import DEFAULT_SCHEMA, PHENOTYPE_ROOT, load_schema

logger = logging.getLogger(__name__)

HAS_PHENOTYPE = Step("biolink:has_phenotype")
PHENOTYPE_OF = Step("biolink:has_phenotype", inverse=True)
NOT_PHENOTYPE = Step("NOT biolink:has_phenotype")
SUBCLASS = Step("biolink:subclass_of")
SUPERCLASS = Step("biolink:subclass_of", inverse=True)
INHERITANCE = Step("biolink:has_mode_of_inheritance")
# The HPO root of phenotypic abnormalities, as the default schema declares it (graph_schemas/hpo.yaml `roots`):
# the Prover's default; a run passes its own schema's root (GraphSchema.phenotype_root).
PHENOTYPIC_ABNORMALITY = load_schema(DEFAULT_SCHEMA).roots[PHENOTYPE_ROOT]
# The relation that makes two entities of a category siblings (the default is a shared parent class).
SIBLING_VIA = {
    "biolink:Drug": Step("biolink:member_of"),
    "biolink:Gene": Step("biolink:gene_associated_with_condition"),
}


class _Cycle(Exception):
    """A ``subclass_of`` cycle met while memoising ancestors (the caller falls back to a search)."""


def upward_closure(index: CSRIndex, term: int, cache: dict[int, np.ndarray], bounds: tuple[int, int]) -> np.ndarray:
    """``term`` and every node above it by ``subclass_of`` within ``bounds`` (sorted), memoised per node in
    ``cache``: a node's ancestors are the union of its parents' (the same set a breadth-first search finds,
    at one small union per node instead of a search per query)."""
    try:
        return _upward(index, term, cache, bounds, set())
    except _Cycle:
        lo, hi = bounds
        seen = np.zeros(hi - lo, dtype=bool)
        seen[term - lo] = True
        frontier = np.array([term], dtype=np.int32)
        while len(frontier):
            nxt = index.reach(frontier, SUBCLASS)
            nxt = nxt[(nxt >= lo) & (nxt < hi)]
            frontier = nxt[~seen[nxt - lo]]
            seen[frontier - lo] = True
        out = (np.flatnonzero(seen) + lo).astype(np.int32)
        cache[term] = out
        return out


def _upward(
    index: CSRIndex, term: int, cache: dict[int, np.ndarray], bounds: tuple[int, int], active: set[int]
) -> np.ndarray:
    got = cache.get(term)
    if got is not None:
        return got
    if term in active:
        raise _Cycle
    active.add(term)
    lo, hi = bounds
    parents = index.neighbors(term, SUBCLASS)
    parts = [np.array([term], dtype=np.int32)]
    parts += [_upward(index, int(p), cache, bounds, active) for p in parents if lo <= p < hi and p != term]
    out = parts[0] if len(parts) == 1 else np.unique(np.concatenate(parts)).astype(np.int32)
    active.discard(term)
    cache[term] = out
    return out


class Prover:
    """Candidate sets and evidence on one graph; results are cached per term."""

    def __init__(self, graph: Graph, index: CSRIndex, *, phenotype_root: str | None = PHENOTYPIC_ABNORMALITY) -> None:
        self.graph = graph
        self.index = index
        self.phenotype_root = phenotype_root  # the CURIE under which phenotypic abnormalities hang (schema roots)
        self._desc: dict[int, np.ndarray] = {}
        self._anc: dict[int, np.ndarray] = {}
        self._with: dict[int, np.ndarray] = {}
        self._systems: dict[int, frozenset[int]] = {}
        self.pheno_lo, self.pheno_hi = graph.category_range("biolink:PhenotypicFeature")

    # --- the HPO hierarchy ---------------------------------------------------------------------
    def _closure(self, term: int, step: Step, cache: dict[int, np.ndarray]) -> np.ndarray:
        got = cache.get(term)
        if got is not None:
            return got
        seen = np.zeros(self.graph.num_nodes, dtype=bool)
        seen[term] = True
        frontier = np.array([term], dtype=np.int32)
        while len(frontier):
            nxt = self.index.reach(frontier, step)
            nxt = nxt[(nxt >= self.pheno_lo) & (nxt < self.pheno_hi)]
            frontier = nxt[~seen[nxt]]
            seen[frontier] = True
        out = np.flatnonzero(seen).astype(np.int32)
        cache[term] = out
        return out

    def descendants(self, term: int) -> np.ndarray:
        """``term`` and every more specific phenotype (sorted)."""
        return self._closure(term, SUPERCLASS, self._desc)

    def ancestors(self, term: int) -> np.ndarray:
        """``term`` and every broader phenotype (sorted)."""
        got = self._anc.get(term)
        if got is None:
            got = upward_closure(self.index, term, self._anc, (self.pheno_lo, self.pheno_hi))
        return got

    def diseases_with(self, term: int) -> np.ndarray:
        """Diseases annotated with ``term`` or a more specific term (sorted unique)."""
        got = self._with.get(term)
        if got is None:
            got = self.index.reach(self.descendants(term), PHENOTYPE_OF)
            self._with[term] = got
        return got

    def diseases_with_inheritance(self, term: int) -> np.ndarray:
        return self.index.reach(self.descendants(term), Step(INHERITANCE.relation, True))

    @cached_property
    def phenotype_root_node(self) -> int | None:
        """The node of :attr:`phenotype_root` (None when no root is named or the graph lacks it)."""
        return self.graph.index.get(self.phenotype_root) if self.phenotype_root is not None else None

    @cached_property
    def organ_system_roots(self) -> frozenset[int]:
        """The top-level HPO branches (children of the phenotype root, Phenotypic abnormality by default)."""
        root = self.phenotype_root_node
        if root is None:
            return frozenset()
        return frozenset(int(x) for x in self.index.neighbors(root, SUPERCLASS))

    def systems_of(self, term: int) -> frozenset[int]:
        """The organ systems (top-level branches) a phenotype belongs to."""
        got = self._systems.get(term)
        if got is None:
            got = frozenset(int(a) for a in self.ancestors(term)) & self.organ_system_roots
            self._systems[term] = got
        return got

    def annotated_systems(self, disease: int) -> frozenset[int]:
        out: set[int] = set()
        for p in self.index.neighbors(disease, HAS_PHENOTYPE):
            out |= self.systems_of(int(p))
        return frozenset(out)

    def lacks(self, disease: int, term: int) -> bool:
        """Explicit negative evidence: a ``NOT`` annotation of ``term`` or of a broader term."""
        negated = self.index.neighbors(disease, NOT_PHENOTYPE)
        if len(negated) == 0:
            return False
        return bool(np.isin(negated, self.ancestors(term)).any())

    # --- chains ---------------------------------------------------------------------------------
    def follow(self, start: np.ndarray, steps: list[Step]) -> list[np.ndarray]:
        """The candidate set after each step, following every possible intermediate."""
        layers = []
        current = np.unique(np.asarray(start, dtype=np.int32))
        for step in steps:
            current = self.index.reach(current, step)
            layers.append(current)
        return layers

    def siblings(self, nodes: np.ndarray) -> np.ndarray:
        """Nodes of the same category sharing a parent (diseases, phenotypes: ``subclass_of``), a class
        (drugs: ``member_of``) or a disease (genes)."""
        if len(nodes) == 0:
            return nodes
        category = self.graph.categories[int(self.graph.category[int(nodes[0])])]
        up = SIBLING_VIA.get(category, SUBCLASS)
        out = self.index.reach(self.index.reach(nodes, up), Step(up.relation, not up.inverse))
        return out[~np.isin(out, nodes, assume_unique=True)]
