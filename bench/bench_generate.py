"""Benchmark sampling and generation, against a networkx baseline, on a 10% subgraph and the full KG.

    python bench/bench_generate.py [--walks 20000] [--items 2000] [--baseline REF --baseline-items 150]

1. Walks per second of the CSR sampler (kgsynth.questions.sample.sample_walks) against a networkx MultiDiGraph
   implementation of the same metapath walks (same starts, uniform neighbour choice, no repeated nodes,
   same hub guard), measured in this run; target ratio >= 50x.
2. Verified items per second end to end without a teacher at --hops 3 (sampling, proofs, distractors,
   wording, JSONL, summary, card); target >= 1,000/s on 2 cores.
3. Both on a 10% subgraph (every hierarchy edge kept, 10% of the other edges drawn at random) and on the
   full default KG, to show how they grow.
4. ``--baseline REF``: the sampling-proving loop of the code at git ``REF`` (exported to a temporary folder, run in
   a subprocess) against this checkout's, the same items, seed and KG, measured one after the other in this run:
   items/s, attempts per item and the ratio.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import networkx as nx
import numpy as np

from kgsynth.graph.assemble import load_graph
from kgsynth.graph.index import CSRIndex, Step
from kgsynth.graph.model import Graph, graph_fields
from kgsynth.loaders.base import DATA_ENV, data_root
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


LOOP = """
import sys, time
from kgsynth.graph.assemble import load_graph
from kgsynth.questions.question import GenerateConfig
from kgsynth.run.generate import Generator
n = int(sys.argv[1])
gen = Generator(load_graph(), GenerateConfig(n=n, hops=3, seed=0))
t0 = time.perf_counter()
while gen.accepted < n and gen.attempt < 200 * n:
    gen.next_item()
print(gen.accepted, gen.attempt, time.perf_counter() - t0)
"""


def loop_at(tree: Path | None, n: int) -> tuple[int, int, float]:
    """Items, attempts and seconds of the --hops 3 loop (seed 0) of the code in ``tree`` (this checkout: None)."""
    env = {**os.environ, DATA_ENV: str(data_root() or "")}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    out = subprocess.run([sys.executable, "-c", LOOP, str(n)], env=env, cwd=tree or Path.cwd(), check=True,
                         capture_output=True, text=True).stdout.split()  # fmt: skip
    return int(out[0]), int(out[1]), float(out[2])


def compare_baseline(ref: str, n: int) -> None:
    """This checkout's loop against the code at ``ref``, the same n, seed and KG."""
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(root), "archive", ref], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        base = loop_at(Path(tmp), n)
    now = loop_at(None, n)
    print(f"--hops 3 loop, {n} items, seed 0, full KG:")
    for name, (items, attempts, secs) in ((f"baseline {ref}", base), ("this checkout", now)):
        print(f"{name:>24}: {items} items, {attempts / max(items, 1):.1f} attempts/item, {secs:.1f} s, "
              f"{items / secs:.2f} items/s")  # fmt: skip
    print(f"ratio (this checkout / baseline items/s): {(now[0] / now[2]) / (base[0] / base[2]):.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--walks", type=int, default=20000)
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--baseline", help="a git ref whose --hops 3 loop to compare with this checkout's")
    ap.add_argument("--baseline-items", type=int, default=150)
    ap.add_argument("--baseline-only", action="store_true", help="only the comparison with --baseline")
    args = ap.parse_args()
    if args.baseline:
        compare_baseline(args.baseline, args.baseline_items)
        if args.baseline_only:
            return
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
    print("items/s: end to end (JSONL with fsync, summary, card); loop: sampling, proofs, distractors, wording")
    print("targets: CSR/networkx >= 50x; items/s >= 1,000 at --hops 3")


if __name__ == "__main__":
    main()
