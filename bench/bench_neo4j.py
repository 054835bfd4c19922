"""Benchmark the Neo4j backend: load through the driver, load through neo4j-admin import, read back.

    eval "$(scripts/neo4j.sh env)"
    .venv/bin/python bench/bench_neo4j.py                 # the default KG, if it is assembled
    .venv/bin/python bench/bench_neo4j.py --synthetic 400000

Prints one JSON object. ``--admin-import`` also times ``neo4j-admin database import`` into a throwaway
server home started by scripts/neo4j.sh (the shared server is left alone).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kgsynth.graph.model import Graph, GraphBuilder, SourceInfo  # noqa: E402
from kgsynth.graph.store.neo4j import DEFAULT_WORKERS, Neo4jStore  # noqa: E402

PREDICATES = {
    ("biolink:Disease", "biolink:PhenotypicFeature"): "biolink:has_phenotype",
    ("biolink:Drug", "biolink:Disease"): "biolink:treats",
    ("biolink:Disease", "biolink:Gene"): "biolink:gene_associated_with_condition",
    ("biolink:Drug", "biolink:PhenotypicFeature"): "biolink:has_adverse_event",
    ("biolink:Disease", "biolink:Disease"): "biolink:subclass_of",
    ("biolink:PhenotypicFeature", "biolink:PhenotypicFeature"): "biolink:subclass_of",
}
PREFIX = {
    "biolink:Disease": "MONDO",
    "biolink:PhenotypicFeature": "HP",
    "biolink:Gene": "NCBIGene",
    "biolink:Drug": "DRUGBANK",
}


def synthetic_graph(num_edges: int, *, seed: int = 0) -> Graph:
    """A graph shaped like the default KG (a few relation types, hubs, qualifiers, negations)."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder()
    for name, licence in (("hpo", "HPO"), ("doid", "CC0"), ("sider", "CC-BY-NC-SA-4.0")):
        b.register_source(SourceInfo(name=name, title=name, licence=licence))
        b.stream(name, name)
    num_nodes = max(100, num_edges // 7)
    per_cat = {c: max(10, num_nodes // len(PREFIX)) for c in PREFIX}
    for cat, count in per_cat.items():
        for i in range(count):
            b.add_node(f"{PREFIX[cat]}:{i}", cat, f"{cat[8:]} {i}", source="hpo", synonyms=[f"syn {i}"])
    pairs = list(PREDICATES.items())
    for k in range(num_edges):
        (scat, ocat), pred = pairs[k % len(pairs)]
        s = int(rng.zipf(1.6)) % per_cat[scat]
        o = int(rng.integers(per_cat[ocat]))
        src = ("hpo", "doid", "sider")[k % 3]
        qual = {"frequency": f"HP:00402{k % 8}"} if pred == "biolink:has_phenotype" else None
        b.add_edge(
            f"{PREFIX[scat]}:{s}", pred, f"{PREFIX[ocat]}:{o}",
            source=src, stream=src, qualifiers=qual, negated=k % 50 == 0,
        )  # fmt: skip
    return b.build(name=f"synthetic-{num_edges}", version=f"synthetic-{num_edges}-{seed}")


def default_graph() -> Graph:
    """The default KG (``med``), from the content-keyed cache when it was built before."""
    from kgsynth.graph.assemble import load_graph

    return load_graph()


def bench_driver(store: Neo4jStore, graph: Graph) -> dict[str, Any]:
    store.delete(graph.name)
    t = time.perf_counter()
    result = store.write(graph)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    again = store.write(graph)
    t2 = time.perf_counter()
    back = store.read(graph.name)
    read_s = time.perf_counter() - t2
    assert back.num_edges == graph.num_edges and np.array_equal(back.src, graph.src)
    return {
        "driver_load_seconds": round(load_s, 2),
        "driver_relationships_per_second": round(graph.num_edges / load_s),
        "driver_nodes_written": result["nodes_written"],
        "driver_nodes_seconds": result["nodes_seconds"],
        "driver_edges_seconds": result["edges_seconds"],
        "driver_edge_stage_relationships_per_second": round(graph.num_edges / result["edges_seconds"]),
        "driver_edges_written": result["edges_written"],
        "second_load_seconds": round(t2 - t, 2),
        "second_load_wrote": again["nodes_written"] + again["edges_written"],
        "read_seconds": round(read_s, 2),
        "read_edges_per_second": round(graph.num_edges / read_s),
    }


def bench_generate(graph: Graph, store: Neo4jStore, n: int) -> dict[str, Any]:
    """``generate`` on the embedded store and on Neo4j: the same generator, after a different read."""
    from kgsynth.graph.assemble import load_graph
    from kgsynth.questions.question import GenerateConfig
    from kgsynth.run.generate import generate

    config = GenerateConfig(n=n, hops=3, seed=0)
    out: dict[str, Any] = {"generate_items": n}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("embedded", "neo4j"):
            t = time.perf_counter()
            g = load_graph() if backend == "embedded" else store.read(graph.name)
            read_s = time.perf_counter() - t
            t = time.perf_counter()
            generate(g, config, Path(tmp) / backend, compare_uniform=False)
            gen_s = time.perf_counter() - t
            out[f"generate_{backend}_read_seconds"] = round(read_s, 2)
            out[f"generate_{backend}_generate_seconds"] = round(gen_s, 2)
            out[f"generate_{backend}_items_per_second"] = round(n / (read_s + gen_s), 1)
        same = [p.read_bytes() for p in sorted((Path(tmp) / "embedded" / "jsonl").iterdir())] == [
            p.read_bytes() for p in sorted((Path(tmp) / "neo4j" / "jsonl").iterdir())
        ]
        out["generate_items_identical"] = same
    return out


def bench_cypher_vs_csr(graph: Graph, store: Neo4jStore, starts: int) -> dict[str, Any]:
    """The proving primitive, both ways: everything a 3-hop metapath reaches from each start node.

    disease -has_phenotype-> phenotype <-has_phenotype- disease <-treats- drug, for ``starts`` diseases:
    one batched Cypher query (never one query per walk) against numpy walks on the CSR index.
    """
    from kgsynth.graph.index import CSRIndex, Step

    lo, hi = graph.category_range("biolink:Disease")
    rng = np.random.default_rng(0)
    nodes = rng.choice(np.arange(lo, hi), size=min(starts, hi - lo), replace=False)
    t = time.perf_counter()
    index = CSRIndex(graph)
    build_s = time.perf_counter() - t
    steps = [Step("biolink:has_phenotype"), Step("biolink:has_phenotype", True), Step("biolink:treats", True)]
    t = time.perf_counter()
    csr = []
    for node in nodes:
        reached = np.array([node], dtype=np.int32)
        for step in steps:
            reached = index.reach(reached, step)
        csr.append(len(reached))
    csr_s = time.perf_counter() - t
    ids = [graph.ids[int(i)] for i in nodes]
    t = time.perf_counter()
    with store.driver.session(database=store.database) as session:
        record = session.run(
            # DISTINCT after every hop, as reach() does; a single 3-hop pattern would also forbid
            # walking one relationship twice (back to the start disease), which the CSR walk allows.
            "UNWIND $ids AS s MATCH (a:KgNode {graph: $g, id: s}) "
            "CALL (a) { MATCH (a)-[:HAS_PHENOTYPE]->(p) WITH DISTINCT p MATCH (p)<-[:HAS_PHENOTYPE]-(d) "
            "WITH DISTINCT d MATCH (d)<-[:TREATS]-(x) RETURN count(DISTINCT x) AS n } "
            "RETURN collect([s, n]) AS rows",
            ids=ids,
            g=graph.name,
        ).single()
    cypher_s = time.perf_counter() - t
    assert record is not None
    by_id = dict((s, n) for s, n in record["rows"])
    return {
        "prove_starts": len(nodes),
        "prove_csr_index_build_seconds": round(build_s, 3),
        "prove_csr_seconds": round(csr_s, 3),
        "prove_cypher_seconds": round(cypher_s, 3),
        "prove_results_agree": [by_id[i] for i in ids] == csr,
    }


def bench_admin_import(graph: Graph) -> dict[str, Any]:
    """Export, then ``neo4j-admin database import`` into a throwaway server home (the shared server is
    left alone), start that server and read the graph back."""
    import socket

    from kgsynth.graph.store.neo4j_admin import export_neo4j_admin

    script = str(ROOT / "scripts" / "neo4j.sh")
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        env = {**os.environ, "KGSYNTH_NEO4J_DIR": f"{tmp}/neo4j", "KGSYNTH_NEO4J_PORT": str(port)}
        t = time.perf_counter()
        export = export_neo4j_admin(graph, Path(tmp) / "csv")
        export_s = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run([script, "admin", *export["command"][1:]], check=True, env=env, capture_output=True)
        import_s = time.perf_counter() - t
        subprocess.run([script, "start"], check=True, env=env, capture_output=True)
        try:
            password = Path(f"{tmp}/neo4j/password").read_text().strip()
            with Neo4jStore(f"bolt://127.0.0.1:{port}", "neo4j", password) as store:
                back = store.read(graph.name)
                assert back.num_edges == graph.num_edges and np.array_equal(back.dst, graph.dst)
        finally:
            subprocess.run([script, "stop"], check=True, env=env, capture_output=True)
    return {
        "admin_export_seconds": round(export_s, 2),
        "admin_import_seconds": round(import_s, 2),
        "admin_import_relationships_per_second": round(graph.num_edges / import_s),
        "admin_export_plus_import_relationships_per_second": round(graph.num_edges / (export_s + import_s)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synthetic", type=int, default=0, help="use a synthetic graph of this many edges")
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="parallel write transactions")
    parser.add_argument("--admin-import", action="store_true")
    parser.add_argument("--generate", type=int, default=200, help="items for the generate comparison (0: skip)")
    parser.add_argument("--prove-starts", type=int, default=1000, help="start nodes for Cypher vs CSR (0: skip)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    t = time.perf_counter()
    if args.synthetic:
        graph, kind = synthetic_graph(args.synthetic), "synthetic"
    else:
        graph, kind = default_graph(), "default KG"
    report: dict[str, Any] = {
        "graph": graph.name,
        "kind": kind,
        "nodes": graph.num_nodes,
        "edges": graph.num_edges,
        "build_seconds": round(time.perf_counter() - t, 2),
        "batch_size": args.batch_size,
        "workers": args.workers,
        "cores": os.cpu_count(),
    }
    with Neo4jStore.from_env(batch_size=args.batch_size, workers=args.workers) as store:
        report.update(bench_driver(store, graph))
        if args.generate and kind == "default KG":
            report.update(bench_generate(graph, store, args.generate))
        if args.prove_starts:
            report.update(bench_cypher_vs_csr(graph, store, args.prove_starts))
    if args.admin_import:
        report.update(bench_admin_import(graph))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
