"""The embedded store: a graph as numpy arrays plus a JSON string table in a local folder, no server."""

from __future__ import annotations

import json
import logging
import os
import shutil
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from kgsynth.errors import CorruptGraphError, KgsynthError, StorageError
from kgsynth.graph.model import Graph, graph_arrays, graph_fields, graph_from_parts, graph_to_json
from kgsynth.graph.store.partial import make_partial, remove_stale_partials, swap_in

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


def default_cache_dir() -> Path:
    env = os.environ.get("KGSYNTH_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kgsynth"


def save_graph(graph: Graph, directory: Path) -> None:
    """Write ``graph`` to ``directory`` atomically (a reader never sees a half-written graph).

    The graph is written to a partial folder beside ``directory`` and renamed into place; partial folders
    that killed writers left there are removed first (:mod:`kgsynth.graph.store.partial`). A folder that cannot
    be written (read-only, disk full, a file in the way) raises :class:`StorageError`, and whatever was
    stored in ``directory`` before is kept.
    """
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(directory.parent)
        tmp = make_partial(directory.parent)
    except OSError as exc:
        raise _storage_error(directory, exc) from None
    try:
        np.savez(tmp / "arrays.npz", **graph_arrays(graph))  # type: ignore[arg-type]
        meta = {"format": FORMAT_VERSION, **graph_to_json(graph)}
        with (tmp / "graph.json").open("w", encoding="utf-8") as fh:
            json.dump(meta, fh, ensure_ascii=False, separators=(",", ":"))
        swap_in(tmp, directory)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise _storage_error(directory, exc) from None
        raise


def _storage_error(directory: Path, exc: OSError) -> StorageError:
    return StorageError(
        directory,
        exc.strerror or str(exc),
        hint="free some space, or make the folder writable, or point kgsynth elsewhere with --cache-dir "
        "(or $KGSYNTH_CACHE_DIR)",
    )


def read_graph(directory: Path) -> Graph:
    """Read a graph written by :func:`save_graph`; a damaged or half-copied one raises
    :class:`CorruptGraphError` (the build cache rebuilds it, see :func:`kgsynth.graph.assemble.load_graph`)."""
    meta_path = directory / "graph.json"
    try:
        with meta_path.open(encoding="utf-8") as fh:
            meta: dict[str, Any] = json.load(fh)
        with np.load(directory / "arrays.npz") as npz:  # every array read now: a damaged member fails here
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise CorruptGraphError(
            directory,
            f"{type(exc).__name__}: {exc}",
            hint="run `kgsynth load` again to store it anew (a cached build is rebuilt by itself; --refresh forces it)",
        ) from None
    if meta.get("format") != FORMAT_VERSION:
        raise KgsynthError(
            f"{meta_path}: stored with format {meta.get('format')}, expected {FORMAT_VERSION}",
            hint="rebuild it with --refresh",
        )
    return graph_from_parts(meta, {k: arrays[k] for k in graph_fields("node_array", "edge_array")})


class EmbeddedStore:
    """The default backend: graphs under ``<root>/graphs/<name>/``, readable without any server."""

    name = "embedded"

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    def _dir(self, name: str) -> Path:
        return self.root / "graphs" / name

    def write(self, graph: Graph) -> dict[str, Any]:
        save_graph(graph, self._dir(graph.name))
        return {"nodes": graph.num_nodes, "edges": graph.num_edges, "path": str(self._dir(graph.name))}

    def exists(self, name: str) -> bool:
        return (self._dir(name) / "graph.json").exists()

    def read(self, name: str) -> Graph:
        if not self.exists(name):
            raise KgsynthError(
                f"no graph named {name!r} in {self.root}",
                hint=f"run `kgsynth load` first (it writes the default KG as {name!r})",
            )
        return read_graph(self._dir(name))
