"""The Neo4j backend: a :class:`~kgsynth.graph.model.Graph` written to and read back from a Neo4j server over Bolt.

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

The package, by concern: :mod:`.connection` (the driver, its errors, retried transactions),
:mod:`.cypher` (labels, relationship types and every query text), :mod:`.lanes` (a load split into
parallel, guarded, resumable write lanes) and :mod:`.store` (:class:`Neo4jStore`: metadata, write, read).
"""

from kgsynth.graph.store.neo4j.connection import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_URI,
    DEFAULT_WORKERS,
    USER_AGENT,
    GraphNotInNeo4jError,
    Neo4jAuthError,
    Neo4jConnection,
    Neo4jConnectionLostError,
    Neo4jError,
    Neo4jUnavailableError,
    redact_uri,
)
from kgsynth.graph.store.neo4j.cypher import (
    GRAPH_LABEL,
    NODE_LABEL,
    PROGRESS_LABEL,
    node_label,
    qualifier_json,
    relationship_type,
    relationship_types,
)
from kgsynth.graph.store.neo4j.lanes import ProgressCallback
from kgsynth.graph.store.neo4j.store import FORMAT_VERSION, Neo4jStore, graph_fingerprint, graph_metadata

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_URI",
    "DEFAULT_WORKERS",
    "FORMAT_VERSION",
    "GRAPH_LABEL",
    "NODE_LABEL",
    "PROGRESS_LABEL",
    "USER_AGENT",
    "GraphNotInNeo4jError",
    "Neo4jAuthError",
    "Neo4jConnection",
    "Neo4jConnectionLostError",
    "Neo4jError",
    "Neo4jStore",
    "Neo4jUnavailableError",
    "ProgressCallback",
    "graph_fingerprint",
    "graph_metadata",
    "node_label",
    "qualifier_json",
    "redact_uri",
    "relationship_type",
    "relationship_types",
]
