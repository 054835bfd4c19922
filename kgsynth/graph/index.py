"""The per-predicate CSR index that sampling and proving run on.

Edges of a :class:`~kgsynth.graph.model.Graph` are sorted by (relation, subject, object), so the forward
index of a relation is its edge slice plus an offset array over the subjects' id range (the object
column *is* the column array). The inverse index adds, per relation, the edge ids sorted by object and
an offset array over the objects' id range. Node ids of one category are contiguous, so each offset
array spans one category, not the whole graph.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from kgsynth.graph.model import Graph

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    """One hop of a metapath: a relation, walked forward (subject -> object) or inverse."""

    relation: str
    inverse: bool = False

    @classmethod
    def parse(cls, text: str) -> Step:
        """``"biolink:treats"`` is forward, ``"^biolink:treats"`` inverse."""
        return cls(text[1:], True) if text.startswith("^") else cls(text, False)

    def __str__(self) -> str:
        return ("^" if self.inverse else "") + self.relation


def _dedupe_sorted(x: np.ndarray) -> np.ndarray:
    """Drop repeats from a sorted array (cheaper than ``np.unique`` on the short rows walks meet)."""
    if len(x) < 2:
        return x.copy()
    keep = np.empty(len(x), dtype=bool)
    keep[0] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    return x[keep]


def gather_ranges(indptr: np.ndarray, keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values[indptr[k]:indptr[k + 1]]`` for every ``k`` in ``keys``, concatenated (CSR rows, vectorised).

    >>> gather_ranges(np.array([0, 2, 2, 5]), np.array([2, 0]), np.arange(5)).tolist()
    [2, 3, 4, 0, 1]
    """
    starts, stops = indptr[keys], indptr[keys + 1]
    lengths = stops - starts
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=values.dtype)
    idx = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
    return values[idx]


def sorted_unique(x: np.ndarray) -> np.ndarray:
    """``np.unique`` for the short arrays met per item (a sort and a neighbour compare, no hashing)."""
    return _dedupe_sorted(np.sort(x))


@dataclass
class _Adjacency:
    lo: int  # first node id covered by indptr
    indptr: np.ndarray  # int32 offsets into cols/eids
    cols: np.ndarray  # int32 neighbour node ids
    eids: np.ndarray | None  # int32 edge ids (None for the forward direction: implicit)
    first_edge: int  # for the forward direction: edge id of cols[0]

    def span(self, node: int) -> tuple[int, int]:
        k = node - self.lo
        if k < 0 or k >= len(self.indptr) - 1:
            return (0, 0)
        return int(self.indptr[k]), int(self.indptr[k + 1])


class CSRIndex:
    """Neighbour look-ups and vectorised walks, per relation and direction.

    >>> from kgsynth.graph.model import GraphBuilder, SourceInfo
    >>> b = GraphBuilder(); b.register_source(SourceInfo(name="s", title="s", licence="CC0"))
    >>> b.add_node("D:1", "biolink:Disease", "d", source="s")
    >>> b.add_node("P:1", "biolink:PhenotypicFeature", "p", source="s")
    >>> _ = b.stream("x", "s"); b.add_edge("D:1", "biolink:has_phenotype", "P:1", source="s", stream="x")
    >>> g = b.build(); idx = CSRIndex(g)
    >>> [g.ids[i] for i in idx.neighbors(g.index["D:1"], Step("biolink:has_phenotype"))]
    ['P:1']
    """

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._fwd: dict[str, _Adjacency] = {}
        self._inv: dict[str, _Adjacency] = {}
        for relation in graph.relations:
            sl = graph.relation_slice(relation)
            src = graph.src[sl]
            dst = graph.dst[sl]
            if len(src) == 0:
                continue
            self._fwd[relation] = self._build(src, dst, None, sl.start)
            order = np.argsort(dst, kind="stable")
            self._inv[relation] = self._build(dst[order], src[order], (order + sl.start).astype(np.int32), sl.start)

    @staticmethod
    def _build(keys: np.ndarray, cols: np.ndarray, eids: np.ndarray | None, first: int) -> _Adjacency:
        lo, hi = int(keys[0]), int(keys[-1])
        counts = np.bincount(keys - lo, minlength=hi - lo + 1)
        indptr = np.zeros(hi - lo + 2, dtype=np.int32)
        np.cumsum(counts, out=indptr[1:])
        return _Adjacency(lo, indptr, np.ascontiguousarray(cols, dtype=np.int32), eids, first)

    def adjacency(self, step: Step) -> _Adjacency | None:
        """The CSR arrays of one relation in one direction, or ``None`` if the graph has no such edge."""
        return (self._inv if step.inverse else self._fwd).get(step.relation)

    def neighbors(self, node: int, step: Step) -> np.ndarray:
        """Node ids reached from ``node`` by one ``step`` (sorted, possibly repeated across sources)."""
        adj = self.adjacency(step)
        if adj is None:
            return np.empty(0, dtype=np.int32)
        a, b = adj.span(node)
        return adj.cols[a:b]

    def edge_ids(self, node: int, step: Step) -> np.ndarray:
        """Edge ids of the edges ``step`` follows out of ``node`` (aligned with :meth:`neighbors`)."""
        adj = self.adjacency(step)
        if adj is None:
            return np.empty(0, dtype=np.int32)
        a, b = adj.span(node)
        if adj.eids is None:
            return np.arange(adj.first_edge + a, adj.first_edge + b, dtype=np.int32)
        return adj.eids[a:b]

    def degree(self, step: Step) -> np.ndarray:
        """Out-degree along ``step`` of every node (length ``num_nodes``)."""
        out = np.zeros(self.graph.num_nodes, dtype=np.int32)
        adj = self.adjacency(step)
        if adj is not None:
            out[adj.lo : adj.lo + len(adj.indptr) - 1] = np.diff(adj.indptr)
        return out

    def reach(self, nodes: np.ndarray, step: Step) -> np.ndarray:
        """The set of nodes reached from any of ``nodes`` by ``step`` (sorted unique)."""
        adj = self.adjacency(step)
        if adj is None or len(nodes) == 0:
            return np.empty(0, dtype=np.int32)
        if len(nodes) == 1:
            # one row: already sorted (edges are sorted by subject, then object); drop repeats only
            a, b = adj.span(int(nodes[0]))
            return _dedupe_sorted(adj.cols[a:b])
        k = np.asarray(nodes, dtype=np.int64) - adj.lo
        k = k[(k >= 0) & (k < len(adj.indptr) - 1)]
        return _dedupe_sorted(np.sort(gather_ranges(adj.indptr, k, adj.cols)))

    def propagate(self, weights: np.ndarray, step: Step) -> np.ndarray:
        """Walk counts after one ``step``: ``out[v] = sum of weights[u] over edges u -> v``."""
        out = np.zeros(self.graph.num_nodes, dtype=np.float64)
        adj = self.adjacency(step)
        if adj is None:
            return out
        n = len(adj.indptr) - 1
        w = weights[adj.lo : adj.lo + n]
        out += np.bincount(adj.cols, weights=np.repeat(w, np.diff(adj.indptr)), minlength=len(out))
        return out

    def count_walks(self, start: np.ndarray, steps: list[Step]) -> int:
        """How many walks follow ``steps`` from the ``start`` nodes (repeated nodes allowed)."""
        w = np.zeros(self.graph.num_nodes, dtype=np.float64)
        w[start] = 1.0
        for step in steps:
            w = self.propagate(w, step)
        return round(float(w.sum()))

    @property
    def nbytes(self) -> int:
        """Bytes held by the index itself (offsets, column arrays, inverse edge ids)."""
        total = 0
        for adj in (*self._fwd.values(), *self._inv.values()):
            total += adj.indptr.nbytes + adj.cols.nbytes + (adj.eids.nbytes if adj.eids is not None else 0)
        return total
