"""Graph backends, by name; heavy ones are imported only when asked for."""

from __future__ import annotations

import importlib
from typing import Any

from kgsynth.errors import UnknownNameError
from kgsynth.graph.store.base import GraphStore

BACKENDS: dict[str, str] = {
    "embedded": "kgsynth.graph.store.embedded:EmbeddedStore",
    "neo4j": "kgsynth.graph.store.neo4j:Neo4jStore",
}


def get_store(name: str, **options: Any) -> GraphStore:
    """Create the backend called ``name`` (``embedded`` or ``neo4j``)."""
    if name not in BACKENDS:
        raise UnknownNameError("backend", name, list(BACKENDS))
    module, _, attr = BACKENDS[name].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    factory = getattr(cls, "from_env", cls)
    store: GraphStore = factory(**options)
    return store
