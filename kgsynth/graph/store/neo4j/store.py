"""The Neo4j store itself: a graph's metadata, its load in resumable lanes, and reading it back."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from kgsynth.graph.model import Graph, graph_arrays, graph_fields, graph_from_parts, graph_to_json
from kgsynth.graph.store.neo4j import cypher
from kgsynth.graph.store.neo4j.connection import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONNECTION_TIMEOUT,
    DEFAULT_MAX_RETRY_TIME,
    DEFAULT_URI,
    DEFAULT_WORKERS,
    GraphNotInNeo4jError,
    Neo4jConnection,
    Neo4jError,
    redact_uri,
)
from kgsynth.graph.store.neo4j.cypher import qualifier_json, relationship_types
from kgsynth.graph.store.neo4j.lanes import (
    Lane,
    ProgressCallback,
    StageWrite,
    edge_batches,
    new_lanes,
    node_batches,
    write_lanes,
)

if TYPE_CHECKING:
    import neo4j

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1

# The graph-level tables, stored as one JSON object on the graph's metadata node.
_TABLES = graph_fields("names", "table", "sources")
# The per-node text fields, in the order the fingerprint hashes them.
_NODE_TEXT = graph_fields("node_text", "node_lists")


def graph_fingerprint(graph: Graph) -> str:
    """A hash of everything :meth:`Neo4jStore.read` gives back: equal fingerprints, equal graphs."""
    h = hashlib.blake2b(digest_size=16)
    for arr in graph_arrays(graph).values():
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(json.dumps(_tables(graph), sort_keys=True, ensure_ascii=False).encode())
    h.update(json.dumps([getattr(graph, name) for name in _NODE_TEXT], ensure_ascii=False).encode())
    return h.hexdigest()


def _tables(graph: Graph) -> dict[str, Any]:
    values = graph_to_json(graph)
    return {name: values[name] for name in _TABLES}


@dataclass(frozen=True)
class _Meta:
    name: str
    version: str
    fingerprint: str
    format: int
    num_nodes: int
    num_edges: int
    nodes_written: int
    edges_written: int
    complete: bool
    tables: dict[str, Any]
    types: dict[str, str]

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> _Meta:
        return cls(
            name=props["name"],
            version=props.get("version", ""),
            fingerprint=props.get("fingerprint", ""),
            format=int(props.get("format", 0)),
            num_nodes=int(props.get("num_nodes", 0)),
            num_edges=int(props.get("num_edges", 0)),
            nodes_written=int(props.get("nodes_written", 0)),
            edges_written=int(props.get("edges_written", 0)),
            complete=bool(props.get("complete", False)),
            tables=json.loads(props.get("tables", "{}")),
            types=json.loads(props.get("types", "{}")),
        )


def graph_metadata(graph: Graph, *, complete: bool = False) -> dict[str, Any]:
    """The properties of a graph's ``:KgsynthGraph`` node (also written by the neo4j-admin export)."""
    return {
        "name": graph.name,
        "version": graph.version,
        "fingerprint": graph_fingerprint(graph),
        "format": FORMAT_VERSION,
        "num_nodes": graph.num_nodes,
        "num_edges": graph.num_edges,
        "nodes_written": graph.num_nodes if complete else 0,
        "edges_written": graph.num_edges if complete else 0,
        "complete": complete,
        "tables": json.dumps(_tables(graph), ensure_ascii=False, separators=(",", ":")),
        "types": json.dumps(relationship_types(graph.relations), ensure_ascii=False),
    }


class Neo4jStore:
    """Write graphs to, and read them back from, a Neo4j database.

    >>> store = Neo4jStore.from_env()  # doctest: +SKIP
    >>> store.write(graph)  # doctest: +SKIP
    {'nodes_written': 120, 'edges_written': 900, ...}
    >>> store.read(graph.name).num_edges  # doctest: +SKIP
    900

    The password is kept only inside the driver's auth token; it is never logged, printed or put in an
    error message.
    """

    name = "neo4j"

    def __init__(
        self,
        uri: str,
        user: str,
        password: str,
        *,
        database: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        workers: int = DEFAULT_WORKERS,
        max_retry_time: float = DEFAULT_MAX_RETRY_TIME,
        connection_timeout: float = DEFAULT_CONNECTION_TIMEOUT,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.conn = Neo4jConnection(uri, user, password, database=database, max_retry_time=max_retry_time,
                                    connection_timeout=connection_timeout)  # fmt: skip
        self.batch_size = batch_size
        self.workers = workers
        self.on_progress = on_progress

    @classmethod
    def from_env(
        cls,
        uri: str | None = None,
        user: str | None = None,
        database: str | None = None,
        **options: Any,
    ) -> Neo4jStore:
        """A store for ``NEO4J_URI``/``NEO4J_USER``/``NEO4J_PASSWORD`` (arguments win over the environment).

        The password comes from ``NEO4J_PASSWORD`` only, never from a command line, where other users of
        the machine could read it.
        """
        uri = uri or os.environ.get("NEO4J_URI") or DEFAULT_URI
        user = user or os.environ.get("NEO4J_USER") or "neo4j"
        database = database or os.environ.get("NEO4J_DATABASE") or None
        password = os.environ.get("NEO4J_PASSWORD")
        if password is None:
            raise Neo4jError(
                f"NEO4J_PASSWORD is not set (needed to connect to {redact_uri(uri)} as {user!r})",
                hint='export NEO4J_PASSWORD=...; for the project\'s own server: eval "$(scripts/neo4j.sh env)"',
            )
        return cls(uri, user, password, database=database, **options)

    def __repr__(self) -> str:
        return f"Neo4jStore(uri={self.safe_uri!r}, user={self.user!r}, database={self.database!r})"

    # --- connection -----------------------------------------------------------------------------
    @property
    def uri(self) -> str:
        return self.conn.uri

    @property
    def user(self) -> str:
        return self.conn.user

    @property
    def database(self) -> str | None:
        return self.conn.database

    @property
    def safe_uri(self) -> str:
        return self.conn.safe_uri

    @property
    def driver(self) -> neo4j.Driver:
        """The driver, created and checked (reachable, credentials accepted) on first use."""
        return self.conn.driver

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Neo4jStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- metadata ---------------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        """Create the constraints and index kgsynth relies on (a no-op when they exist)."""

        def create(session: neo4j.Session) -> None:
            for statement in cypher.SCHEMA:
                session.run(statement).consume()

        with self.conn.errors("creating constraints"):
            self.conn.retrying(create, what="creating constraints")

    def _meta(self, name: str) -> _Meta | None:
        what = f"reading graph {name!r}"
        with self.conn.errors(what):
            record = self.conn.retrying(lambda session: session.run(cypher.GRAPH_META, name=name).single(), what=what)
        return None if record is None else _Meta.from_props(dict(record["g"]))

    def graphs(self) -> list[str]:
        """The names of the graphs in the database (complete or not)."""
        with self.conn.errors("listing graphs"):
            return self.conn.retrying(lambda session: [r["name"] for r in session.run(cypher.LIST_GRAPHS)],
                                      what="listing graphs")  # fmt: skip

    def exists(self, name: str) -> bool:
        """Whether a complete graph called ``name`` is in the database."""
        meta = self._meta(name)
        return meta is not None and meta.complete

    def delete(self, name: str) -> int:
        """Remove the graph called ``name`` (nodes, relationships, metadata); return the nodes removed."""
        with self.conn.errors(f"deleting graph {name!r}"), self.conn.session() as session:
            summary = session.run(cypher.DELETE_NODES, name=name).consume()
            session.run(cypher.DELETE_PROGRESS, name=name).consume()
            session.run(cypher.DELETE_GRAPH, name=name).consume()
        removed = summary.counters.nodes_deleted
        logger.info("deleted graph %s from %s (%d nodes)", name, self.safe_uri, removed)
        return removed

    def progress(self, name: str) -> dict[str, int]:
        """How many nodes and edges of graph ``name`` are in the database (``{"nodes": .., "edges": ..}``)."""
        meta = self._meta(name)
        if meta is None:
            return {"nodes": 0, "edges": 0}
        if meta.complete:
            return {"nodes": meta.num_nodes, "edges": meta.num_edges}
        lanes = self._lanes_in_db(name)
        return {stage: sum(x.written - x.lo for x in lanes if x.stage == stage) for stage in ("nodes", "edges")}

    def _lanes_in_db(self, name: str) -> list[Lane]:
        what = f"reading the progress of {name!r}"
        with self.conn.errors(what):
            rows = self.conn.fetch(cypher.LANES, what=what, name=name)
        return sorted(Lane(*row) for row in rows)

    # --- writing ----------------------------------------------------------------------------------
    def write(self, graph: Graph) -> dict[str, Any]:
        """Store ``graph``, resuming an interrupted load of the same graph; return what was written.

        Idempotent: a graph already complete in the database, with the same content, is left alone.
        A graph of the same name but different content is replaced.
        """
        started = time.perf_counter()
        self.ensure_schema()
        fingerprint = graph_fingerprint(graph)
        meta = self._meta(graph.name)
        result: dict[str, Any] = {
            "backend": self.name,
            "uri": self.safe_uri,
            "graph": graph.name,
            "nodes": graph.num_nodes,
            "edges": graph.num_edges,
            "nodes_written": 0,
            "edges_written": 0,
            "resumed": False,
            "replaced": False,
            "unchanged": False,
        }
        if meta is not None and (meta.fingerprint != fingerprint or meta.format != FORMAT_VERSION):
            logger.info("graph %s in %s has other content; replacing it", graph.name, self.safe_uri)
            self.delete(graph.name)
            result["replaced"] = True
            meta = None
        if meta is not None and meta.complete:
            logger.info("graph %s is already complete in %s; nothing to write", graph.name, self.safe_uri)
            result["unchanged"] = True
            result["seconds"] = round(time.perf_counter() - started, 3)
            return result
        if meta is None:
            what = f"creating graph {graph.name!r}"
            with self.conn.errors(what):
                self.conn.fetch(cypher.CREATE_GRAPH, what=what, name=graph.name, props=graph_metadata(graph),
                                lanes=new_lanes(graph, workers=self.workers, batch_size=self.batch_size))  # fmt: skip
        else:
            result["resumed"] = True
            done = self.progress(graph.name)
            logger.info(
                "resuming the load of %s: %d/%d nodes and %d/%d edges already written",
                graph.name, done["nodes"], graph.num_nodes, done["edges"], graph.num_edges,
            )  # fmt: skip
        t = time.perf_counter()
        result["nodes_written"] = self._complete_stage(graph, "nodes")
        result["nodes_seconds"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        result["edges_written"] = self._complete_stage(graph, "edges")
        result["edges_seconds"] = round(time.perf_counter() - t, 3)
        what = f"finishing graph {graph.name!r}"
        with self.conn.errors(what):
            finished = self.conn.fetch(cypher.FINISH_GRAPH, what=what, name=graph.name)
        if not finished:
            raise Neo4jError(
                f"the load of {graph.name!r} into {self.safe_uri} did not finish (another load of it running?)",
                hint="run the load again once no other load of the same graph runs; it resumes",
            )
        result["seconds"] = round(time.perf_counter() - started, 3)
        logger.info(
            "wrote graph %s to %s: %d nodes, %d edges in %.1fs",
            graph.name, self.safe_uri, result["nodes_written"], result["edges_written"], result["seconds"],
        )  # fmt: skip
        return result

    def _complete_stage(self, graph: Graph, stage: str) -> int:
        """Write ``stage`` until every lane's counter reaches its end; return the rows created."""
        created = self._write_stage(graph, stage)
        for _ in range(3):
            short = [x for x in self._lanes_in_db(graph.name) if x.stage == stage and x.written != x.hi]
            if not short:
                break
            # Seen when connections are killed mid-commit: a batch the driver reported committed was
            # not. Resume from the counters rather than finish a graph with rows missing.
            logger.warning("lanes short after loading the %s of %s, resuming: %s", stage, graph.name, short)
            created += self._write_stage(graph, stage)
        return created

    def _write_stage(self, graph: Graph, stage: str, *, replay: bool = False) -> int:
        """Write the unfinished lanes of ``stage`` ("nodes" or "edges") in parallel; return rows created.

        ``replay`` resends every batch from each lane's start, as retries of committed transactions
        would (the guard turns them into no-ops); it exists for the tests.
        """
        lanes = [x for x in self._lanes_in_db(graph.name) if x.stage == stage]
        if not [x for x in lanes if (x.lo if replay else x.written) < x.hi]:
            return 0
        batch = node_batches(graph) if stage == "nodes" else edge_batches(graph, self._element_ids(graph))
        job = StageWrite(graph, stage, batch, self.batch_size, on_progress=self.on_progress, replay=replay)
        return write_lanes(self.conn, lanes, job)

    def _element_ids(self, graph: Graph) -> list[str]:
        """Every node's element id, by node index."""
        ids: list[str | None] = [None] * graph.num_nodes
        what = f"reading the node ids of {graph.name!r}"
        with self.conn.errors(what):
            rows = self.conn.fetch(cypher.ELEMENT_IDS, what=what, name=graph.name)
        for ix, eid in rows:
            ids[ix] = eid
        missing = [graph.ids[i] for i, e in enumerate(ids) if e is None]
        if missing:
            raise GraphNotInNeo4jError(
                f"{len(missing)} nodes of {graph.name!r} are missing from {self.safe_uri} (e.g. {missing[0]!r})",
                hint="the graph was changed outside kgsynth; delete it (Neo4jStore.delete) and load it again",
            )
        return [e for e in ids if e is not None]

    # --- reading ----------------------------------------------------------------------------------
    def read(self, name: str) -> Graph:
        """Read the graph called ``name`` back: equal to the graph that was written."""
        meta = self._meta(name)
        if meta is None:
            known = self.graphs()
            raise GraphNotInNeo4jError(
                f"no graph {name!r} in Neo4j at {self.safe_uri}",
                hint=f"graphs there: {', '.join(known)}" if known else "load it: kgsynth load --backend neo4j",
            )
        if not meta.complete:
            done = self.progress(name)
            raise GraphNotInNeo4jError(
                f"graph {name!r} in Neo4j at {self.safe_uri} is incomplete "
                f"({done['nodes']}/{meta.num_nodes} nodes, {done['edges']}/{meta.num_edges} edges)",
                hint="its load was interrupted; run kgsynth load --backend neo4j again to resume it",
            )
        values: dict[str, Any] = {"name": meta.name, "version": meta.version, **meta.tables}
        cat_code = {c: i for i, c in enumerate(values["categories"])}
        src_code = {s["name"]: i for i, s in enumerate(values["sources"])}
        qual_code = {qualifier_json(q): i for i, q in enumerate(values["qualifiers"])}

        n = meta.num_nodes
        ids: list[str] = [""] * n
        names: list[str] = [""] * n
        synonyms: list[list[str]] = [[] for _ in range(n)]
        layperson: list[list[str]] = [[] for _ in range(n)]
        xrefs: list[list[str]] = [[] for _ in range(n)]
        category = np.zeros(n, dtype=np.int64)
        node_source = np.zeros(n, dtype=np.int64)
        rare = np.zeros(n, dtype=bool)
        seen = 0
        with self.conn.errors(f"reading the nodes of {name!r}"), self.conn.session() as session:
            record = session.run(cypher.READ_NODES, name=name).single()
        for ix, nid, cat, nm, syn, lay, xr, source, is_rare in record["rows"] if record else []:
            ids[ix], names[ix] = nid, nm
            synonyms[ix], layperson[ix], xrefs[ix] = list(syn or []), list(lay or []), list(xr or [])
            category[ix] = cat_code[cat]
            node_source[ix] = src_code[source]
            rare[ix] = bool(is_rare)
            seen += 1
        values.update(ids=ids, names=names, synonyms=synonyms, layperson=layperson, xrefs=xrefs)

        m = meta.num_edges
        edges: dict[str, list[int]] = {"src": [], "dst": [], "rel": [], "edge_source": [], "qual": []}
        with self.conn.errors(f"reading the edges of {name!r}"), self.conn.session() as session:
            for code, relation in enumerate(values["relations"]):
                record = session.run(cypher.read_edges(meta.types[relation]), name=name).single()
                for a, b, source, q in record["rows"] if record else []:
                    edges["src"].append(a)
                    edges["dst"].append(b)
                    edges["rel"].append(code)
                    edges["edge_source"].append(src_code[source])
                    edges["qual"].append(qual_code[q] if q is not None else -1)
        e = len(edges["src"])
        if seen != n or e != m:
            raise GraphNotInNeo4jError(
                f"graph {name!r} in Neo4j at {self.safe_uri} has {seen} nodes and {e} edges, "
                f"its metadata says {n} and {m}",
                hint="it was changed outside kgsynth; delete it and load it again",
            )
        cols = {k: np.asarray(v, dtype=np.int64) for k, v in edges.items()}
        # The order Graph.build gives: by (relation, subject, object, source).
        order = np.lexsort((cols["edge_source"], cols["dst"], cols["src"], cols["rel"]))
        arrays = {"category": category, "node_source": node_source, "rare": rare}
        arrays.update({k: v[order] for k, v in cols.items()})
        graph = graph_from_parts(values, arrays)  # every array cast to its declared dtype
        logger.info("read graph %s from %s: %d nodes, %d edges", name, self.safe_uri, n, m)
        return graph
