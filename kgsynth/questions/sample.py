"""Path sampling on the CSR index: rarity-weighted starts, metapath-constrained walks, a hub guard.

Walks are drawn in batches, vectorised over the batch: each step picks, for every live walk, one
neighbour uniformly along the step's relation; a walk dies if it has no neighbour, revisits a node, or
passes through a hub (an intermediate node whose degree along the next step exceeds ``hub_cap``).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from kgsynth.graph.index import CSRIndex, Step
from kgsynth.graph.model import Graph

logger = logging.getLogger(__name__)


class RarityConfig(BaseModel):
    """How rare an entity is, as a score in [0, 1], and how strongly starts favour the rare.

    ``score = w_member * member + w_degree / log2(2 + degree) + w_annotations / (1 + annotations / 10)``
    (weights normalised to sum to 1), where ``member`` is 1 for rare-disease membership (an Orphanet or
    DECIPHER id, or the DO rare slim), ``degree`` the node's total degree and ``annotations`` its
    ``biolink:has_phenotype`` count. Starts are drawn with probability proportional to
    ``score ** alpha`` (``alpha = 0`` is uniform).
    """

    model_config = ConfigDict(extra="forbid")

    w_member: float = Field(default=0.5, ge=0)
    w_degree: float = Field(default=0.3, ge=0)
    w_annotations: float = Field(default=0.2, ge=0)
    alpha: float = Field(default=3.0, ge=0)


def rarity_scores(graph: Graph, index: CSRIndex, config: RarityConfig | None = None) -> np.ndarray:
    """The rarity score of every node (float64, in [0, 1]).

    >>> from kgsynth.graph.model import GraphBuilder, SourceInfo
    >>> b = GraphBuilder(); b.register_source(SourceInfo(name="s", title="s", licence="CC0"))
    >>> b.add_node("ORPHA:1", "biolink:Disease", "rare one", source="s", rare=True)
    >>> b.add_node("DOID:1", "biolink:Disease", "common one", source="s")
    >>> g = b.build(); s = rarity_scores(g, CSRIndex(g))
    >>> bool(s[g.index["ORPHA:1"]] > s[g.index["DOID:1"]])
    True
    """
    c = config or RarityConfig()
    total = c.w_member + c.w_degree + c.w_annotations or 1.0
    degree = np.bincount(graph.src, minlength=graph.num_nodes) + np.bincount(graph.dst, minlength=graph.num_nodes)
    annotations = index.degree(Step("biolink:has_phenotype"))
    score = (
        c.w_member * graph.rare.astype(np.float64)
        + c.w_degree / np.log2(2.0 + degree)
        + c.w_annotations / (1.0 + annotations / 10.0)
    )
    return np.asarray(score / total, dtype=np.float64)


def start_weights(scores: np.ndarray, candidates: np.ndarray, alpha: float) -> np.ndarray:
    """Sampling probabilities over ``candidates`` (node ids) from their rarity scores."""
    w = np.power(scores[candidates], alpha) if alpha > 0 else np.ones(len(candidates))
    s = w.sum()
    return w / s if s > 0 else np.full(len(candidates), 1.0 / max(len(candidates), 1))


@dataclass
class WalkBatch:
    """Walks of one metapath: ``nodes[i, j]`` is the j-th node of walk i, ``edges[i, j]`` its j-th edge."""

    nodes: np.ndarray  # (n, hops + 1) int32
    edges: np.ndarray  # (n, hops) int32


def sample_walks(
    index: CSRIndex,
    steps: list[Step],
    starts: np.ndarray,
    *,
    seed: int | np.random.Generator | None = None,
    hub_cap: int | None = 200,
    avoid: list[np.ndarray | None] | None = None,
    tries: int = 4,
) -> WalkBatch:
    """Walk ``steps`` from each of ``starts``; return only the walks that completed.

    ``avoid[j]`` (a mask over nodes, or None) marks nodes the walk should not step on as its node ``j + 1``: up to
    ``tries`` neighbours are drawn there and the first not avoided is taken (the first drawn when all are), so
    that a walk routes around what would reject it rather than being rejected after it is walked.

    >>> from kgsynth.graph.model import GraphBuilder, SourceInfo
    >>> b = GraphBuilder(); b.register_source(SourceInfo(name="s", title="s", licence="CC0"))
    >>> for c, cat in [("R:1", "biolink:Drug"), ("D:1", "biolink:Disease"), ("G:1", "biolink:Gene")]:
    ...     b.add_node(c, cat, c, source="s")
    >>> _ = b.stream("x", "s")
    >>> b.add_edge("R:1", "biolink:treats", "D:1", source="s", stream="x")
    >>> b.add_edge("G:1", "biolink:gene_associated_with_condition", "D:1", source="s", stream="x")
    >>> g = b.build(); idx = CSRIndex(g)
    >>> steps = [Step("biolink:treats"), Step("biolink:gene_associated_with_condition", inverse=True)]
    >>> w = sample_walks(idx, steps, np.array([g.index["R:1"]]), seed=0)
    >>> [g.ids[i] for i in w.nodes[0]]
    ['R:1', 'D:1', 'G:1']
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n = len(starts)
    nodes = np.empty((n, len(steps) + 1), dtype=np.int32)
    edges = np.empty((n, len(steps)), dtype=np.int32)
    nodes[:, 0] = starts
    alive = np.ones(n, dtype=bool)
    for j, step in enumerate(steps):
        adj = index.adjacency(step)
        if adj is None:
            alive[:] = False
            break
        k = nodes[:, j].astype(np.int64) - adj.lo
        inside = (k >= 0) & (k < len(adj.indptr) - 1)
        kk = np.where(inside, k, 0)
        lo = adj.indptr[kk].astype(np.int64)
        length = adj.indptr[kk + 1].astype(np.int64) - lo
        ok = alive & inside & (length > 0)
        if hub_cap is not None and j > 0:
            ok &= length <= hub_cap  # the node we stand on is an intermediate: not a hub
        mask = avoid[j] if avoid is not None else None
        if mask is None:
            pick = lo + np.floor(rng.random(n) * np.maximum(length, 1)).astype(np.int64)
        else:
            picks = lo[:, None] + np.floor(rng.random((n, tries)) * np.maximum(length, 1)[:, None]).astype(np.int64)
            good = ~mask[adj.cols[np.where(ok[:, None], picks, 0)]]
            pick = picks[np.arange(n), np.argmax(good, axis=1)]
        pick = np.where(ok, pick, 0)
        nxt = adj.cols[pick]
        eid = adj.eids[pick] if adj.eids is not None else (adj.first_edge + pick).astype(np.int32)
        ok &= ~np.any(nodes[:, : j + 1] == nxt[:, None], axis=1)  # no repeated nodes
        nodes[:, j + 1] = np.where(ok, nxt, -1)
        edges[:, j] = np.where(ok, eid, -1)
        alive = ok
    return WalkBatch(nodes[alive], edges[alive])


RARITY_BINS = (0.0, 0.25, 0.5, 0.75, 1.0)  # the edges of the rarity bins results and focus files group items by


def rarity_bin(rarity: float) -> str:
    """The bin label of a rarity in [0, 1] (the last bin is closed).

    >>> rarity_bin(0.1), rarity_bin(0.5), rarity_bin(0.99), rarity_bin(1.0)
    ('0.00-0.25', '0.50-0.75', '0.75-1.00', '0.75-1.00')
    """
    for low, high in itertools.pairwise(RARITY_BINS):
        if rarity < high or high == RARITY_BINS[-1]:
            return f"{low:.2f}-{high:.2f}"
    raise AssertionError("unreachable")
