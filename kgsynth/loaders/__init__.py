"""Source loaders, found through the ``kgsynth.sources`` entry-point group (built-ins included)."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from kgsynth.errors import UnknownNameError
from kgsynth.loaders.base import Loader

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "kgsynth.sources"

# The default KG's sources, in load order (layperson synonyms enrich HPO terms, so they follow hpo).
DEFAULT_SOURCES: tuple[str, ...] = (
    "hpo",
    "hpo_layperson",
    "doid",
    "mondo",
    "pharmacotherapydb",
    "drugcentral",
    "hsdn",
    "mesh",
)


def available_loaders() -> dict[str, type[Loader]]:
    """Every registered source loader, by name."""
    found: dict[str, type[Loader]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Loader)):
            logger.warning("entry point %s does not name a Loader subclass; ignored", ep.value)
            continue
        found[ep.name] = cls
    return dict(sorted(found.items()))


def get_loader(name: str) -> type[Loader]:
    loaders = available_loaders()
    if name not in loaders:
        raise UnknownNameError("source", name, list(loaders))
    return loaders[name]
