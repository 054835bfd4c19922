"""Benchmark sampling and generation, against a networkx baseline, on a 10% subgraph and the full KG.

    python bench/bench_generate.py [--walks 20000] [--items 2000]

1. Walks per second of the CSR sampler (kgsynth.questions.sample.sample_walks) against a networkx MultiDiGraph
   implementation of the same metapath walks (same starts, uniform neighbour choice, no repeated nodes,
   same hub guard), measured in this run; target ratio >= 50x.
2. Verified items per second end to end without a teacher at --hops 3 (sampling, proofs, distractors,
   wording, JSONL, HF dataset); target >= 1,000/s on 2 cores.
3. Both on a 10% subgraph (every hierarchy edge kept, 10% of the other edges drawn at random) and on the
   full default KG, to show how they grow.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import networkx as nx
import numpy as np

from kgsynth.graph.assemble import load_graph
from kgsynth.graph.index import CSRIndex, Step
from kgsynth.graph.model import Graph, graph_fields
from kgsynth.questions.question import GenerateConfig
from kgsynth.questions.sample import sample_walks
from kgsynth.run.generate import Generator, generate

METAPATH = [
    Step("biolink:treats"),
    Step("biolink:gene_associated_with_condition", True),
    Step("biolink:interacts_with", True),
]
METAPATH_START = "biolink:Drug"
HUB_CAP = 200


def subgraph(graph: Graph, share: float, seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    hierarchy = np.array([r == "biolink:subclass_of" for r in graph.relations])[graph.rel]
    keep = hierarchy | (rng.random(graph.num_edges) < share)
    edges = {name: getattr(graph, name)[keep] for name in graph_fields("edge_array")}
    return replace(graph, name=f"{graph.name}-{share:.0%}", version=f"{graph.version}-sub{share}", **edges)


def to_networkx(graph: Graph) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    g.add_nodes_from(range(graph.num_nodes))
    rels = graph.relations
    g.add_edges_from(
        (int(s), int(d), {"predicate": rels[int(r)]}) for s, d, r in zip(graph.src, graph.dst, graph.rel, strict=True)
    )
    return g


def nx_walks(g: nx.MultiDiGraph, steps: list[Step], starts: np.ndarray, seed: int) -> int:
    """The same walks on networkx: uniform neighbour per step, no repeats, the same hub guard."""
    rnd = random.Random(seed)
    done = 0
    for s in starts.tolist():
        path = [s]
        for j, step in enumerate(steps):
            here = path[-1]
            if step.inverse:
                nbrs = [u for u, _, p in g.in_edges(here, data="predicate") if p == step.relation]
            else:
                nbrs = [v for _, v, p in g.out_edges(here, data="predicate") if p == step.relation]
            if not nbrs or (j > 0 and len(nbrs) > HUB_CAP):
                break
            nxt = rnd.choice(nbrs)
            if nxt in path:
                break
            path.append(nxt)
        else:
            done += 1
    return done


def bench_walks(graph: Graph, n: int) -> tuple[float, float]:
    index = CSRIndex(graph)
    lo, hi = graph.category_range(METAPATH_START)
    starts = np.random.default_rng(1).integers(lo, hi, size=n).astype(np.int32)
    t0 = time.perf_counter()
    for chunk in np.array_split(starts, max(1, n // 4096)):
        sample_walks(index, METAPATH, chunk, seed=2, hub_cap=HUB_CAP)
    csr = n / (time.perf_counter() - t0)
    g = to_networkx(graph)
    few = starts[: max(1, n // 10)]
    t0 = time.perf_counter()
    nx_walks(g, METAPATH, few, seed=2)
    base = len(few) / (time.perf_counter() - t0)
    return csr, base


def bench_config(n: int, *, small: bool) -> GenerateConfig:
    """The --hops 3 configuration; a small subgraph holds too few diagnoses and keys for the spread caps."""
    caps = {"max_diagnosis_share": 1.0, "max_key_share": 1.0, "max_hidden_share": 1.0} if small else {}
    return GenerateConfig(n=n, hops=3, seed=0, **caps)


def bench_loop(graph: Graph, n: int, *, small: bool = False) -> float:
    """Items per second of the sampling-proving loop alone (no writing, no dataset export)."""
    gen = Generator(graph, bench_config(n, small=small))
    t0 = time.perf_counter()
    while gen.accepted < n and gen.attempt < 200 * n:
        gen.next_item()
    return gen.accepted / (time.perf_counter() - t0)


def bench_items(graph: Graph, n: int, *, small: bool = False) -> tuple[float, float]:
    index = CSRIndex(graph)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = generate(graph, bench_config(n, small=small), Path(tmp) / "out", index=index,
                           compare_uniform=False)  # fmt: skip
        dt = time.perf_counter() - t0
    return summary["items"] / dt, summary["attempts"] / dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--walks", type=int, default=20000)
    ap.add_argument("--items", type=int, default=2000)
    args = ap.parse_args()
    full = load_graph()
    rows = []
    for name, graph in (("10% subgraph", subgraph(full, 0.10)), ("full KG", full)):
        csr, base = bench_walks(graph, args.walks)
        if graph is full:
            items, attempts = bench_items(graph, args.items)
            loop = bench_loop(graph, args.items)
        else:
            # a 10% subgraph holds too few near, safe distractors for an item (docs/generate.md): walks only
            items = attempts = loop = float("nan")
        rows.append((name, graph.num_edges, csr, base, items, attempts, loop))
    print(f"metapath walked: {' -> '.join(map(str, METAPATH))} from {METAPATH_START}")
    print(f"{'graph':>14} {'edges':>9} {'CSR walks/s':>12} {'networkx walks/s':>17} {'ratio':>7} "
          f"{'items/s':>8} {'attempts/s':>11} {'loop items/s':>13}")  # fmt: skip
    for name, edges, csr, base, items, attempts, loop in rows:
        print(f"{name:>14} {edges:>9,} {csr:>12,.0f} {base:>17,.0f} {csr / base:>6.0f}x {items:>8,.0f} "
              f"{attempts:>11,.0f} {loop:>13,.0f}")  # fmt: skip
    (_, e0, c0, b0, _, _, _), (_, e1, c1, b1, i1, a1, _) = rows
    print(f"growth 10% -> full: edges x{e1 / e0:.1f}, CSR walks/s x{c1 / c0:.2f}, networkx walks/s x{b1 / b0:.2f}")
    print(f"yield on the full KG: {i1 / a1:.3f} items per attempt")
    print("items/s: end to end (JSONL with fsync, summary, HF export); loop: sampling, proofs, distractors, wording")
    print("targets: CSR/networkx >= 50x; items/s >= 1,000 at --hops 3")


if __name__ == "__main__":
    main()
