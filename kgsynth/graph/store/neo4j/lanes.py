"""Write lanes: a load split into contiguous ranges of node (or edge) indices, written in parallel in guarded
batches, each lane's progress counted in the database (see :data:`~kgsynth.graph.store.neo4j.cypher.NODE_BATCH`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from kgsynth.graph.model import Graph
from kgsynth.graph.store.neo4j.cypher import EDGE_BATCH, NODE_BATCH, node_label, qualifier_json, relationship_types

if TYPE_CHECKING:
    import neo4j

    from kgsynth.graph.store.neo4j.connection import Neo4jConnection

logger = logging.getLogger(__name__)

BatchFn = Callable[[int, int], tuple[str, dict[str, Any]]]
"""``batch(lo, hi) -> (query, params)``: the guarded write of rows ``[lo, hi)`` of one stage."""

ProgressCallback = Callable[[str, int, int], None]
"""``on_progress(stage, done, total)``, called after every committed batch (stage: "nodes" or "edges")."""


@dataclass(order=True)
class Lane:
    """One lane's progress node: rows ``[lo, hi)`` of ``stage``, of which ``[lo, written)`` are written."""

    stage: str
    lane: int
    lo: int
    hi: int
    written: int


def segments(codes: np.ndarray, lo: int, hi: int, batch_size: int) -> Iterator[tuple[int, int]]:
    """Ranges covering ``[lo, hi)``, each within one run of equal ``codes``, batch_size at most."""
    while lo < hi:
        run_end = int(np.searchsorted(codes, codes[lo], side="right"))
        end = min(run_end, lo + batch_size, hi)
        yield lo, end
        lo = end


def plan_lanes(n: int, workers: int, batch_size: int) -> list[tuple[int, int]]:
    """Split ``[0, n)`` into at most ``workers`` contiguous ranges of whole batches."""
    count = max(1, min(workers, -(-n // batch_size)))
    bounds = [round(n * k / count) for k in range(count + 1)]
    return [(bounds[k], bounds[k + 1]) for k in range(count) if bounds[k] < bounds[k + 1]]


def new_lanes(graph: Graph, *, workers: int, batch_size: int) -> list[dict[str, Any]]:
    """The progress nodes of a fresh load of ``graph``, nothing written yet."""
    return [
        {"graph": graph.name, "stage": stage, "lane": k, "lo": lo, "hi": hi, "written": lo}
        for stage, n in (("nodes", graph.num_nodes), ("edges", graph.num_edges))
        for k, (lo, hi) in enumerate(plan_lanes(n, workers, batch_size))
    ]


def node_batches(graph: Graph) -> BatchFn:
    """The guarded node writes of ``graph`` (each batch within one category, so one label)."""
    sources = [s.name for s in graph.sources]
    licences = [s.licence for s in graph.sources]

    def batch(lo: int, hi: int) -> tuple[str, dict[str, Any]]:
        category = graph.categories[int(graph.category[lo])]
        rows = [
            [
                graph.ids[i],
                i,
                graph.names[i],
                graph.synonyms[i],
                graph.layperson[i],
                graph.xrefs[i],
                sources[int(graph.node_source[i])],
                licences[int(graph.node_source[i])],
                bool(graph.rare[i]),
            ]
            for i in range(lo, hi)
        ]
        return NODE_BATCH % node_label(category), {"rows": rows, "category": category}

    return batch


def edge_batches(graph: Graph, element_ids: list[str]) -> BatchFn:
    """The guarded edge writes of ``graph`` (each batch within one relation, so one type), endpoints by
    ``element_ids`` (every node's element id, by node index)."""
    sources = [s.name for s in graph.sources]
    licences = [s.licence for s in graph.sources]
    quals = [qualifier_json(q) for q in graph.qualifiers]
    src, dst, esrc, qual = (a.tolist() for a in (graph.src, graph.dst, graph.edge_source, graph.qual))
    types = relationship_types(graph.relations)

    def batch(lo: int, hi: int) -> tuple[str, dict[str, Any]]:
        relation = graph.relations[int(graph.rel[lo])]
        rows = [
            [
                element_ids[src[e]],
                element_ids[dst[e]],
                sources[esrc[e]],
                licences[esrc[e]],
                quals[qual[e]] if qual[e] >= 0 else None,
            ]
            for e in range(lo, hi)
        ]
        # negated: null (no property at all) on the edges that are not negated
        return EDGE_BATCH % types[relation], {"rows": rows, "negated": relation.startswith("NOT ") or None}

    return batch


@dataclass
class StageWrite:
    """What :func:`write_lanes` needs to write one stage of a graph."""

    graph: Graph
    stage: str  # "nodes" or "edges"
    batch: BatchFn
    batch_size: int
    on_progress: ProgressCallback | None = None
    replay: bool = False  # resend every batch from each lane's start (the guard makes them no-ops)


def write_lanes(conn: Neo4jConnection, lanes: list[Lane], job: StageWrite) -> int:
    """Write the unfinished ``lanes`` of one stage in parallel, one thread per lane; return the rows created.

    A failing lane stops the others after their current batch; what was committed stays committed and
    counted, so the same call later resumes.
    """
    graph, stage = job.graph, job.stage
    pending = [x for x in lanes if (x.lo if job.replay else x.written) < x.hi]
    if not pending:
        return 0
    total = graph.num_nodes if stage == "nodes" else graph.num_edges
    done = sum(x.written - x.lo for x in lanes)
    codes = graph.category if stage == "nodes" else graph.rel
    lock = threading.Lock()
    stop = threading.Event()
    created = 0

    def run_lane(lane: Lane) -> None:
        nonlocal done, created
        start = lane.lo if job.replay else lane.written
        for lo, hi in segments(codes, start, lane.hi, job.batch_size):
            if stop.is_set():
                return
            query, params = job.batch(lo, hi)
            n = conn.transact(run_batch, query, what=f"lane {lane.lane} rows {lo}-{hi}", graph=graph.name,
                              stage=stage, lane=lane.lane, start=lo, end=hi, **params)  # fmt: skip
            with lock:
                created += n
                done += n
                logger.debug("%s: %d/%d", stage, done, total)
                if job.on_progress is not None:
                    job.on_progress(stage, done, total)

    with conn.errors(f"loading the {stage} of {graph.name!r}"):
        if len(pending) == 1:
            run_lane(pending[0])
        else:
            with ThreadPoolExecutor(max_workers=len(pending), thread_name_prefix="kgsynth-neo4j") as pool:
                futures = [pool.submit(run_lane, lane) for lane in pending]
                try:
                    for future in as_completed(futures):
                        future.result()
                except BaseException:
                    stop.set()  # the other lanes finish their current batch, then stop
                    raise
    return created


def run_batch(tx: neo4j.ManagedTransaction, query: str, **params: Any) -> int:
    """Run one guarded batch; return the rows it created (0 when the guard found it already written)."""
    record = tx.run(query, **params).single()
    return int(record["written"]) if record is not None else 0
