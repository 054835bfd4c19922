"""How strongly the graph associates an entity with what a question states: the generator's nearness score.

An option that the stem's entities reach through many short walks (any relation, either direction) is one a
reader picks by association alone. The score is a truncated random walk with restart from the stated
entities: ``sum over t = 1..steps of decay**t * P(walk of t steps ends at v)``, where each step moves to a
uniformly chosen neighbour. Only the ``keep`` most probable nodes walk on at each step, so a score costs a
few thousand neighbour look-ups, not a pass over the graph. (`kgsynth audit` measures the same idea with its
own, exact personalized PageRank; the two are computed apart on purpose.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from kgsynth.graph.model import Graph

logger = logging.getLogger(__name__)

DECAY = 0.85  # the walk continues with this probability at each step (restart otherwise)


@dataclass(frozen=True)
class Walks:
    """Every edge of the graph in both directions as one CSR adjacency (relation types ignored)."""

    indptr: np.ndarray
    cols: np.ndarray
    degree: np.ndarray

    @classmethod
    def of(cls, graph: Graph) -> Walks:
        n = graph.num_nodes
        src = np.concatenate([graph.src, graph.dst])
        dst = np.concatenate([graph.dst, graph.src])
        keep = src != dst
        src, dst = src[keep], dst[keep]
        order = np.argsort(src, kind="stable")
        degree = np.bincount(src, minlength=n).astype(np.int64)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(degree, out=indptr[1:])
        return cls(indptr=indptr, cols=np.ascontiguousarray(dst[order], dtype=np.int32), degree=degree)


def association_scores(walks: Walks, seeds: np.ndarray, *, steps: int, keep: int) -> np.ndarray:
    """The association of every node with ``seeds`` (dense, ``num_nodes`` long; 0 where no kept walk ends).

    >>> from kgsynth.graph.model import GraphBuilder, SourceInfo
    >>> b = GraphBuilder(); b.register_source(SourceInfo(name="s", title="s", licence="CC0"))
    >>> for i in range(5): b.add_node(f"D:{i}", "biolink:Disease", f"d{i}", source="s")
    >>> _ = b.stream("x", "s")
    >>> for s, o in (("D:0", "D:1"), ("D:1", "D:2"), ("D:2", "D:3"), ("D:0", "D:4"), ("D:4", "D:2")):
    ...     b.add_edge(s, "biolink:subclass_of", o, source="s", stream="x")
    >>> g = b.build(); x = association_scores(Walks.of(g), np.array([g.index["D:0"]]), steps=2, keep=10)
    >>> bool(x[g.index["D:2"]] > 0), float(x[g.index["D:3"]])  # two routes of 2 steps; 3 steps away
    (True, 0.0)
    """
    n = len(walks.degree)
    total = np.zeros(n, dtype=np.float64)
    frontier = np.unique(np.asarray(seeds, dtype=np.int64))
    if len(frontier) == 0:
        return total
    weight: np.ndarray = np.full(len(frontier), 1.0 / len(frontier))
    for t in range(1, steps + 1):
        deg = walks.degree[frontier]
        ok = deg > 0
        if not ok.all():
            frontier, weight, deg = frontier[ok], weight[ok], deg[ok]
        if len(frontier) == 0:
            break
        ends = np.cumsum(deg)
        idx = np.repeat(walks.indptr[frontier] - ends + deg, deg)
        idx += np.arange(int(ends[-1]))
        # np.add.at adds in the order of the edges, as np.bincount does (the same sums to the bit), in less time on
        # these scattered targets
        mass = np.zeros(n, dtype=np.float64)
        np.add.at(mass, walks.cols[idx], np.repeat(weight / deg, deg))
        # only the touched nodes are added to and walk on (a dense pass over every node per step cost more
        # than the walk; the sums are the same)
        frontier = np.flatnonzero(mass > 0)
        total[frontier] += DECAY**t * mass[frontier]
        if t == steps:
            break
        if len(frontier) > keep:
            frontier = frontier[np.argpartition(-mass[frontier], keep)[:keep]]
        weight = mass[frontier]
    return total


def ranks(scores: list[float]) -> list[int]:
    """1-based ranks, most associated first (equal scores share the better rank).

    >>> ranks([0.2, 0.5, 0.2, 0.1])
    [2, 1, 2, 4]
    """
    return [1 + sum(1 for o in scores if o > s) for s in scores]
