"""Shared fixtures: the mini release in tests/fixtures, and the real default KG from ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgsynth.graph.assemble import load_graph
from kgsynth.graph.model import Graph
from kgsynth.loaders import DEFAULT_SOURCES, available_loaders

# A real Neo4j server for the tests that need one (started once per session, stopped at the end).
pytest_plugins = ["tests.neo4j_server"]

FIXTURES = Path(__file__).parent / "fixtures"


def mini_directories(sources: tuple[str, ...] | list[str] = (*DEFAULT_SOURCES, "sider")) -> dict[str, Path]:
    """``--from`` directories pointing every source at its mini fixture release."""
    loaders = available_loaders()
    out = {}
    for name in sources:
        if name == "hpo":
            out[name] = FIXTURES / "hpo"
        else:
            out[name] = FIXTURES / "data" / "ontologies" / loaders[name].subdir
    return out


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kgsynth-cache")


@pytest.fixture(scope="session")
def mini_graph(cache_dir: Path) -> Graph:
    sources = [*DEFAULT_SOURCES, "sider"]
    return load_graph(sources, directories=mini_directories(sources), name="mini", cache_dir=cache_dir)


@pytest.fixture(scope="session")
def real_graph(cache_dir: Path) -> Graph:
    """The default KG ``med`` from the real releases (built once per session, ~6 s)."""
    return load_graph(cache_dir=cache_dir)
