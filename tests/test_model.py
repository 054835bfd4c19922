from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kgsynth.graph.assemble import build_graph as assemble_build
from kgsynth.graph.assemble import load_graph
from kgsynth.graph.model import Graph, GraphBuilder, SourceInfo
from kgsynth.graph.store.embedded import EmbeddedStore, read_graph, save_graph
from tests.conftest import mini_directories


def _builder() -> GraphBuilder:
    b = GraphBuilder()
    b.register_source(SourceInfo(name="a", title="A", licence="CC0"))
    b.register_source(SourceInfo(name="b", title="B", licence="CC BY-NC", commercial_use=False))
    b.stream("s", "a")
    b.stream("t", "b")
    return b


def test_one_to_one_mappings_join_and_many_to_one_do_not() -> None:
    b = _builder()
    for c in ("OMIM:1", "OMIM:2", "OMIM:3", "DOID:1", "DOID:2"):
        b.add_node(c, "biolink:Disease", c.lower(), source="a")
    b.add_equivalence("DOID:1", "MIM:1", source="a")  # one-to-one: joined
    b.add_equivalence("DOID:2", "MIM:2", source="a")  # DOID:2 maps to two OMIM ids: ambiguous
    b.add_equivalence("DOID:2", "MIM:3", source="a")
    g = b.build()
    assert "DOID:1" not in g.ids and "OMIM:1" in g.ids  # joined under the higher-priority id
    assert g.resolve("DOID:1") == g.resolve("OMIM:1")
    assert {"OMIM:2", "OMIM:3", "DOID:2"} <= set(g.ids)
    assert g.report["identity_join"]["mappings_ambiguous_skipped"] == 2


def test_join_refuses_two_ids_of_one_namespace_and_mixed_categories() -> None:
    b = _builder()
    b.add_node("OMIM:1", "biolink:Disease", "one", source="a")
    b.add_node("OMIM:2", "biolink:Disease", "two", source="a")
    b.add_node("HP:1", "biolink:PhenotypicFeature", "pheno", source="a")
    b.add_node("DOID:9", "biolink:Disease", "nine", source="a")
    b.add_equivalence("MONDO:1", "OMIM:1", source="m1")
    b.add_equivalence("MONDO:1", "ORPHA:5", source="m2")
    b.add_equivalence("ORPHA:5", "OMIM:2", source="m3")  # would put OMIM:1 and OMIM:2 together
    b.add_equivalence("DOID:9", "UMLS:C1", source="m4")
    b.add_equivalence("HP:1", "UMLS:C1", source="m5")  # would make a disease and a phenotype one node
    g = b.build()
    assert g.resolve("OMIM:1") != g.resolve("OMIM:2")
    assert g.resolve("DOID:9") != g.resolve("HP:1")
    assert g.report["identity_join"]["mappings_conflicting_skipped"] == 2


def test_negated_edges_live_in_their_own_relation_and_duplicates_are_accounted() -> None:
    b = _builder()
    b.add_node("D:1", "biolink:Disease", "d", source="a")
    b.add_node("P:1", "biolink:PhenotypicFeature", "p", source="a")
    for _ in range(3):
        b.stream("s", "a").read += 1
        b.add_edge("D:1", "biolink:has_phenotype", "P:1", source="a", stream="s", qualifiers={"frequency": "1/2"})
    b.stream("s", "a").read += 1
    b.add_edge("D:1", "biolink:has_phenotype", "P:9", source="a", stream="s")
    b.stream("t", "b").read += 1
    b.add_edge("D:1", "biolink:has_phenotype", "P:1", source="b", stream="t", negated=True)
    g = b.build()
    assert set(g.relations) == {"biolink:has_phenotype", "NOT biolink:has_phenotype"}
    edges = [e.model_dump() for e in g.iter_edges()]
    assert sum(not e["negated"] for e in edges) == 1 and sum(e["negated"] for e in edges) == 1
    assert next(e for e in edges if not e["negated"])["qualifiers"] == {"frequency": "1/2"}
    assert next(e for e in edges if e["negated"])["licence"] == "CC BY-NC"
    s = {r["stream"]: r for r in g.report["streams"]}["s"]
    assert s["read"] == s["kept"] + sum(s["dropped"].values()) == 4
    assert s["dropped"]["endpoint not a node (unknown or obsolete id)"] == 1
    assert g.non_commercial_sources() == ["b"]


def test_nodes_of_a_category_are_contiguous_and_edges_sorted(mini_graph: Graph) -> None:
    cats = mini_graph.category
    assert np.all(np.diff(cats.astype(int)) >= 0)
    keys = np.lexsort((mini_graph.dst, mini_graph.src, mini_graph.rel))
    assert np.array_equal(keys, np.arange(mini_graph.num_edges))


def _same(a: Graph, b: Graph) -> None:
    assert a.ids == b.ids and a.names == b.names and a.synonyms == b.synonyms and a.xrefs == b.xrefs
    assert a.relations == b.relations and a.qualifiers == b.qualifiers and a.sources == b.sources
    for k in ("category", "rare", "src", "dst", "rel", "edge_source", "qual", "node_source"):
        assert np.array_equal(getattr(a, k), getattr(b, k)), k


def test_build_is_deterministic_and_round_trips_through_the_store(tmp_path: Path, mini_graph: Graph) -> None:
    again = load_graph(
        list(mini_graph.report["sources_loaded"]),
        directories=mini_directories(mini_graph.report["sources_loaded"]),
        name="mini",
        cache_dir=tmp_path / "fresh",
    )
    _same(mini_graph, again)
    assert again.version == mini_graph.version
    save_graph(again, tmp_path / "g")
    _same(mini_graph, read_graph(tmp_path / "g"))
    store = EmbeddedStore(tmp_path / "store")
    assert not store.exists("mini")
    store.write(again)
    _same(mini_graph, store.read("mini"))


def test_cache_is_keyed_by_content(tmp_path: Path) -> None:
    import shutil

    src = tmp_path / "hpo"
    shutil.copytree(mini_directories(["hpo"])["hpo"], src)
    g1 = load_graph(["hpo"], directories={"hpo": src}, cache_dir=tmp_path / "c")
    g2 = load_graph(["hpo"], directories={"hpo": src}, cache_dir=tmp_path / "c")
    assert g1.version == g2.version
    with (src / "phenotype.hpoa").open("a") as fh:
        fh.write("OMIM:100009\tNew disease\t\tHP:0001250\tPMID:9\tPCS\t\t\t\t\tP\tHPO:x\n")
    g3 = load_graph(["hpo"], directories={"hpo": src}, cache_dir=tmp_path / "c")
    assert g3.version != g1.version and "OMIM:100009" in g3.ids


def test_cache_is_keyed_by_the_code_that_builds_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A graph cached by other loader code is not read as this code's: the key holds a digest of the loaders'
    and the graph package's modules, each loader's own module among them (a plugin's too)."""
    import inspect

    from kgsynth.graph import assemble
    from kgsynth.loaders.hpo import HPOLoader

    directories = {"hpo": mini_directories(["hpo"])["hpo"]}
    loaders = assemble.make_loaders(["hpo"], directories)
    files = assemble.code_files(loaders)
    for module in (HPOLoader, assemble.load_graph, GraphBuilder):
        assert Path(str(inspect.getsourcefile(module))).resolve() in files

    class PluginLoader(HPOLoader):  # a loader defined outside the package: its module counts too
        pass

    assert Path(__file__).resolve() in assemble.code_files([PluginLoader(directories["hpo"])])

    real = assemble.code_digest
    monkeypatch.setattr(assemble, "code_digest", lambda loaders: "the code of an older commit")
    old = load_graph(["hpo"], directories=directories, cache_dir=tmp_path / "c")
    built: list[str] = []
    monkeypatch.setattr(assemble, "code_digest", real)

    def build(*args: Any, **kwargs: Any) -> Graph:
        built.append(kwargs["name"])
        return assemble_build(*args, **kwargs)

    monkeypatch.setattr(assemble, "build_graph", build)
    new = load_graph(["hpo"], directories=directories, cache_dir=tmp_path / "c")
    assert new.version != old.version and built == ["hpo"]  # built again, not read from the older code's cache
    again = load_graph(["hpo"], directories=directories, cache_dir=tmp_path / "c")
    assert again.version == new.version and built == ["hpo"]  # this code's cache is read


def test_corrupt_store_is_a_clear_error(tmp_path: Path, mini_graph: Graph) -> None:
    from kgsynth.errors import KgsynthError

    save_graph(mini_graph, tmp_path / "g")
    (tmp_path / "g" / "graph.json").write_text("{not json")
    with pytest.raises(KgsynthError, match="cannot read the stored graph"):
        read_graph(tmp_path / "g")
