"""Benchmark the graph engine on the default KG, against targets and a networkx baseline, in one run.

    python bench/bench_graph.py

Cold load (every source parsed, identities joined, cached), warm load (from the content-keyed cache),
each in a fresh process with its peak RSS; then the CSR index's bytes per edge beside a networkx
MultiDiGraph holding the same edges (measured with tracemalloc in this process).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import tracemalloc

TARGETS = {"cold_s": 60.0, "warm_s": 3.0, "peak_rss_mb": 1536.0, "bytes_per_edge": 16.0}

CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from kgsynth.graph.assemble import load_graph
from kgsynth.graph.index import CSRIndex
from pathlib import Path
g = load_graph(cache_dir=Path(sys.argv[1]), refresh=sys.argv[2] == "cold")
CSRIndex(g)
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "nodes": g.num_nodes, "edges": g.num_edges,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(mode: str, cache: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, cache, mode], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        cold = run("cold", cache)
        warm = min((run("warm", cache) for _ in range(3)), key=lambda r: r["seconds"])
    print(f"default KG: {cold['nodes']:,} nodes, {cold['edges']:,} edges")
    for label, r, target in (("cold", cold, TARGETS["cold_s"]), ("warm", warm, TARGETS["warm_s"])):
        print(
            f"{label} load : {r['seconds']:.2f} s (target <= {target:.0f} s), "
            f"peak RSS {r['peak_rss_mb']:.0f} MB (target <= {TARGETS['peak_rss_mb']:.0f} MB)"
        )
    print(f"cold/warm : {cold['seconds'] / warm['seconds']:.1f}x")

    import networkx as nx

    from kgsynth.graph.assemble import load_graph
    from kgsynth.graph.index import CSRIndex

    g = load_graph()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    idx = CSRIndex(g)
    csr_bytes = idx.nbytes
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    mg = nx.MultiDiGraph()
    mg.add_nodes_from(range(g.num_nodes))
    rel_names = g.relations
    mg.add_edges_from(
        (int(s), int(d), {"predicate": rel_names[int(r)]}) for s, d, r in zip(g.src, g.dst, g.rel, strict=True)
    )
    nx_bytes = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    e = g.num_edges
    print(
        f"index     : {csr_bytes / e:.2f} bytes/edge (target <= {TARGETS['bytes_per_edge']:.0f}), "
        f"{csr_bytes / 2**20:.1f} MB"
    )
    print(
        f"networkx  : {nx_bytes / e:.1f} bytes/edge, {nx_bytes / 2**20:.1f} MB "
        f"(built in {time.perf_counter() - t0:.1f} s)"
    )
    print(f"ratio     : networkx / CSR = {nx_bytes / csr_bytes:.1f}x")
    del mg


if __name__ == "__main__":
    main()
