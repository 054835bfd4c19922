"""One way to open a graph: from its description (sources and releases, a stored name, or a Neo4j store).

Every command that works on a graph (``load``, ``stats``, ``export-graph``, ``generate``) describes it
with a :class:`GraphSpec` and opens it with :func:`open_graph`; ``load`` builds it with
:func:`build_graph_from_sources` and stores it with :func:`store_graph`, in the place where
:func:`open_graph` finds it again by name, for either backend.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kgsynth.errors import KgsynthError
from kgsynth.graph.assemble import DEFAULT_KG
from kgsynth.graph.model import Graph
from kgsynth.graph.store.base import GraphStore
from kgsynth.graph.store.neo4j.connection import DEFAULT_BATCH_SIZE, DEFAULT_WORKERS

logger = logging.getLogger(__name__)


class Neo4jConfig(BaseModel):
    """How to reach a Neo4j server (the password comes from ``$NEO4J_PASSWORD`` only, never from a file)."""

    model_config = ConfigDict(extra="forbid")

    uri: str | None = Field(default=None, description="Bolt URI; None means $NEO4J_URI")
    user: str | None = Field(default=None, description="None means $NEO4J_USER")
    database: str | None = Field(default=None, description="None means $NEO4J_DATABASE")
    batch_size: int = Field(default=DEFAULT_BATCH_SIZE, ge=1, description="rows per UNWIND transaction")
    workers: int = Field(default=DEFAULT_WORKERS, ge=1, description="parallel write lanes")


class GraphSpec(BaseModel):
    """The description of a graph: the sources (and releases) it is built from, or the name it is stored under.

    * ``sources``/``from``/``include_non_commercial`` given: the graph built from those files (from the
      content-keyed build cache when they are unchanged), called ``name`` if given.
    * only ``name``: the graph ``kgsynth load`` stored under that name, in ``backend``.
    * nothing: the default KG ``med``, built from the default sources (embedded), or the graph stored
      as ``med`` (neo4j).

    >>> GraphSpec(sources=["kgx"], **{"from": {"kgx": "/data/kgx"}}).builds_from_sources()
    True
    >>> GraphSpec(name="kgx").builds_from_sources()
    False
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    sources: list[str] = Field(default_factory=list, description="source names; empty means the default KG")
    from_: dict[str, Path] = Field(default_factory=dict, alias="from", description="SOURCE -> folder of its files")
    include_non_commercial: bool = Field(default=False, description="add opt-in non-commercial sources (SIDER)")
    name: str | None = Field(default=None, description="the stored graph to open, or the name of one built")
    backend: Literal["embedded", "neo4j"] = Field(default="embedded", description="where graphs are stored")
    cache_dir: Path | None = Field(default=None, description="build cache and embedded store; None: ~/.cache/kgsynth")
    refresh: bool = Field(default=False, description="rebuild from the sources even if the cache is current")
    strict: bool = Field(default=False, description="refuse a graph whose load gave warnings (dropped edges, ...)")
    neo4j: Neo4jConfig = Field(default_factory=Neo4jConfig)

    @model_validator(mode="before")
    @classmethod
    def _neo4j_uri_names_the_backend(cls, data: Any) -> Any:
        """A Neo4j URI with no backend named means the Neo4j backend (rather than being silently unused)."""
        if isinstance(data, dict) and data.get("backend") is None and (data.get("neo4j") or {}).get("uri"):
            return {**data, "backend": "neo4j"}
        return data

    @model_validator(mode="after")
    def _no_neo4j_options_for_the_embedded_store(self) -> GraphSpec:
        if self.backend == "embedded" and (self.neo4j.uri or self.neo4j.user or self.neo4j.database):
            raise ValueError("Neo4j connection options (uri, user, database) given with the embedded backend")
        return self

    def builds_from_sources(self) -> bool:
        """Whether this describes a graph built from source files (rather than one read from a store)."""
        if self.sources or self.from_ or self.include_non_commercial:
            return True
        return self.name is None and self.backend == "embedded"


def open_store(spec: GraphSpec, **options: Any) -> GraphStore:
    """The store ``spec.backend`` names, configured from ``spec`` (``options`` go to the Neo4j store)."""
    from kgsynth.graph.store import get_store

    if spec.backend == "neo4j":
        n = spec.neo4j
        return get_store("neo4j", uri=n.uri, user=n.user, database=n.database, batch_size=n.batch_size,
                         workers=n.workers, **options)  # fmt: skip
    return get_store("embedded", root=spec.cache_dir)


def build_graph_from_sources(spec: GraphSpec, *, progress: bool = False) -> Graph:
    """The graph built from ``spec``'s sources (the default KG if none), from the build cache when current."""
    from kgsynth.graph.assemble import load_graph

    return load_graph(
        spec.sources or None,
        directories=dict(spec.from_),
        include_non_commercial=spec.include_non_commercial,
        name=spec.name,
        cache_dir=spec.cache_dir,
        refresh=spec.refresh,
        progress=progress,
        strict=spec.strict,
    )


def open_graph(spec: GraphSpec, *, progress: bool = False) -> Graph:
    """Open the graph ``spec`` describes: built from its sources, or read from the store that holds it.

    >>> graph = open_graph(GraphSpec(sources=["kgx"], **{"from": {"kgx": "tests/fixtures/kgx"}}))  # doctest: +SKIP
    >>> graph = open_graph(GraphSpec(name="kgx"))  # what `kgsynth load kgx ...` stored  # doctest: +SKIP
    """
    if spec.builds_from_sources():
        if spec.backend != "embedded":
            raise KgsynthError(
                f"sources describe a graph built from files, but --backend {spec.backend} reads a stored one",
                hint=f"drop the sources and give --graph NAME (stored by `kgsynth load ... --backend {spec.backend}`)",
            )
        return build_graph_from_sources(spec, progress=progress)
    name = spec.name or DEFAULT_KG
    store = open_store(spec)
    try:
        graph = store.read(name)
    finally:
        close = getattr(store, "close", None)
        if close is not None:
            close()
    logger.info("opened stored graph %s from the %s store", name, spec.backend)
    return graph


def store_graph(graph: Graph, spec: GraphSpec, **options: Any) -> dict[str, Any]:
    """Store ``graph`` in ``spec.backend`` under its name, where :func:`open_graph` finds it; return what was
    written."""
    store = open_store(spec, **options)
    try:
        return store.write(graph)
    finally:
        close = getattr(store, "close", None)
        if close is not None:
            close()
