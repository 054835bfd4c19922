from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from kgsynth.graph.index import CSRIndex, Step
from kgsynth.graph.model import Graph


def _nx(graph: Graph) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    g.add_nodes_from(range(graph.num_nodes))
    for e in range(graph.num_edges):
        g.add_edge(int(graph.src[e]), int(graph.dst[e]), key=e, rel=graph.relations[int(graph.rel[e])])
    return g


@pytest.mark.slow
def test_neighbours_match_networkx_on_the_real_graph(real_graph: Graph) -> None:
    idx = CSRIndex(real_graph)
    g = _nx(real_graph)
    rng = np.random.default_rng(0)
    for node in rng.choice(real_graph.num_nodes, 400, replace=False):
        node = int(node)
        for rel in real_graph.relations:
            fwd = sorted(v for _, v, r in g.out_edges(node, data="rel") if r == rel)
            inv = sorted(u for u, _, r in g.in_edges(node, data="rel") if r == rel)
            assert list(idx.neighbors(node, Step(rel))) == fwd
            assert sorted(idx.neighbors(node, Step(rel, inverse=True))) == inv
            for e, v in zip(
                idx.edge_ids(node, Step(rel, inverse=True)), idx.neighbors(node, Step(rel, inverse=True)), strict=True
            ):
                assert real_graph.src[e] == v and real_graph.dst[e] == node


def test_walk_counts_match_brute_force(mini_graph: Graph) -> None:
    idx = CSRIndex(mini_graph)
    steps = [Step("biolink:treats"), Step("biolink:has_phenotype"), Step("biolink:subclass_of")]
    lo, hi = mini_graph.category_range("biolink:Drug")
    brute = 0
    for d in range(lo, hi):
        for a in idx.neighbors(d, steps[0]):
            for b in idx.neighbors(int(a), steps[1]):
                brute += len(idx.neighbors(int(b), steps[2]))
    assert brute > 0
    assert idx.count_walks(np.arange(lo, hi), steps) == brute
    reach = idx.reach(np.arange(lo, hi), steps[0])
    assert list(reach) == sorted({int(x) for d in range(lo, hi) for x in idx.neighbors(d, steps[0])})


def test_step_parse() -> None:
    assert Step.parse("^biolink:treats") == Step("biolink:treats", True)
    assert str(Step("biolink:treats", True)) == "^biolink:treats"
