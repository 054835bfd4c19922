"""Export a graph as the CSV files ``neo4j-admin database import full`` reads, for graphs too large
for a load through the driver.

The files give exactly the layout :class:`~kgsynth.graph.store.neo4j.Neo4jStore` writes (the same labels,
relationship types, properties and ``:KgsynthGraph`` metadata node), so a database built by the import
reads back with ``Neo4jStore.read`` and generates the same items. The import tool creates no
constraints; the first ``kgsynth load --backend neo4j`` of the same graph adds them and writes nothing
else.
"""

from __future__ import annotations

import csv
import logging
import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from kgsynth.errors import KgsynthError
from kgsynth.graph.model import Graph
from kgsynth.graph.store.neo4j import (
    GRAPH_LABEL,
    NODE_LABEL,
    graph_metadata,
    node_label,
    qualifier_json,
    relationship_types,
)

logger = logging.getLogger(__name__)

# Between the elements of a list property (synonyms, xrefs). The import tool's default, ";", occurs in
# real disease names; the ASCII unit separator does not occur in text.
ARRAY_DELIMITER = "\x1f"
ARRAY_DELIMITER_OPTION = "U+001F"

NODE_HEADER = [
    f"id:ID({NODE_LABEL})",
    ":LABEL",
    "graph",
    "ix:int",
    "category",
    "name",
    "synonyms:string[]",
    "layperson:string[]",
    "xrefs:string[]",
    "source",
    "licence",
    "rare:boolean",
]
RELATIONSHIP_HEADER = [
    f":START_ID({NODE_LABEL})",
    f":END_ID({NODE_LABEL})",
    ":TYPE",
    "source",
    "licence",
    "qualifiers",
    "negated:boolean",
]
GRAPH_HEADER = [
    ":LABEL",
    "name",
    "version",
    "fingerprint",
    "format:int",
    "num_nodes:long",
    "num_edges:long",
    "nodes_written:long",
    "edges_written:long",
    "complete:boolean",
    "tables",
    "types",
]


def _array(values: Sequence[str], *, node: str) -> str:
    for v in values:
        if ARRAY_DELIMITER in v:
            raise KgsynthError(
                f"node {node}: the value {v!r} holds the character U+001F, which the neo4j-admin export "
                "uses between list elements",
                hint="remove it from the source, or load through the driver (kgsynth load --backend neo4j)",
            )
    return ARRAY_DELIMITER.join(values)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def export_neo4j_admin(graph: Graph, out_dir: str | Path, *, database: str = "neo4j") -> dict[str, Any]:
    """Write ``graph`` to ``out_dir`` as ``neo4j-admin database import full`` input.

    Returns the files written, their row counts, whether a value spans lines, and the import
    ``command`` (a list, ``neo4j-admin`` first, run from ``out_dir``); the same command is written to
    ``out_dir/import.sh``.

    >>> export_neo4j_admin(graph, "out/neo4j-import")["command"][:4]  # doctest: +SKIP
    ['neo4j-admin', 'database', 'import', 'full']
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sources = [s.name for s in graph.sources]
    licences = [s.licence for s in graph.sources]
    multiline = False

    def rows_have_newlines(row: Iterable[str]) -> bool:
        return any("\n" in v or "\r" in v for v in row)

    nodes_path = out / "nodes.csv"
    with nodes_path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(NODE_HEADER)
        labels = [f"{NODE_LABEL}{ARRAY_DELIMITER}{node_label(c)}" for c in graph.categories]
        for i, curie in enumerate(graph.ids):
            code = int(graph.category[i])
            source = int(graph.node_source[i])
            row = [
                curie,
                labels[code],
                graph.name,
                str(i),
                graph.categories[code],
                graph.names[i],
                _array(graph.synonyms[i], node=curie),
                _array(graph.layperson[i], node=curie),
                _array(graph.xrefs[i], node=curie),
                sources[source],
                licences[source],
                _bool(bool(graph.rare[i])),
            ]
            multiline = multiline or rows_have_newlines(row)
            writer.writerow(row)

    rels_path = out / "relationships.csv"
    types = relationship_types(graph.relations)
    quals = [qualifier_json(q) for q in graph.qualifiers]
    rel_type = [types[r] for r in graph.relations]
    negated = ["true" if r.startswith("NOT ") else "" for r in graph.relations]
    with rels_path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(RELATIONSHIP_HEADER)
        ids = graph.ids
        for s, d, r, src, q in zip(
            graph.src.tolist(),
            graph.dst.tolist(),
            graph.rel.tolist(),
            graph.edge_source.tolist(),
            graph.qual.tolist(),
            strict=True,
        ):
            writer.writerow(
                [ids[s], ids[d], rel_type[r], sources[src], licences[src], quals[q] if q >= 0 else "", negated[r]]
            )

    graph_path = out / "graph.csv"
    meta = graph_metadata(graph, complete=True)
    with graph_path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(GRAPH_HEADER)
        writer.writerow(
            [
                GRAPH_LABEL,
                meta["name"],
                meta["version"],
                meta["fingerprint"],
                str(meta["format"]),
                str(meta["num_nodes"]),
                str(meta["num_edges"]),
                str(meta["nodes_written"]),
                str(meta["edges_written"]),
                "true",
                meta["tables"],
                meta["types"],
            ]
        )
    multiline = multiline or "\n" in meta["tables"]

    command = [
        "neo4j-admin",
        "database",
        "import",
        "full",
        f"--nodes={nodes_path.resolve()}",
        f"--nodes={graph_path.resolve()}",
        f"--relationships={rels_path.resolve()}",
        f"--array-delimiter={ARRAY_DELIMITER_OPTION}",
        f"--multiline-fields={_bool(multiline)}",
        f"--report-file={(out / 'import.report').resolve()}",
        database,
    ]
    (out / "import.sh").write_text(
        "#!/bin/sh\n# Stop the server first; add --overwrite-destination=true to replace an existing database.\n"
        + shlex.join(command)
        + "\n",
        encoding="utf-8",
    )
    logger.info(
        "wrote neo4j-admin import files for %s to %s: %d nodes, %d relationships",
        graph.name, out, graph.num_nodes, graph.num_edges,
    )  # fmt: skip
    return {
        "graph": graph.name,
        "directory": str(out),
        "files": {"nodes": str(nodes_path), "graph": str(graph_path), "relationships": str(rels_path)},
        "nodes": graph.num_nodes,
        "relationships": graph.num_edges,
        "multiline_fields": multiline,
        "command": command,
    }
