"""KGX TSV (``nodes.tsv`` + ``edges.tsv``), the Biolink exchange format of Monarch KG and RTX-KG2."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import ClassVar

from kgsynth.errors import SourceFormatError
from kgsynth.graph.model import CATEGORIES, GraphBuilder, SourceInfo
from kgsynth.loaders.base import Loader, open_text, reading

logger = logging.getLogger(__name__)

# Edge columns kgsynth reads as structure; every other non-empty column becomes a qualifier.
_EDGE_CORE = {"id", "subject", "predicate", "object", "negated", "primary_knowledge_source", "provided_by"}
_NODE_CORE = {"id", "category", "name", "synonym", "xref", "provided_by"}


def _split(value: str) -> list[str]:
    return [v for v in value.split("|") if v]


def _category(path: Path, lineno: int, value: str) -> str:
    """The node's category: the first of its ``|``-separated Biolink categories that kgsynth knows (KGX lists
    a node's ancestors' categories too), else the first one given."""
    given = _split(value)
    if not given or not all(c.startswith("biolink:") for c in given):
        raise SourceFormatError(
            path,
            lineno,
            "a Biolink category such as biolink:Disease",
            found=value,
            hint="KGX categories are Biolink CURIEs (https://biolink.github.io/biolink-model/)",
        )
    return next((c for c in given if c in CATEGORIES), given[0])


class KGXLoader(Loader):
    """Each edge's ``primary_knowledge_source`` (an infores id) becomes its source; its licence is that
    the KGX producer declares, given with ``--licence`` (default: unknown, to be checked)."""

    name = "kgx"
    title = "KGX TSV graph (user-supplied nodes.tsv/edges.tsv)"
    licence = "as the graph states"
    in_default = False
    files: ClassVar[dict[str, str]] = {"nodes": "nodes.tsv", "edges": "edges.tsv"}
    obtain = "Export your graph as KGX TSV (nodes.tsv and edges.tsv in one folder)."

    def __init__(self, directory: str | Path | None = None, *, licence: str = "unknown (check the source)") -> None:
        super().__init__(directory)
        self.edge_licence = licence

    def _rows(self, path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
        rows = []
        lineno = 1
        with open_text(path) as fh, reading(path, lambda: lineno):
            header_line = fh.readline().rstrip("\r\n")
            header = header_line.split("\t")
            missing = [c for c in required if c not in header]
            if missing:
                raise SourceFormatError(path, 1, f"a KGX header with columns {', '.join(required)}", found=header_line)
            for lineno, line in enumerate(fh, start=2):
                line = line.rstrip("\r\n")
                if not line:
                    continue
                fields = line.split("\t")
                if len(fields) != len(header):
                    raise SourceFormatError(
                        path, lineno, f"{len(header)} tab-separated fields as in the header", found=line
                    )
                rows.append((lineno, dict(zip(header, fields, strict=True))))
        if not rows:
            raise SourceFormatError(
                path,
                None,
                "at least one row after the header, but the file has none",
                hint="export the graph again: a KGX file with only its header holds nothing",
            )
        return rows

    def load(self, builder: GraphBuilder) -> None:
        builder.register_source(self.info())
        npath, epath = self.path("nodes"), self.path("edges")
        nodes = builder.stream("nodes.tsv nodes", self.name)
        first: dict[str, tuple[str, int]] = {}  # id -> (its category, the line that gave it)
        for lineno, row in self._rows(npath, ("id", "category")):
            nodes.read += 1
            category = _category(npath, lineno, row["category"])
            if ":" not in row["id"]:
                raise SourceFormatError(npath, lineno, "an id PREFIX:LOCAL", found=row["id"])
            seen = first.setdefault(row["id"], (category, lineno))
            if seen[0] != category:
                raise SourceFormatError(
                    npath,
                    lineno,
                    f"node {row['id']} to keep the category {seen[0]} it has on line {seen[1]}",
                    found=category,
                    hint="one id names one node: list it once, with one category (or fix the id)",
                )
            nodes.kept += 1
            builder.add_node(
                row["id"],
                category,
                row.get("name", ""),
                source=self.name,
                synonyms=_split(row.get("synonym", "")),
                xrefs=_split(row.get("xref", "")),
            )
        edges = builder.stream("edges.tsv edges", self.name)
        for lineno, row in self._rows(epath, ("subject", "predicate", "object")):
            edges.read += 1
            if not row["predicate"].startswith("biolink:"):
                raise SourceFormatError(epath, lineno, "a biolink: predicate", found=row["predicate"])
            source = row.get("primary_knowledge_source") or row.get("provided_by") or self.name
            if source != self.name:
                builder.register_source(SourceInfo(name=source, title=source, licence=self.edge_licence))
            qualifiers = {k: v for k, v in row.items() if k not in _EDGE_CORE and v}
            negated = row.get("negated", "").lower() in ("true", "1")
            builder.add_edge(
                row["subject"],
                row["predicate"],
                row["object"],
                source=source,
                stream=edges.stream,
                negated=negated,
                qualifiers={k: json.dumps(v) if not isinstance(v, str) else v for k, v in qualifiers.items()},
            )
