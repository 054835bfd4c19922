"""The Cypher kgsynth sends: labels and relationship types derived from a graph's names, and the query texts.

Every value travels as a query parameter. Labels and relationship types cannot be parameters in Cypher 5;
they are derived from categories and predicates by :func:`node_label` and :func:`relationship_type`,
which keep only ``[A-Za-z0-9_]``.
"""

from __future__ import annotations

import json
import re
from typing import Any

NODE_LABEL = "KgNode"
GRAPH_LABEL = "KgsynthGraph"
PROGRESS_LABEL = "KgsynthProgress"
_RESERVED_LABELS = {NODE_LABEL, GRAPH_LABEL}


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


def qualifier_json(qualifiers: dict[str, Any]) -> str:
    """The canonical JSON text of a qualifier dict, as stored on a relationship."""
    return json.dumps(qualifiers, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# --- schema -----------------------------------------------------------------------------------------
SCHEMA = (
    f"CREATE CONSTRAINT kgsynth_node_id IF NOT EXISTS FOR (n:{NODE_LABEL}) REQUIRE (n.graph, n.id) IS UNIQUE",
    f"CREATE CONSTRAINT kgsynth_graph_name IF NOT EXISTS FOR (g:{GRAPH_LABEL}) REQUIRE g.name IS UNIQUE",
    f"CREATE INDEX kgsynth_node_graph IF NOT EXISTS FOR (n:{NODE_LABEL}) ON (n.graph)",
)

# --- write batches ----------------------------------------------------------------------------------
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
# constraint would refuse a duplicate rather than let it in. ``%s`` is the node label.
NODE_BATCH = (
    _GUARD
    + """CREATE (n:KgNode:`%s` {graph: $graph, id: r[0], ix: r[1], category: $category, name: r[2],
                       synonyms: r[3], layperson: r[4], xrefs: r[5], source: r[6], licence: r[7], rare: r[8]})
RETURN count(n) AS written
"""
)

# Endpoints are found by element id (a direct record lookup, no index), and relationships are CREATEd:
# the guard, not a MERGE, keeps them unique (MERGE would scan the endpoints' relationships). ``%s`` is
# the relationship type.
EDGE_BATCH = (
    _GUARD
    + """MATCH (a) WHERE elementId(a) = r[0]
MATCH (b) WHERE elementId(b) = r[1]
CREATE (a)-[e:`%s` {source: r[2], licence: r[3], qualifiers: r[4], negated: $negated}]->(b)
RETURN count(e) AS written
"""
)

# --- graphs and their progress ----------------------------------------------------------------------
CREATE_GRAPH = (
    f"MERGE (g:{GRAPH_LABEL} {{name: $name}}) ON CREATE SET g = $props "
    f"WITH g UNWIND $lanes AS lane "
    f"MERGE (p:{PROGRESS_LABEL} {{graph: $name, stage: lane.stage, lane: lane.lane}}) "
    "ON CREATE SET p = lane RETURN collect(p.lane) AS rows"
)
FINISH_GRAPH = (
    f"MATCH (g:{GRAPH_LABEL} {{name: $name}}) "
    f"OPTIONAL MATCH (p:{PROGRESS_LABEL} {{graph: $name}}) "
    "WITH g, collect(p) AS lanes WHERE all(p IN lanes WHERE p.written = p.hi) "
    "SET g.complete = true, g.nodes_written = g.num_nodes, g.edges_written = g.num_edges "
    "FOREACH (p IN lanes | DELETE p) RETURN collect(g.complete) AS rows"
)
GRAPH_META = f"MATCH (g:{GRAPH_LABEL} {{name: $name}}) RETURN g"
LIST_GRAPHS = f"MATCH (g:{GRAPH_LABEL}) RETURN g.name AS name ORDER BY name"
LANES = f"MATCH (p:{PROGRESS_LABEL} {{graph: $name}}) RETURN collect([p.stage, p.lane, p.lo, p.hi, p.written]) AS rows"
DELETE_NODES = f"MATCH (n:{NODE_LABEL} {{graph: $name}}) CALL (n) {{ DETACH DELETE n }} IN TRANSACTIONS OF 5000 ROWS"
DELETE_PROGRESS = f"MATCH (p:{PROGRESS_LABEL} {{graph: $name}}) DELETE p"
DELETE_GRAPH = f"MATCH (g:{GRAPH_LABEL} {{name: $name}}) DELETE g"
ELEMENT_IDS = f"MATCH (n:{NODE_LABEL} {{graph: $name}}) RETURN collect([n.ix, elementId(n)]) AS rows"

# --- reading ----------------------------------------------------------------------------------------
# One record holding every row: streaming rows one record at a time costs the driver a network read
# per record (10x slower on the default KG).
READ_NODES = (
    f"MATCH (n:{NODE_LABEL} {{graph: $name}}) RETURN collect([n.ix, n.id, n.category, n.name, "
    "n.synonyms, n.layperson, n.xrefs, n.source, n.rare]) AS rows"
)


def read_edges(relationship: str) -> str:
    """The query reading every edge of one relationship type (``relationship`` from :func:`relationship_types`)."""
    return (
        f"MATCH (a:{NODE_LABEL} {{graph: $name}})-[r:`{relationship}`]->(b) "
        "RETURN collect([a.ix, b.ix, r.source, r.qualifiers]) AS rows"
    )
