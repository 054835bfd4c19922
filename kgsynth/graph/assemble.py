"""Assemble a graph from sources: run the loaders, join identities, cache the result by content hash."""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from kgsynth.errors import CorruptGraphError, KgsynthError, StorageError
from kgsynth.graph.damage import Damage, find_damage, refuse_damage
from kgsynth.graph.model import Graph, GraphBuilder
from kgsynth.graph.store.embedded import default_cache_dir, read_graph, save_graph
from kgsynth.loaders import DEFAULT_SOURCES, available_loaders, get_loader
from kgsynth.loaders.base import Loader, file_digest

logger = logging.getLogger(__name__)

# Bump when the graph a given set of files produces changes for a reason outside :func:`code_files` (a dependency's
# behaviour); a change to the loaders' or the graph package's code changes the cache key by itself.
BUILD_VERSION = "2"
DEFAULT_KG = "med"


def resolve_sources(sources: Sequence[str] | None = None, *, include_non_commercial: bool = False) -> list[str]:
    """The source names to load: the default KG's (plus opt-in ones if asked), or those given."""
    if sources:
        known = available_loaders()
        for s in sources:
            if s not in known:
                get_loader(s)  # raises, listing the known names
        return list(dict.fromkeys(sources))
    names = list(DEFAULT_SOURCES)
    if include_non_commercial:
        names += [n for n, cls in available_loaders().items() if cls.opt_in and n not in names]
    return names


def make_loaders(sources: Sequence[str], directories: dict[str, Path] | None = None) -> list[Loader]:
    directories = directories or {}
    unknown = set(directories) - set(sources)
    if unknown:
        raise KgsynthError(
            f"--from names sources that are not being loaded: {', '.join(sorted(unknown))}",
            hint=f"sources being loaded: {', '.join(sources)}",
        )
    return [get_loader(s)(directories.get(s)) for s in sources]


def code_files(loaders: Sequence[Loader]) -> list[Path]:
    """The modules whose code builds a graph: the loaders package, the graph package's own modules (the model,
    identity joining, damage checks, this one) and the module of each loader's class (one from a plugin too)."""
    here = Path(__file__).resolve()
    files = {*(here.parents[1] / "loaders").glob("*.py"), *here.parent.glob("*.py")}
    for loader in loaders:
        source = inspect.getsourcefile(type(loader))
        if source is not None:
            files.add(Path(source).resolve())
    return sorted(files)


def code_digest(loaders: Sequence[Loader]) -> str:
    """A hash of the code of :func:`code_files` (file names and contents)."""
    h = hashlib.blake2b(digest_size=16)
    for path in code_files(loaders):
        h.update(path.name.encode() + b"\0" + file_digest(path).encode())
    return h.hexdigest()


def content_key(loaders: Sequence[Loader]) -> str:
    """A hash of what determines the graph: the loaders, their files' contents, the build version and the code
    that builds it (:func:`code_digest`), so that a graph cached by older loader code is never read as this
    code's (before, only a hand-bumped ``BUILD_VERSION`` said so)."""
    parts: list[object] = [BUILD_VERSION, code_digest(loaders)]
    for loader in loaders:
        parts.append([loader.name, [(p.name, file_digest(p)) for p in loader.input_paths()]])
    return hashlib.blake2b(json.dumps(parts).encode(), digest_size=8).hexdigest()


def build_graph(loaders: Sequence[Loader], *, name: str, version: str = "", progress: bool = False) -> Graph:
    """Run ``loaders`` in order into one builder and freeze the result.

    Raises :class:`~kgsynth.errors.DamagedSourceError` when what the sources yield is clearly broken
    (:mod:`kgsynth.graph.damage`); the warnings found are kept in ``graph.report["warnings"]``.
    """
    builder = GraphBuilder()
    timings: dict[str, float] = {}
    if progress:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(), transient=True) as bar:
            task = bar.add_task("loading", total=len(loaders) + 1)
            for loader in loaders:
                bar.update(task, description=f"loading {loader.name}")
                t0 = time.perf_counter()
                loader.load(builder)
                timings[loader.name] = round(time.perf_counter() - t0, 2)
                bar.advance(task)
            bar.update(task, description="joining identities and indexing")
            graph = builder.build(name=name, version=version)
            bar.advance(task)
    else:
        for loader in loaders:
            t0 = time.perf_counter()
            loader.load(builder)
            timings[loader.name] = round(time.perf_counter() - t0, 2)
        graph = builder.build(name=name, version=version)
    graph.report["sources_loaded"] = [loader.name for loader in loaders]
    graph.report["load_seconds"] = timings
    damage = find_damage(graph)
    refuse_damage(graph, damage, strict=False)  # errors only: warnings are told (or refused) on every load
    graph.report["warnings"] = damage.warnings
    return graph


def load_graph(
    sources: Sequence[str] | None = None,
    *,
    directories: dict[str, Path] | None = None,
    include_non_commercial: bool = False,
    name: str | None = None,
    cache_dir: Path | None = None,
    refresh: bool = False,
    progress: bool = False,
    strict: bool = False,
) -> Graph:
    """Load a graph, from the content-keyed cache when its sources are unchanged.

    With no ``sources``, this is the default KG ``med`` (every openly licensed source; SIDER only with
    ``include_non_commercial``). Damage in what the sources yield (:mod:`kgsynth.graph.damage`) is an error;
    the warnings are logged on every load, or refused with ``strict``. A cached graph that cannot be read
    is rebuilt, and a cache folder that cannot be written is skipped, both with a warning: the cache only
    saves time, and the sources are there to rebuild from.
    """
    names = resolve_sources(sources, include_non_commercial=include_non_commercial)
    loaders = make_loaders(names, directories)
    key = content_key(loaders)
    graph_name = name or (DEFAULT_KG if not sources else "+".join(names))
    cache = (cache_dir or default_cache_dir()) / "builds" / f"{graph_name}-{key}"
    graph = None if refresh else _read_cached(cache)
    if graph is None:
        logger.info("building %s from %d sources", graph_name, len(loaders))
        graph = build_graph(loaders, name=graph_name, version=key, progress=progress)
        try:
            save_graph(graph, cache)
        except StorageError as exc:
            logger.warning("the built graph is not cached (%s); it will be built again next time", exc)
    refuse_damage(graph, Damage(warnings=list(graph.report.get("warnings", []))), strict=strict)
    return graph


def _read_cached(cache: Path) -> Graph | None:
    """The graph cached in ``cache``, or ``None`` if there is none or it cannot be read (then rebuilt)."""
    if not (cache / "graph.json").exists():
        return None
    logger.info("loading from cache %s", cache)
    try:
        return read_graph(cache)
    except CorruptGraphError as exc:
        logger.warning("%s; rebuilding it from the sources", exc.message)
        return None
