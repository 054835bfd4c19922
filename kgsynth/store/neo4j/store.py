"""The Neo4j backend: a :class:`~kgsynth.model.Graph` written to and read back from a Neo4j server over Bolt.

Layout in the database (one database can hold several graphs, told apart by their name):

* ``(:KgsynthGraph {name})``: one per graph, with the graph-level tables as JSON strings (categories,
  relations, sources, qualifiers, report, relationship types), its version and content fingerprint,
  and ``complete``; while a load runs, ``(:KgsynthProgress {graph, stage, lane, lo, hi, written})``
  nodes record how far each parallel lane of it got (deleted when the load completes).
* ``(:KgNode:<Category> {graph, id, ix, category, name, synonyms, layperson, xrefs, source, licence,
  rare})``: ``<Category>`` is the Biolink category without its prefix (``biolink:Disease`` ->
  ``:Disease``); ``(graph, id)`` is unique; ``ix`` is the node's position in the graph.
* ``(a)-[:<TYPE> {source, licence, qualifiers, negated}]->(b)``: ``<TYPE>`` is the predicate in
  Cypher's spelling (``biolink:has_phenotype`` -> ``HAS_PHENOTYPE``); a negated edge has its own type
  (``NOT_TREATS``) and ``negated: true``, so that a query for ``:TREATS`` never returns negative
  evidence. ``qualifiers`` is a JSON object string, absent when the edge has none. The predicate of
  each type is in the graph's metadata (``types``), not repeated on every relationship: relationship
  properties are what a load spends its time on (docs/neo4j.md has the measurements).

Generation does not sample in Cypher: :meth:`Neo4jStore.read` reads the graph back into the same
arrays the embedded store holds, and the one CSR index and generator run on them (see docs/neo4j.md
for the measurement behind that choice).

Every value travels as a query parameter. Labels and relationship types cannot be parameters in
Cypher 5; they are derived from categories and predicates by :func:`node_label` and
:func:`relationship_type`, which keep only ``[A-Za-z0-9_]``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from kgsynth.errors import KgsynthError
from kgsynth.model import Graph, SourceInfo

if TYPE_CHECKING:
    import neo4j

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
NODE_LABEL = "KgNode"
GRAPH_LABEL = "KgsynthGraph"
PROGRESS_LABEL = "KgsynthProgress"
DEFAULT_URI = "bolt://127.0.0.1:17687"  # the server scripts/neo4j.sh starts
DEFAULT_BATCH_SIZE = 10_000
DEFAULT_WORKERS = 3  # parallel write transactions; docs/neo4j.md has the measurements
USER_AGENT = "kgsynth-neo4j-store"  # how kgsynth's connections show in SHOW TRANSACTIONS / listConnections
_RESERVED_LABELS = {NODE_LABEL, GRAPH_LABEL}

_T = TypeVar("_T")

ProgressCallback = Callable[[str, int, int], None]
"""``on_progress(stage, done, total)``, called after every committed batch (stage: "nodes" or "edges")."""


# --- errors ----------------------------------------------------------------------------------------
class Neo4jError(KgsynthError):
    """A Neo4j backend error a user can act on."""


class Neo4jUnavailableError(Neo4jError):
    """No Neo4j server answers at the URI."""

    def __init__(self, uri: str, detail: str) -> None:
        super().__init__(
            f"cannot reach Neo4j at {uri}: {detail}",
            hint="start it (scripts/neo4j.sh start for the project's own server) or set NEO4J_URI "
            "to a server that is running, e.g. bolt://localhost:7687 or neo4j+s://<id>.databases.neo4j.io",
        )
        self.uri = uri


class Neo4jAuthError(Neo4jError):
    """The server refused the user name or password."""

    def __init__(self, uri: str, user: str) -> None:
        super().__init__(
            f"Neo4j at {uri} refused the credentials of user {user!r}",
            hint="check NEO4J_USER and NEO4J_PASSWORD (the password is read from the environment only)",
        )
        self.uri = uri


class Neo4jConnectionLostError(Neo4jError):
    """The connection dropped and did not come back within the retry time."""

    def __init__(self, uri: str, what: str, detail: str) -> None:
        super().__init__(
            f"lost the connection to Neo4j at {uri} while {what}, and it did not come back: {detail}",
            hint="what was committed is kept; run the same command again to resume where it stopped",
        )
        self.uri = uri


class GraphNotInNeo4jError(Neo4jError):
    """The graph asked for is not (or not completely) in the database."""


# --- names ------------------------------------------------------------------------------------------
def node_label(category: str) -> str:
    """The node label of a Biolink category: its local name, restricted to ``[A-Za-z0-9_]``.

    >>> node_label("biolink:PhenotypicFeature")
    'PhenotypicFeature'
    """
    local = category.rpartition(":")[2]
    label = re.sub(r"[^A-Za-z0-9_]", "_", local).strip("_") or "Category"
    if label[0].isdigit() or label in _RESERVED_LABELS:
        label = f"Biolink{label}"
    return label


def relationship_type(relation: str) -> str:
    """The relationship type of a relation key (``NOT biolink:treats`` -> ``NOT_TREATS``).

    >>> relationship_type("biolink:has_phenotype")
    'HAS_PHENOTYPE'
    """
    negated = relation.startswith("NOT ")
    predicate = relation[4:] if negated else relation
    local = predicate.rpartition(":")[2]
    kind = re.sub(r"[^A-Za-z0-9]+", "_", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", local)).strip("_").upper()
    kind = kind or "RELATED_TO"
    if kind[0].isdigit():
        kind = f"R_{kind}"
    return f"NOT_{kind}" if negated else kind


def relationship_types(relations: tuple[str, ...] | list[str]) -> dict[str, str]:
    """The relationship type of every relation, made unique (``_2``, ``_3``, ... on a collision)."""
    types: dict[str, str] = {}
    used: set[str] = set()
    for relation in relations:
        base = kind = relationship_type(relation)
        n = 1
        while kind in used:
            n += 1
            kind = f"{base}_{n}"
        used.add(kind)
        types[relation] = kind
    return types


def redact_uri(uri: str) -> str:
    """``uri`` without any ``user:password@`` part, fit to print."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "<unparseable NEO4J_URI>"
    if parts.password is None and parts.username is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def graph_fingerprint(graph: Graph) -> str:
    """A hash of everything :meth:`Neo4jStore.read` gives back: equal fingerprints, equal graphs."""
    h = hashlib.blake2b(digest_size=16)
    for arr in (graph.category, graph.node_source, graph.rare, graph.src, graph.dst, graph.rel):
        h.update(np.ascontiguousarray(arr).tobytes())
    for arr in (graph.edge_source, graph.qual):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(json.dumps(_tables(graph), sort_keys=True, ensure_ascii=False).encode())
    h.update(
        json.dumps([graph.ids, graph.names, graph.synonyms, graph.layperson, graph.xrefs], ensure_ascii=False).encode()
    )
    return h.hexdigest()


def _tables(graph: Graph) -> dict[str, Any]:
    return {
        "categories": list(graph.categories),
        "relations": list(graph.relations),
        "sources": [s.model_dump() for s in graph.sources],
        "qualifiers": graph.qualifiers,
        "report": graph.report,
    }


def qualifier_json(qualifiers: dict[str, Any]) -> str:
    """The canonical JSON text of a qualifier dict, as stored on a relationship."""
    return json.dumps(qualifiers, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# --- Cypher -----------------------------------------------------------------------------------------
# A load runs in lanes: contiguous ranges of node (or edge) indices, written by parallel workers, each
# with a progress node (:KgsynthProgress {graph, stage, lane, lo, hi, written}). The progress guard:
# a batch runs only if its lane's counter still says it has not, and moves the counter in the same
# transaction. A retried transaction whose first commit did reach the server (the acknowledgement was
# lost) therefore finds the counter moved on and adds nothing; a killed load resumes at the counters.
# The lane node is locked (REMOVE of a property it never has takes the write lock) before its counter
# is read: a retry running while the first attempt still commits waits, then sees the moved counter.
_GUARD = """
MATCH (p:KgsynthProgress {graph: $graph, stage: $stage, lane: $lane})
REMOVE p._lock
WITH p WHERE p.written = $start
SET p.written = $end
WITH p
UNWIND $rows AS r
"""

# Nodes are CREATEd: the guard keeps a batch from running twice, and the (graph, id) uniqueness
# constraint would refuse a duplicate rather than let it in.
_NODE_BATCH = (
    _GUARD
    + """CREATE (n:KgNode:`%s` {graph: $graph, id: r[0], ix: r[1], category: $category, name: r[2],
                       synonyms: r[3], layperson: r[4], xrefs: r[5], source: r[6], licence: r[7], rare: r[8]})
RETURN count(n) AS written
"""
)

# Endpoints are found by element id (a direct record lookup, no index), and relationships are CREATEd:
# the guard, not a MERGE, keeps them unique (MERGE would scan the endpoints' relationships).
_EDGE_BATCH = (
    _GUARD
    + """MATCH (a) WHERE elementId(a) = r[0]
MATCH (b) WHERE elementId(b) = r[1]
CREATE (a)-[e:`%s` {source: r[2], licence: r[3], qualifiers: r[4], negated: $negated}]->(b)
RETURN count(e) AS written
"""
)

# Client errors that mean "this transaction was cut off", not "this query is wrong".
_RETRY_CODES = {
    "Neo.ClientError.Transaction.Terminated",
    "Neo.ClientError.Transaction.LockClientStopped",
    "Neo.ClientError.Transaction.TransactionTimedOut",
}

_SCHEMA = (
    f"CREATE CONSTRAINT kgsynth_node_id IF NOT EXISTS FOR (n:{NODE_LABEL}) REQUIRE (n.graph, n.id) IS UNIQUE",
    f"CREATE CONSTRAINT kgsynth_graph_name IF NOT EXISTS FOR (g:{GRAPH_LABEL}) REQUIRE g.name IS UNIQUE",
    f"CREATE INDEX kgsynth_node_graph IF NOT EXISTS FOR (n:{NODE_LABEL}) ON (n.graph)",
)


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


def _segments(codes: np.ndarray, lo: int, hi: int, batch_size: int) -> Iterator[tuple[int, int]]:
    """Ranges covering ``[lo, hi)``, each within one run of equal ``codes``, batch_size at most."""
    while lo < hi:
        run_end = int(np.searchsorted(codes, codes[lo], side="right"))
        end = min(run_end, lo + batch_size, hi)
        yield lo, end
        lo = end


def _lanes(n: int, workers: int, batch_size: int) -> list[tuple[int, int]]:
    """Split ``[0, n)`` into at most ``workers`` contiguous ranges of whole batches."""
    count = max(1, min(workers, -(-n // batch_size)))
    bounds = [round(n * k / count) for k in range(count + 1)]
    return [(bounds[k], bounds[k + 1]) for k in range(count) if bounds[k] < bounds[k + 1]]


@dataclass(order=True)
class _Lane:
    stage: str
    lane: int
    lo: int
    hi: int
    written: int


# --- the store --------------------------------------------------------------------------------------
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
        max_retry_time: float = 60.0,
        connection_timeout: float = 10.0,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.uri = uri
        self.user = user
        self.database = database
        self.batch_size = batch_size
        self.workers = workers
        self.max_retry_time = max_retry_time
        self.connection_timeout = connection_timeout
        self.on_progress = on_progress
        self._auth = (user, password)
        self._driver: neo4j.Driver | None = None

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

    @property
    def safe_uri(self) -> str:
        return redact_uri(self.uri)

    # --- connection -----------------------------------------------------------------------------
    @property
    def driver(self) -> neo4j.Driver:
        """The driver, created and checked (reachable, credentials accepted) on first use."""
        if self._driver is None:
            import neo4j
            from neo4j import exceptions as neo

            try:
                driver = neo4j.GraphDatabase.driver(
                    self.uri,
                    auth=self._auth,
                    max_transaction_retry_time=self.max_retry_time,
                    connection_timeout=self.connection_timeout,
                    connection_acquisition_timeout=self.connection_timeout + 5,
                    # "already exists" notes on every CREATE ... IF NOT EXISTS are noise; warnings stay.
                    notifications_min_severity="WARNING",
                    user_agent=USER_AGENT,
                )
            except (neo.ConfigurationError, ValueError) as exc:
                raise Neo4jError(
                    f"NEO4J_URI {self.safe_uri!r} is not a Neo4j URI: "
                    + _describe(exc).replace(self.uri, self.safe_uri),
                    hint="use bolt://host:7687, neo4j://host:7687 or neo4j+s://host (Aura)",
                ) from None
            try:
                driver.verify_connectivity()
            except neo.AuthError:
                driver.close()
                raise Neo4jAuthError(self.safe_uri, self.user) from None
            except (neo.DriverError, neo.Neo4jError, OSError) as exc:
                driver.close()
                raise Neo4jUnavailableError(self.safe_uri, _describe(exc)) from None
            self._driver = driver
            logger.info("connected to Neo4j at %s as %s", self.safe_uri, self.user)
        return self._driver

    def close(self) -> None:
        if self._driver is not None:
            self._driver.close()
            self._driver = None

    def __enter__(self) -> Neo4jStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _session(self) -> neo4j.Session:
        return self.driver.session(database=self.database)

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Turn the driver's errors into ones that name the server and say what to do."""
        from neo4j import exceptions as neo

        try:
            yield
        except neo.AuthError:
            raise Neo4jAuthError(self.safe_uri, self.user) from None
        except (neo.ServiceUnavailable, neo.SessionExpired) as exc:
            raise Neo4jConnectionLostError(self.safe_uri, what, _describe(exc)) from None
        except (neo.DriverError, neo.Neo4jError) as exc:
            raise Neo4jError(f"Neo4j at {self.safe_uri} failed while {what}: {_describe(exc)}") from None

    # --- metadata ---------------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        """Create the constraints and index kgsynth relies on (a no-op when they exist)."""
        with self._errors("creating constraints"), self._session() as session:
            for statement in _SCHEMA:
                session.run(statement).consume()

    def _meta(self, name: str) -> _Meta | None:
        with self._errors(f"reading graph {name!r}"), self._session() as session:
            record = session.run(f"MATCH (g:{GRAPH_LABEL} {{name: $name}}) RETURN g", name=name).single()
        return None if record is None else _Meta.from_props(dict(record["g"]))

    def graphs(self) -> list[str]:
        """The names of the graphs in the database (complete or not)."""
        with self._errors("listing graphs"), self._session() as session:
            return [r["name"] for r in session.run(f"MATCH (g:{GRAPH_LABEL}) RETURN g.name AS name ORDER BY name")]

    def exists(self, name: str) -> bool:
        """Whether a complete graph called ``name`` is in the database."""
        meta = self._meta(name)
        return meta is not None and meta.complete

    def delete(self, name: str) -> int:
        """Remove the graph called ``name`` (nodes, relationships, metadata); return the nodes removed."""
        with self._errors(f"deleting graph {name!r}"), self._session() as session:
            summary = session.run(
                f"MATCH (n:{NODE_LABEL} {{graph: $name}}) CALL (n) {{ DETACH DELETE n }} IN TRANSACTIONS OF 5000 ROWS",
                name=name,
            ).consume()
            session.run(f"MATCH (p:{PROGRESS_LABEL} {{graph: $name}}) DELETE p", name=name).consume()
            session.run(f"MATCH (g:{GRAPH_LABEL} {{name: $name}}) DELETE g", name=name).consume()
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

    def _lanes_in_db(self, name: str) -> list[_Lane]:
        with self._errors(f"reading the progress of {name!r}"):
            rows = self._transact(
                _fetch,
                f"MATCH (p:{PROGRESS_LABEL} {{graph: $name}}) "
                "RETURN collect([p.stage, p.lane, p.lo, p.hi, p.written]) AS rows",
                what=f"reading the progress of {name!r}",
                name=name,
            )
        return sorted(_Lane(*row) for row in rows)

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
            lanes = [
                {"graph": graph.name, "stage": stage, "lane": k, "lo": lo, "hi": hi, "written": lo}
                for stage, n in (("nodes", graph.num_nodes), ("edges", graph.num_edges))
                for k, (lo, hi) in enumerate(_lanes(n, self.workers, self.batch_size))
            ]
            with self._errors(f"creating graph {graph.name!r}"):
                self._transact(
                    _fetch,
                    f"MERGE (g:{GRAPH_LABEL} {{name: $name}}) ON CREATE SET g = $props "
                    f"WITH g UNWIND $lanes AS lane "
                    f"MERGE (p:{PROGRESS_LABEL} {{graph: $name, stage: lane.stage, lane: lane.lane}}) "
                    "ON CREATE SET p = lane RETURN collect(p.lane) AS rows",
                    what=f"creating graph {graph.name!r}",
                    name=graph.name,
                    props=graph_metadata(graph),
                    lanes=lanes,
                )
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
        with self._errors(f"finishing graph {graph.name!r}"):
            finished = self._transact(
                _fetch,
                f"MATCH (g:{GRAPH_LABEL} {{name: $name}}) "
                f"OPTIONAL MATCH (p:{PROGRESS_LABEL} {{graph: $name}}) "
                "WITH g, collect(p) AS lanes WHERE all(p IN lanes WHERE p.written = p.hi) "
                "SET g.complete = true, g.nodes_written = g.num_nodes, g.edges_written = g.num_edges "
                "FOREACH (p IN lanes | DELETE p) RETURN collect(g.complete) AS rows",
                what=f"finishing graph {graph.name!r}",
                name=graph.name,
            )
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
        pending = [x for x in lanes if (x.lo if replay else x.written) < x.hi]
        if not pending:
            return 0
        total = graph.num_nodes if stage == "nodes" else graph.num_edges
        done = sum(x.written - x.lo for x in lanes)
        batch = self._node_batch(graph) if stage == "nodes" else self._edge_batch(graph)
        codes = graph.category if stage == "nodes" else graph.rel
        lock = threading.Lock()
        stop = threading.Event()
        created = 0

        def run_lane(lane: _Lane) -> None:
            nonlocal done, created
            start = lane.lo if replay else lane.written
            for lo, hi in _segments(codes, start, lane.hi, self.batch_size):
                if stop.is_set():
                    return
                query, params = batch(lo, hi)
                n = self._write_batch(query, graph=graph.name, stage=stage, lane=lane.lane, start=lo, end=hi, **params)
                with lock:
                    created += n
                    done += n
                    self._progress(stage, done, total)

        with self._errors(f"loading the {stage} of {graph.name!r}"):
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

    def _write_batch(self, query: str, **params: Any) -> int:
        """Run one guarded batch in a managed transaction; return the rows it created."""
        return self._transact(_run_batch, query, what=f"lane {params.get('lane')} rows {params.get('start')}-"
                              f"{params.get('end')}", **params)  # fmt: skip

    def _transact(self, work: Callable[..., _T], *args: Any, what: str, **params: Any) -> _T:
        """``work(tx, *args, **params)`` in a managed write transaction, retrying what the driver leaves to
        the caller.

        The driver retries transient errors itself, but not a commit whose outcome it cannot know
        (``IncompleteCommit``) nor a transaction the server terminated because its connection was killed.
        Every write kgsynth runs this way is safe to retry: a batch that did commit is a no-op under the
        progress guard, and the other statements are idempotent.
        """
        from neo4j import exceptions as neo

        deadline = time.monotonic() + self.max_retry_time
        delay = 0.2
        while True:
            try:
                with self._session() as session:
                    return session.execute_write(work, *args, **params)
            except (neo.ServiceUnavailable, neo.SessionExpired, neo.TransientError, neo.ClientError) as exc:
                retry = not isinstance(exc, neo.ClientError) or exc.code in _RETRY_CODES
                if not retry or time.monotonic() + delay > deadline:
                    raise
                logger.warning("retrying (%s): %s", what, _describe(exc))
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _node_batch(self, graph: Graph) -> Callable[[int, int], tuple[str, dict[str, Any]]]:
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
            return _NODE_BATCH % node_label(category), {"rows": rows, "category": category}

        return batch

    def _element_ids(self, graph: Graph) -> list[str]:
        """Every node's element id, by node index."""
        ids: list[str | None] = [None] * graph.num_nodes
        with self._errors(f"reading the node ids of {graph.name!r}"):
            rows = self._transact(
                _fetch,
                f"MATCH (n:{NODE_LABEL} {{graph: $name}}) RETURN collect([n.ix, elementId(n)]) AS rows",
                what=f"reading the node ids of {graph.name!r}",
                name=graph.name,
            )
        for ix, eid in rows:
            ids[ix] = eid
        missing = [graph.ids[i] for i, e in enumerate(ids) if e is None]
        if missing:
            raise GraphNotInNeo4jError(
                f"{len(missing)} nodes of {graph.name!r} are missing from {self.safe_uri} (e.g. {missing[0]!r})",
                hint="the graph was changed outside kgsynth; delete it (Neo4jStore.delete) and load it again",
            )
        return [e for e in ids if e is not None]

    def _edge_batch(self, graph: Graph) -> Callable[[int, int], tuple[str, dict[str, Any]]]:
        eids = self._element_ids(graph)
        sources = [s.name for s in graph.sources]
        licences = [s.licence for s in graph.sources]
        quals = [qualifier_json(q) for q in graph.qualifiers]
        src, dst, esrc, qual = (a.tolist() for a in (graph.src, graph.dst, graph.edge_source, graph.qual))
        types = relationship_types(graph.relations)

        def batch(lo: int, hi: int) -> tuple[str, dict[str, Any]]:
            relation = graph.relations[int(graph.rel[lo])]
            rows = [
                [
                    eids[src[e]],
                    eids[dst[e]],
                    sources[esrc[e]],
                    licences[esrc[e]],
                    quals[qual[e]] if qual[e] >= 0 else None,
                ]
                for e in range(lo, hi)
            ]
            # negated: null (no property at all) on the edges that are not negated
            return _EDGE_BATCH % types[relation], {"rows": rows, "negated": relation.startswith("NOT ") or None}

        return batch

    def _progress(self, stage: str, done: int, total: int) -> None:
        logger.debug("%s: %d/%d", stage, done, total)
        if self.on_progress is not None:
            self.on_progress(stage, done, total)

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
        tables = meta.tables
        categories: tuple[str, ...] = tuple(tables["categories"])
        relations: tuple[str, ...] = tuple(tables["relations"])
        sources = [SourceInfo(**s) for s in tables["sources"]]
        qualifiers: list[dict[str, Any]] = tables["qualifiers"]
        cat_code = {c: i for i, c in enumerate(categories)}
        src_code = {s.name: i for i, s in enumerate(sources)}
        qual_code = {qualifier_json(q): i for i, q in enumerate(qualifiers)}

        n = meta.num_nodes
        ids: list[str] = [""] * n
        names: list[str] = [""] * n
        synonyms: list[list[str]] = [[] for _ in range(n)]
        layperson: list[list[str]] = [[] for _ in range(n)]
        xrefs: list[list[str]] = [[] for _ in range(n)]
        category = np.zeros(n, dtype=np.uint8)
        node_source = np.zeros(n, dtype=np.uint8)
        rare = np.zeros(n, dtype=bool)
        # One record holding every row: streaming rows one record at a time costs the driver a network
        # read per record (10x slower on the default KG).
        seen = 0
        with self._errors(f"reading the nodes of {name!r}"), self._session() as session:
            record = session.run(
                f"MATCH (n:{NODE_LABEL} {{graph: $name}}) RETURN collect([n.ix, n.id, n.category, n.name, "
                "n.synonyms, n.layperson, n.xrefs, n.source, n.rare]) AS rows",
                name=name,
            ).single()
        for ix, nid, cat, nm, syn, lay, xr, source, is_rare in record["rows"] if record else []:
            ids[ix], names[ix] = nid, nm
            synonyms[ix], layperson[ix], xrefs[ix] = list(syn or []), list(lay or []), list(xr or [])
            category[ix] = cat_code[cat]
            node_source[ix] = src_code[source]
            rare[ix] = bool(is_rare)
            seen += 1

        m = meta.num_edges
        cols: tuple[list[int], list[int], list[int], list[int], list[int]] = ([], [], [], [], [])
        e_src, e_dst, e_rel, e_source, e_qual = cols
        with self._errors(f"reading the edges of {name!r}"), self._session() as session:
            for code, relation in enumerate(relations):
                record = session.run(
                    f"MATCH (a:{NODE_LABEL} {{graph: $name}})-[r:`{meta.types[relation]}`]->(b) "
                    "RETURN collect([a.ix, b.ix, r.source, r.qualifiers]) AS rows",
                    name=name,
                ).single()
                for a, b, source, q in record["rows"] if record else []:
                    e_src.append(a)
                    e_dst.append(b)
                    e_rel.append(code)
                    e_source.append(src_code[source])
                    e_qual.append(qual_code[q] if q is not None else -1)
        e = len(e_src)
        if seen != n or e != m:
            raise GraphNotInNeo4jError(
                f"graph {name!r} in Neo4j at {self.safe_uri} has {seen} nodes and {e} edges, "
                f"its metadata says {n} and {m}",
                hint="it was changed outside kgsynth; delete it and load it again",
            )
        # The order Graph.build gives: by (relation, subject, object, source).
        src = np.asarray(e_src, dtype=np.int32)
        dst = np.asarray(e_dst, dtype=np.int32)
        rel = np.asarray(e_rel, dtype=np.uint8)
        edge_source = np.asarray(e_source, dtype=np.uint8)
        qual = np.asarray(e_qual, dtype=np.int32)
        order = np.lexsort((edge_source, dst, src, rel))
        graph = Graph(
            name=meta.name,
            version=meta.version,
            ids=ids,
            categories=categories,
            category=category,
            names=names,
            synonyms=synonyms,
            layperson=layperson,
            xrefs=xrefs,
            node_source=node_source,
            rare=rare,
            relations=relations,
            src=src[order],
            dst=dst[order],
            rel=rel[order],
            edge_source=edge_source[order],
            qual=qual[order],
            qualifiers=qualifiers,
            sources=sources,
            report=tables["report"],
        )
        logger.info("read graph %s from %s: %d nodes, %d edges", name, self.safe_uri, n, m)
        return graph


def _fetch(tx: neo4j.ManagedTransaction, query: str, **params: Any) -> list[Any]:
    """The ``rows`` list of a query's single record (queries return ``collect(...) AS rows``)."""
    record = tx.run(query, **params).single()
    return list(record["rows"]) if record is not None else []


def _run_batch(tx: neo4j.ManagedTransaction, query: str, **params: Any) -> int:
    record = tx.run(query, **params).single()
    return int(record["written"]) if record is not None else 0


def _describe(exc: BaseException) -> str:
    """A one-line account of a driver error (driver messages never hold the password)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
