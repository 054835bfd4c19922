"""Rank every disease against a set of stated findings: the information-content weighted best match of
Phenomizer (Köhler et al. 2009) and the idea behind LIRICAL, over the HPO hierarchy of the graph.

A finding ``q`` matches a disease ``D`` by the information content of the most informative phenotype that
``q`` and one of ``D``'s annotations share as an ancestor (``q`` itself when ``D`` is annotated with ``q`` or a
more specific term). Information content is ``-ln`` of the share of annotated diseases that have a phenotype
(or a more specific one). A disease's score is the sum over the findings; a vignette is kept only if its
diagnosis ranks first (:mod:`kgsynth.questions.vignette`), and ``kgsynth audit`` counts how many do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from kgsynth.graph.index import CSRIndex
from kgsynth.graph.model import Graph
from kgsynth.questions.verify import HAS_PHENOTYPE, Prover

logger = logging.getLogger(__name__)

# Ancestors held by more than ~60% of annotated diseases ("Phenotypic abnormality", organ-system roots) add at
# most 0.5 to a disease that matches nothing better: skipped, they cannot change who ranks first.
MIN_IC = 0.5


@dataclass
class PhenotypeMatcher:
    """Information content of phenotypes and best-match scores of diseases, cached per term for a run."""

    graph: Graph
    index: CSRIndex
    prover: Prover
    _ic: dict[int, float] = field(default_factory=dict)
    _ladder: dict[int, list[tuple[float, np.ndarray]]] = field(default_factory=dict)
    # the last findings scored and their scores (a vignette ranks its findings, then asks their runners-up)
    _last: tuple[tuple[int, ...], np.ndarray] | None = None

    def __post_init__(self) -> None:
        self.lo, self.hi = self.graph.category_range("biolink:Disease")
        self.annotated = int(np.count_nonzero(self.index.degree(HAS_PHENOTYPE)[self.lo : self.hi]))

    def ic(self, term: int) -> float:
        """``-ln`` of the share of annotated diseases with ``term`` or a more specific phenotype."""
        got = self._ic.get(term)
        if got is None:
            n = len(self.prover.diseases_with(term))
            got = self._ic[term] = float(-np.log(max(n, 1) / max(self.annotated, 1)))
        return got

    def _ladder_of(self, term: int) -> list[tuple[float, np.ndarray]]:
        """``term``'s informative ancestors (itself included) as (IC, disease offsets), least informative first."""
        got = self._ladder.get(term)
        if got is None:
            steps = [(self.ic(int(a)), int(a)) for a in self.prover.ancestors(term)]
            got = [(ic, self.prover.diseases_with(a) - self.lo) for ic, a in sorted(steps) if ic >= MIN_IC]
            self._ladder[term] = got
        return got

    def scores(self, findings: list[int]) -> np.ndarray:
        """Per disease (offset from the first disease), the summed best-match IC of ``findings`` (a fresh array the
        caller may change)."""
        key = tuple(findings)
        if self._last is not None and self._last[0] == key:
            return self._last[1].copy()
        total = self._scores(findings)
        self._last = (key, total.copy())
        return total

    def _scores(self, findings: list[int]) -> np.ndarray:
        total = np.zeros(self.hi - self.lo, dtype=np.float64)
        best = np.empty(self.hi - self.lo, dtype=np.float64)
        for q in findings:
            best.fill(0.0)
            for ic, diseases in self._ladder_of(q):  # ascending IC: a more informative match overwrites
                best[diseases] = ic
            total += best
        return total

    def rank(self, findings: list[int], diagnosis: int) -> tuple[int, float, float]:
        """The diagnosis's rank (1 + diseases scoring strictly higher), its score and the best other score.

        >>> from kgsynth.graph.model import GraphBuilder, SourceInfo
        >>> b = GraphBuilder(); b.register_source(SourceInfo(name="s", title="s", licence="CC0"))
        >>> _ = b.stream("x", "s")
        >>> for c in ["D:1", "D:2"]: b.add_node(c, "biolink:Disease", c, source="s")
        >>> for c in ["HP:1", "HP:2", "HP:3"]: b.add_node(c, "biolink:PhenotypicFeature", c, source="s")
        >>> for d, p in [("D:1", "HP:2"), ("D:1", "HP:3"), ("D:2", "HP:3")]:
        ...     b.add_edge(d, "biolink:has_phenotype", p, source="s", stream="x")
        >>> b.add_edge("HP:2", "biolink:subclass_of", "HP:1", source="s", stream="x")
        >>> g = b.build(); idx = CSRIndex(g); m = PhenotypeMatcher(g, idx, Prover(g, idx))
        >>> m.rank([g.index["HP:2"]], g.index["D:1"])[0]
        1
        """
        s = self.scores(findings)
        d = diagnosis - self.lo
        mine = float(s[d])
        s[d] = -1.0
        return 1 + int(np.count_nonzero(s > mine)), mine, float(s.max()) if len(s) else 0.0

    def separates(self, findings: list[int], diagnosis: int, group: np.ndarray, margin: float) -> bool:
        """The diagnosis ranks first (no disease scores higher) and every disease outside ``group`` (the
        diagnosis's relatives, which answer it at the parent level) scores below it by ``margin`` of its score."""
        s = self.scores(findings)
        d = diagnosis - self.lo
        mine = float(s[d])
        if mine <= 0 or bool((s > mine).any()):
            return False
        inside = group[(group >= self.lo) & (group < self.hi)] - self.lo
        s[inside] = 0.0
        s[d] = 0.0
        return float(s.max()) <= mine * (1.0 - margin)

    def runners_up(self, findings: list[int], exclude: np.ndarray, k: int) -> np.ndarray:
        """The ``k`` diseases (node ids) that ``findings`` score highest among those annotated with one of them (or
        a more specific term) and outside ``exclude`` (the diagnosis, its relatives and every disease the open world
        could make consistent): the near wrong diagnoses, best first, ties by node id."""
        s = self.scores(findings)
        shares = np.zeros(len(s), dtype=bool)
        for q in findings:
            shares[self.prover.diseases_with(q) - self.lo] = True
        s[~shares] = 0.0
        out = exclude[(exclude >= self.lo) & (exclude < self.hi)] - self.lo
        s[out] = 0.0
        top = np.flatnonzero(s > 0)
        return (top[np.lexsort((top, -s[top]))][:k] + self.lo).astype(np.int32)
