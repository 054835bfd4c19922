"""Parity: ``generate`` on the graph read back from Neo4j gives exactly the items the embedded store
gives, for the default KG and the same seed."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from kgsynth.graph.model import Graph
from kgsynth.graph.store.neo4j import Neo4jStore
from kgsynth.questions.question import GenerateConfig
from kgsynth.run.generate import generate
from kgsynth.run.journal import read_run_items
from tests.neo4j_server import Neo4jServer
from tests.test_neo4j_store import assert_same_graph


@pytest.mark.neo4j
@pytest.mark.slow
def test_200_items_through_neo4j_equal_the_embedded_ones(
    real_graph: Graph, neo4j_env: Neo4jServer, graph_name: str, tmp_path: Path
) -> None:
    # Under a name of its own, so that a user's "med" in a NEO4J_URI database is never touched.
    graph = copy.copy(real_graph)
    graph.name = graph_name
    with Neo4jStore.from_env() as store:
        store.write(graph)
        back = store.read(graph_name)
    assert_same_graph(back, graph)

    config = GenerateConfig(n=200, hops=3, seed=11)
    embedded = generate(graph, config, tmp_path / "embedded", compare_uniform=False)
    neo4j = generate(back, config, tmp_path / "neo4j", compare_uniform=False)
    items = read_run_items(tmp_path / "embedded")
    assert len(items) == 200
    assert [i.model_dump() for i in read_run_items(tmp_path / "neo4j")] == [i.model_dump() for i in items]
    assert neo4j == embedded
    for shard in sorted((tmp_path / "embedded" / "jsonl").iterdir()):
        assert (tmp_path / "neo4j" / "jsonl" / shard.name).read_bytes() == shard.read_bytes()
