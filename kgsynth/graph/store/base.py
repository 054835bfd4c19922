"""The interface every graph backend implements (the embedded store, Neo4j)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from kgsynth.graph.model import Graph


@runtime_checkable
class GraphStore(Protocol):
    """A place a :class:`~kgsynth.graph.model.Graph` can be written to and read back from.

    ``read`` must return a graph equal to the one written (same ids, node order, edges, qualifiers,
    sources), so that sampling and proving, which run on the graph's CSR index, give the same items
    whichever backend holds it.
    """

    name: str

    def write(self, graph: Graph) -> dict[str, Any]:
        """Store ``graph``; return counts of what was written. Idempotent."""
        ...

    def read(self, name: str) -> Graph:
        """Read the graph called ``name`` back."""
        ...

    def exists(self, name: str) -> bool: ...
