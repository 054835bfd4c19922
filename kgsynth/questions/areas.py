"""Clinical areas: per entity, the organ systems or therapeutic areas it belongs to, as bits.

A distractor is *near* when it lies in the key's area, and the audit counts items whose key is the only
option in its area (an item a reader answers by the area alone). One definition serves both:

- a phenotype: its HPO organ systems (the branches under "Phenotypic abnormality", HP:0000118), a branch the
  curation list names in ``separate_area_roots`` counting as an area of its own instead of its organ system's
  (the peripheral nervous system: nerve conduction beside seizures is not "the same system" to a clinician);
- a disease: the organ systems that hold at least a quarter of its phenotype annotations;
- a gene: the areas of the diseases it is associated with;
- a drug class: its branch under MeSH "Therapeutic Uses" (``therapeutic_root`` of the curation list), or,
  for a class outside that tree (NDFRT, ChEBI, MeSH mechanisms), the areas of its member drugs;
- a drug: the therapeutic branches of the MeSH classes it is a member of.

Bits are numbered per kind of area (organ systems, therapeutic areas); two entities share an area when
their masks share a bit. 0 means no known area (no constraint).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from kgsynth.graph.index import CSRIndex, Step
from kgsynth.graph.model import Graph
from kgsynth.questions.verify import PHENOTYPIC_ABNORMALITY

logger = logging.getLogger(__name__)

SUBCLASS = Step("biolink:subclass_of")
SUPERCLASS = Step("biolink:subclass_of", True)
HAS_PHENOTYPE = Step("biolink:has_phenotype")
GENE_TO_DISEASE = Step("biolink:gene_associated_with_condition")
MEMBER_OF = Step("biolink:member_of")
MEMBERS = Step("biolink:member_of", True)
DISEASE_SHARE = 0.25  # an organ system is a disease's area when it holds this share of its annotations
MAX_BITS = 63


def subtree(graph: Graph, index: CSRIndex, node: int) -> np.ndarray:
    """A mask of ``node`` and everything below it along ``subclass_of``."""
    seen = np.zeros(graph.num_nodes, dtype=bool)
    frontier = np.array([node], dtype=np.int32)
    seen[frontier] = True
    while len(frontier):
        nxt = index.reach(frontier, SUPERCLASS)
        frontier = nxt[~seen[nxt]]
        seen[frontier] = True
    return seen


def subtrees(graph: Graph, index: CSRIndex, roots: Sequence[str]) -> np.ndarray:
    """A mask of the ``roots`` (CURIEs; those not in ``graph`` are skipped) and everything below them."""
    out = np.zeros(graph.num_nodes, dtype=bool)
    for root in roots:
        if root in graph.index:
            out |= subtree(graph, index, graph.index[root])
    return out


def _branch_bits(graph: Graph, index: CSRIndex, root: str) -> np.ndarray:
    """Per node, a bit per child of ``root`` it descends from (``subclass_of``)."""
    bits = np.zeros(graph.num_nodes, dtype=np.int64)
    node = graph.index.get(root)
    if node is None:
        return bits
    for bit, child in enumerate(sorted(int(c) for c in index.neighbors(node, SUPERCLASS))[:MAX_BITS]):
        bits[subtree(graph, index, child)] |= np.int64(1) << np.int64(bit)
    return bits


def _or_over(index: CSRIndex, bits: np.ndarray, step: Step) -> np.ndarray:
    """Per node, the OR of ``bits`` over what ``step`` reaches from it (length ``num_nodes``)."""
    out = np.zeros(len(bits), dtype=np.int64)
    adj = index.adjacency(step)
    if adj is not None:
        rows = np.repeat(np.arange(adj.lo, adj.lo + len(adj.indptr) - 1), np.diff(adj.indptr))
        np.bitwise_or.at(out, rows, bits[adj.cols])
    return out


def _majority_systems(index: CSRIndex, systems: np.ndarray) -> np.ndarray:
    """Per node, the organ systems holding at least :data:`DISEASE_SHARE` of its phenotype annotations."""
    out = np.zeros(len(systems), dtype=np.int64)
    adj = index.adjacency(HAS_PHENOTYPE)
    if adj is None:
        return out
    rows = np.repeat(np.arange(adj.lo, adj.lo + len(adj.indptr) - 1), np.diff(adj.indptr))
    sb = systems[adj.cols]
    rows, sb = rows[sb != 0], sb[sb != 0]
    total = np.bincount(rows, minlength=len(systems))
    used = int(np.bitwise_or.reduce(sb)) if len(sb) else 0
    for bit in range(MAX_BITS):
        if not used >> bit & 1:
            continue
        count = np.bincount(rows, weights=(sb >> np.int64(bit)) & 1, minlength=len(systems))
        out[(count > 0) & (count >= DISEASE_SHARE * total)] |= np.int64(1) << np.int64(bit)
    return out


def _separate(graph: Graph, index: CSRIndex, systems: np.ndarray, roots: Sequence[str]) -> np.ndarray:
    """``systems`` with the subtree of each of ``roots`` moved from its organ system's bit to a bit of its own."""
    systems = systems.copy()
    free = int(np.bitwise_or.reduce(systems)).bit_length() if len(systems) else 0
    for root in roots:
        node = graph.index.get(root)
        if node is None or free >= MAX_BITS:
            continue
        seen = subtree(graph, index, node)
        own = systems[node]
        systems[seen] = (systems[seen] & ~own) | (np.int64(1) << np.int64(free))
        free += 1
    return systems


def build_areas(
    graph: Graph,
    index: CSRIndex,
    *,
    therapeutic_root: str,
    phenotype_root: str | None = PHENOTYPIC_ABNORMALITY,
    separate_roots: Sequence[str] = (),
) -> np.ndarray:
    """Per node, its area bits (see the module docstring); 0 where no area is known. ``phenotype_root`` is the
    schema's root of phenotypic abnormalities (GraphSchema.phenotype_root; None: no organ systems);
    ``separate_roots``: branches below an organ system that are areas of their own.

    >>> from kgsynth.graph.model import GraphBuilder, SourceInfo
    >>> b = GraphBuilder(); b.register_source(SourceInfo(name="s", title="s", licence="CC0"))
    >>> for i, n in ((118, "root"), (1, "heart"), (2, "eye"), (3, "arrhythmia")):
    ...     b.add_node(f"HP:{i:07d}", "biolink:PhenotypicFeature", n, source="s")
    >>> _ = b.stream("x", "s")
    >>> for s, o in (("HP:0000001", "HP:0000118"), ("HP:0000002", "HP:0000118"), ("HP:0000003", "HP:0000001")):
    ...     b.add_edge(s, "biolink:subclass_of", o, source="s", stream="x")
    >>> g = b.build(); a = build_areas(g, CSRIndex(g), therapeutic_root="MESH:D045506")
    >>> int(a[g.index["HP:0000003"]]) == int(a[g.index["HP:0000001"]]) != int(a[g.index["HP:0000002"]])
    True
    """
    g = graph
    systems = _branch_bits(g, index, phenotype_root) if phenotype_root is not None else np.zeros(g.num_nodes, np.int64)
    if phenotype_root is not None and separate_roots:
        systems = _separate(g, index, systems, separate_roots)
    therapeutic = _branch_bits(g, index, therapeutic_root)
    areas = np.zeros(g.num_nodes, dtype=np.int64)
    lo, hi = g.category_range("biolink:PhenotypicFeature")
    areas[lo:hi] = systems[lo:hi]
    lo, hi = g.category_range("biolink:Disease")
    areas[lo:hi] = _majority_systems(index, systems)[lo:hi]
    lo, hi = g.category_range("biolink:Gene")
    areas[lo:hi] = _or_over(index, areas, GENE_TO_DISEASE)[lo:hi]
    lo, hi = g.category_range("biolink:Drug")
    areas[lo:hi] = _or_over(index, therapeutic, MEMBER_OF)[lo:hi]
    lo, hi = g.category_range("biolink:OntologyClass")
    from_members = _or_over(index, areas, MEMBERS)
    areas[lo:hi] = np.where(therapeutic[lo:hi] != 0, therapeutic[lo:hi], from_members[lo:hi])
    logger.debug("areas: %d of %d nodes have one", int((areas != 0).sum()), g.num_nodes)
    return areas


def area_of(areas: np.ndarray, node: int) -> int:
    """The area bits of ``node`` (0: none known)."""
    return int(areas[node])
