"""Statistics of a graph: counts, degrees, rare diseases, identity joins, cross-source chains."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import numpy as np

from kgsynth.graph.index import CSRIndex, Step
from kgsynth.graph.model import Graph, curie_prefix
from kgsynth.graph.schema import GraphSchema

logger = logging.getLogger(__name__)


def disease_namespaces(graph: Graph) -> Counter[str]:
    """How many disease nodes carry an id (as their own id or an xref) in each namespace."""
    lo, hi = graph.category_range("biolink:Disease")
    counts: Counter[str] = Counter()
    for i in range(lo, hi):
        for prefix in {curie_prefix(graph.ids[i]), *(curie_prefix(x) for x in graph.xrefs[i])}:
            counts[prefix] += 1
    return counts


def chain_counts(graph: Graph, index: CSRIndex, schema: GraphSchema) -> list[dict[str, Any]]:
    """Walk counts of every metapath of the schema, and the sources their edges come from."""
    out = []
    for mp in schema.metapaths:
        lo, hi = graph.category_range(mp.start)
        steps = [Step.parse(s) for s in mp.steps]
        sources = set()
        for step in steps:
            sl = graph.relation_slice(step.relation)
            sources |= {graph.sources[int(s)].name for s in np.unique(graph.edge_source[sl])}
        walks = index.count_walks(np.arange(lo, hi), steps) if hi > lo else 0
        out.append(
            {
                "metapath": mp.name,
                "steps": mp.steps,
                "hops": len(steps),
                "walks": walks,
                "sources": sorted(sources),
                "cross_source": len(sources) > 1,
            }
        )
    return out


def graph_stats(graph: Graph, schema: GraphSchema | None = None, index: CSRIndex | None = None) -> dict[str, Any]:
    index = index or CSRIndex(graph)
    cats = Counter(graph.categories[int(c)] for c in graph.category)
    preds = Counter(graph.relations[int(r)] for r in graph.rel)
    by_source = Counter(graph.sources[int(s)].name for s in graph.edge_source)
    degree = np.bincount(graph.src, minlength=graph.num_nodes) + np.bincount(graph.dst, minlength=graph.num_nodes)
    hubs = np.argsort(-degree, kind="stable")[:5]
    lo, hi = graph.category_range("biolink:Disease")
    streams = {s["stream"]: s for s in graph.report.get("streams", [])}
    drug_lo, drug_hi = graph.category_range("biolink:Drug")
    drugs_with = {}
    for rel in ("biolink:treats", "biolink:interacts_with"):
        d = index.degree(Step(rel))[drug_lo:drug_hi]
        drugs_with[rel] = int(np.count_nonzero(d))
    drug_src: dict[str, int] = {}
    for name in ("pharmacotherapydb", "drugcentral", "sider"):
        ids = [i for i, s in enumerate(graph.sources) if s.name == name]
        if ids:
            mask = np.isin(graph.edge_source, ids)
            drug_src[name] = len(np.unique(graph.src[mask][(graph.src[mask] >= drug_lo) & (graph.src[mask] < drug_hi)]))
    stats: dict[str, Any] = {
        "name": graph.name,
        "version": graph.version,
        "nodes": graph.num_nodes,
        "edges": graph.num_edges,
        "nodes_by_category": dict(sorted(cats.items())),
        "edges_by_predicate": dict(sorted(preds.items())),
        "edges_by_source": {
            s.name: {
                "edges": by_source.get(s.name, 0),
                "licence": s.licence,
                "commercial_use": s.commercial_use,
            }
            for s in graph.sources
        },
        "degree": {
            "mean": round(float(degree.mean()), 2) if len(degree) else 0.0,
            "median": float(np.median(degree)) if len(degree) else 0.0,
            "p90": float(np.percentile(degree, 90)) if len(degree) else 0.0,
            "p99": float(np.percentile(degree, 99)) if len(degree) else 0.0,
            "max": int(degree.max()) if len(degree) else 0,
            "isolated": int(np.sum(degree == 0)),
            "hubs": [{"id": graph.ids[int(i)], "name": graph.names[int(i)], "degree": int(degree[i])} for i in hubs],
        },
        "diseases": {
            "total": hi - lo,
            "rare": int(np.count_nonzero(graph.rare[lo:hi])),
            "by_namespace": dict(sorted(disease_namespaces(graph).items())),
        },
        "drugs": {
            "total": drug_hi - drug_lo,
            "with_indication (treats)": drugs_with["biolink:treats"],
            "with_target_gene (interacts_with)": drugs_with["biolink:interacts_with"],
            "by_source": drug_src,
        },
        "identity_join": graph.report.get("identity_join", {}),
        "streams": list(streams.values()),
        "load_warnings": graph.report.get("warnings", []),
        "category_conflicts": graph.report.get("category_conflicts", []),
        "non_commercial_sources": graph.non_commercial_sources(),
        "index_bytes_per_edge": round(index.nbytes / max(graph.num_edges, 1), 2),
    }
    if schema is not None:
        chains = chain_counts(graph, index, schema)
        stats["metapaths"] = chains
        stats["cross_source_chains"] = {
            "3-hop": sum(c["walks"] for c in chains if c["cross_source"] and c["hops"] == 3),
            "2-hop": sum(c["walks"] for c in chains if c["cross_source"] and c["hops"] == 2),
        }
    return stats
