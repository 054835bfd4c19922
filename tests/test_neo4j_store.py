"""The Neo4j backend against a real server (tests/neo4j_server.py starts one): round trip, idempotency,
hostile strings, resume after a killed load, lost connections, and errors that name the URI."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kgsynth.errors import KgsynthError
from kgsynth.graph.model import Graph, GraphBuilder, SourceInfo
from kgsynth.graph.store.base import GraphStore
from kgsynth.graph.store.neo4j import (
    USER_AGENT,
    Neo4jAuthError,
    Neo4jStore,
    Neo4jUnavailableError,
    node_label,
    redact_uri,
    relationship_type,
    relationship_types,
)
from tests.neo4j_server import Neo4jServer

ROOT = Path(__file__).resolve().parents[1]

HOSTILE = [
    'O\'Brien "syndrome"',
    "back`tick`) DETACH DELETE n //",
    "{braces: 1} $param",
    "MATCH (n) DETACH DELETE n",
    "'}) RETURN 1 UNION MATCH (x) DETACH DELETE x //",
    "\\u0027 \\' \\\" ; CALL dbms.killConnections([])",
    "emoji ☃ and newline\nand tab\t",
]


def make_graph(name: str, *, extra_edges: int = 0, hostile: bool = True) -> Graph:
    """A small graph with every feature the store must keep: categories, negation, qualifiers,
    several sources, synonyms, layperson terms, xrefs, rare flags; ``extra_edges`` more for bulk."""
    b = GraphBuilder()
    b.register_source(SourceInfo(name="hpo", title="HPO annotations", licence="HPO", url="https://hpo"))
    b.register_source(SourceInfo(name="sider", title="SIDER", licence="CC-BY-NC-SA-4.0", commercial_use=False))
    b.stream("hpo.tsv", "hpo")
    b.stream("sider.tsv", "sider")
    b.add_node(
        "MONDO:1",
        "biolink:Disease",
        HOSTILE[0] if hostile else "disease one",
        source="hpo",
        synonyms=HOSTILE[1:] if hostile else ["d1"],
        layperson=["a plain name"],
        xrefs=["OMIM:100", "ORPHA:5"],
        rare=True,
    )
    b.add_node("MONDO:2", "biolink:Disease", "Disease two", source="hpo")
    b.add_node("HP:1", "biolink:PhenotypicFeature", "Fever", source="hpo", layperson=["high temperature"])
    b.add_node("HP:2", "biolink:PhenotypicFeature", "Cough", source="hpo")
    b.add_node("DRUGBANK:1", "biolink:Drug", "Aspirin", source="sider")
    b.add_edge(
        "MONDO:1", "biolink:has_phenotype", "HP:1", source="hpo", stream="hpo.tsv",
        qualifiers={"frequency": "HP:0040281", "onset": "HP:0003577"},
    )  # fmt: skip
    b.add_edge("MONDO:1", "biolink:has_phenotype", "HP:2", source="hpo", stream="hpo.tsv", negated=True)
    b.add_edge("MONDO:2", "biolink:has_phenotype", "HP:2", source="hpo", stream="hpo.tsv")
    b.add_edge("MONDO:2", "biolink:has_phenotype", "HP:2", source="sider", stream="sider.tsv")
    b.add_edge("DRUGBANK:1", "biolink:treats", "MONDO:1", source="sider", stream="sider.tsv")
    b.add_edge("DRUGBANK:1", "biolink:treats", "MONDO:2", source="sider", stream="sider.tsv", negated=True)
    b.add_edge("DRUGBANK:1", "biolink:has_adverse_event", "HP:1", source="sider", stream="sider.tsv")
    if extra_edges:
        n = max(10, int(extra_edges**0.5))
        for i in range(n):
            b.add_node(f"HP:{1000 + i}", "biolink:PhenotypicFeature", f"phenotype {i}", source="hpo")
            b.add_node(f"MONDO:{1000 + i}", "biolink:Disease", f"disease {i}", source="hpo")
        rng = np.random.default_rng(7)
        for _ in range(extra_edges):
            s, o = rng.integers(n, size=2)
            q = {"frequency": f"HP:004028{int(o) % 5}"} if int(s) % 3 == 0 else None
            b.add_edge(
                f"MONDO:{1000 + s}", "biolink:has_phenotype", f"HP:{1000 + o}",
                source="hpo", stream="hpo.tsv", qualifiers=q,
            )  # fmt: skip
    return b.build(name=name, version=f"{name}-v1")


def assert_same_graph(a: Graph, b: Graph) -> None:
    for key in ("name", "version", "ids", "categories", "names", "synonyms", "layperson", "xrefs"):
        assert getattr(a, key) == getattr(b, key), key
    for key in ("relations", "qualifiers", "report"):
        assert getattr(a, key) == getattr(b, key), key
    assert [s.model_dump() for s in a.sources] == [s.model_dump() for s in b.sources]
    for key in ("category", "node_source", "rare", "src", "dst", "rel", "edge_source", "qual"):
        x, y = getattr(a, key), getattr(b, key)
        assert x.dtype == y.dtype, key
        assert np.array_equal(x, y), key


def counts(store: Neo4jStore, name: str) -> tuple[int, int]:
    with store.driver.session(database=store.database) as session:
        nodes = session.run("MATCH (n:KgNode {graph: $g}) RETURN count(n)", g=name).single()
        rels = session.run("MATCH (n:KgNode {graph: $g})-[r]->() RETURN count(r)", g=name).single()
    assert nodes is not None and rels is not None
    return int(nodes[0]), int(rels[0])


# --- no server needed --------------------------------------------------------------------------------
def test_names_are_cypher_safe() -> None:
    assert node_label("biolink:Disease") == "Disease"
    assert node_label("biolink:Dis`ease) DELETE") == "Dis_ease__DELETE"
    assert node_label("biolink:KgNode") == "BiolinkKgNode"
    assert relationship_type("biolink:has_phenotype") == "HAS_PHENOTYPE"
    assert relationship_type("NOT biolink:treats") == "NOT_TREATS"
    assert relationship_type("biolink:subClassOf") == "SUB_CLASS_OF"
    assert relationship_type("x:`]->() DELETE") == "DELETE"
    types = relationship_types(("a:has_phenotype", "b:has-phenotype", "c:treats"))
    assert types == {"a:has_phenotype": "HAS_PHENOTYPE", "b:has-phenotype": "HAS_PHENOTYPE_2", "c:treats": "TREATS"}


def test_uri_credentials_are_redacted() -> None:
    assert redact_uri("bolt://neo4j:secret@db.example:7687") == "bolt://db.example:7687"
    assert redact_uri("neo4j+s://abc.databases.neo4j.io") == "neo4j+s://abc.databases.neo4j.io"


def test_unreachable_server_is_a_clear_error() -> None:
    store = Neo4jStore("bolt://127.0.0.1:9", "neo4j", "pw-Should-Not-Leak", connection_timeout=3)
    with pytest.raises(Neo4jUnavailableError) as info:
        store.exists("anything")
    text = str(info.value)
    assert "bolt://127.0.0.1:9" in text
    assert "pw-Should-Not-Leak" not in text and "pw-Should-Not-Leak" not in repr(store)
    assert isinstance(info.value, KgsynthError)


def test_missing_password_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:7687")
    monkeypatch.delenv("NEO4J_PASSWORD", raising=False)
    with pytest.raises(KgsynthError, match="NEO4J_PASSWORD is not set"):
        Neo4jStore.from_env()


# --- against the server --------------------------------------------------------------------------------


@pytest.mark.neo4j
def test_round_trip_is_exact(neo4j_env: Neo4jServer, graph_name: str) -> None:
    graph = make_graph(graph_name)
    with Neo4jStore.from_env(batch_size=2) as store:
        assert isinstance(store, GraphStore)
        assert not store.exists(graph_name)
        result = store.write(graph)
        assert (result["nodes_written"], result["edges_written"]) == (graph.num_nodes, graph.num_edges)
        assert store.exists(graph_name)
        assert_same_graph(store.read(graph_name), graph)
        assert counts(store, graph_name) == (graph.num_nodes, graph.num_edges)


@pytest.mark.neo4j
def test_layout_labels_types_and_properties(neo4j_env: Neo4jServer, graph_name: str) -> None:
    graph = make_graph(graph_name)
    with Neo4jStore.from_env() as store:
        store.write(graph)
        with store.driver.session() as session:
            node = session.run("MATCH (n:KgNode:Disease {graph: $g, id: 'MONDO:1'}) RETURN n", g=graph_name).single()
            assert node is not None
            props = dict(node["n"])
            assert props["name"] == HOSTILE[0]
            assert props["synonyms"] == HOSTILE[1:]
            assert props["xrefs"] == ["OMIM:100", "ORPHA:5"]
            assert (props["source"], props["licence"], props["rare"]) == ("hpo", "HPO", True)
            rel = session.run(
                "MATCH (:KgNode {graph: $g, id: 'MONDO:1'})-[r:HAS_PHENOTYPE]->(p {id: 'HP:1'}) RETURN r",
                g=graph_name,
            ).single()
            assert rel is not None
            assert dict(rel["r"]) == {
                "source": "hpo",
                "licence": "HPO",
                "qualifiers": '{"frequency":"HP:0040281","onset":"HP:0003577"}',
            }
            negated = session.run(
                "MATCH (:KgNode {graph: $g})-[r:NOT_TREATS]->(d) RETURN d.id AS d, r.negated AS neg",
                g=graph_name,
            ).data()
            assert negated == [{"d": "MONDO:2", "neg": True}]
            treats = session.run(
                "MATCH (:KgNode {graph: $g})-[:TREATS]->(d) RETURN collect(d.id) AS ds", g=graph_name
            ).single()
            assert treats is not None and treats["ds"] == ["MONDO:1"]


@pytest.mark.neo4j
def test_second_load_adds_nothing(neo4j_env: Neo4jServer, graph_name: str) -> None:
    graph = make_graph(graph_name, extra_edges=300)
    with Neo4jStore.from_env(batch_size=50) as store:
        store.write(graph)
        before = counts(store, graph_name)
        again = store.write(graph)
        assert again["unchanged"] and again["nodes_written"] == again["edges_written"] == 0
        assert counts(store, graph_name) == before == (graph.num_nodes, graph.num_edges)


@pytest.mark.neo4j
def test_changed_graph_replaces_the_old_one(neo4j_env: Neo4jServer, graph_name: str) -> None:
    with Neo4jStore.from_env() as store:
        store.write(make_graph(graph_name, hostile=False))
        bigger = make_graph(graph_name, extra_edges=100, hostile=False)
        result = store.write(bigger)
        assert result["replaced"]
        assert counts(store, graph_name) == (bigger.num_nodes, bigger.num_edges)
        assert_same_graph(store.read(graph_name), bigger)


@pytest.mark.neo4j
def test_hostile_strings_are_parameters_not_cypher(neo4j_env: Neo4jServer, graph_name: str) -> None:
    other = f"{graph_name}-bystander"
    with Neo4jStore.from_env() as store:
        store.write(make_graph(other, hostile=False))
        store.write(make_graph(graph_name))
        back = store.read(graph_name)
        assert back.names[back.index["MONDO:1"]] == HOSTILE[0]
        assert back.synonyms[back.index["MONDO:1"]] == HOSTILE[1:]
        # nothing in the strings ran: the other graph is whole
        assert store.exists(other)
        assert counts(store, other) == (5, 7)
        store.delete(other)


@pytest.mark.neo4j
def test_a_graph_never_written_is_a_clear_error(neo4j_env: Neo4jServer, graph_name: str) -> None:
    with Neo4jStore.from_env() as store, pytest.raises(KgsynthError, match=f"no graph '{graph_name}'"):
        store.read(graph_name)


_CHILD = """
import sys
from kgsynth.graph.store.neo4j import Neo4jStore
from tests.test_neo4j_store import make_graph
graph = make_graph(sys.argv[1], extra_edges=int(sys.argv[2]))
Neo4jStore.from_env(batch_size=100).write(graph)
"""


@pytest.mark.neo4j
def test_resume_after_a_killed_load(neo4j_server: Neo4jServer, graph_name: str) -> None:
    extra = 6000
    child = subprocess.Popen([sys.executable, "-c", _CHILD, graph_name, str(extra)], cwd=ROOT, env=neo4j_server.env())
    killed_at: dict[str, Any] = {}
    try:
        with Neo4jStore.from_env() as store:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and child.poll() is None:
                done = store.progress(graph_name)
                if done["edges"] > 0:
                    child.send_signal(signal.SIGKILL)
                    killed_at = done
                    break
                time.sleep(0.02)
    finally:
        child.wait(timeout=60)
    assert killed_at, "the load finished before it could be killed"
    graph = make_graph(graph_name, extra_edges=extra)
    with Neo4jStore.from_env(batch_size=100) as store:
        assert not store.exists(graph_name)
        with pytest.raises(KgsynthError, match="incomplete"):
            store.read(graph_name)
        result = store.write(graph)
        assert result["resumed"]
        assert result["edges_written"] < graph.num_edges
        assert counts(store, graph_name) == (graph.num_nodes, graph.num_edges)
        assert_same_graph(store.read(graph_name), graph)


@pytest.mark.neo4j
def test_a_batch_retried_after_its_commit_adds_nothing(neo4j_env: Neo4jServer, graph_name: str) -> None:
    """The case the driver cannot tell apart: the commit reached the server, its acknowledgement did not,
    and the transaction function runs again. The progress guard makes the second run a no-op."""
    graph = make_graph(graph_name, extra_edges=500)

    class Crash(Exception):
        pass

    def crash_after_first_edge_batch(stage: str, done: int, total: int) -> None:
        if stage == "edges":
            raise Crash

    with Neo4jStore.from_env(batch_size=100, on_progress=crash_after_first_edge_batch) as store:
        with pytest.raises(Crash):
            store.write(graph)
        first = counts(store, graph_name)
        store.on_progress = None
        # Replay every batch from its lane's start, as retries of committed transactions would.
        assert 0 < first[1] < graph.num_edges
        assert store._write_stage(graph, "nodes", replay=True) == 0
        assert counts(store, graph_name) == first
        # the committed edge batches are no-ops; the rest are written once
        assert store._write_stage(graph, "edges", replay=True) == graph.num_edges - first[1]
        assert counts(store, graph_name) == (graph.num_nodes, graph.num_edges)
        store.write(graph)
        assert counts(store, graph_name) == (graph.num_nodes, graph.num_edges)
        assert_same_graph(store.read(graph_name), graph)


@pytest.mark.neo4j
def test_connections_killed_mid_load_are_retried(neo4j_env: Neo4jServer, graph_name: str) -> None:
    """A thread kills the store's connections every 50 ms while edges load, on a machine kept busy by a
    CPU-burning process per core (the state a fresh clone's `make test` met: a killed connection then left
    ``Neo.ClientError.Request.Invalid`` behind): transactions die while running, while committing, and between
    batches; the load still ends with every edge exactly once."""
    import neo4j

    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        _load_while_killing_connections(neo4j_env, graph_name, neo4j)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def _load_while_killing_connections(neo4j_env: Neo4jServer, graph_name: str, neo4j: Any) -> None:
    import threading

    graph = make_graph(graph_name, extra_edges=6000)
    killer = neo4j.GraphDatabase.driver(neo4j_env.uri, auth=(neo4j_env.user, neo4j_env.password))
    kills: list[int] = []
    loading = threading.Event()
    finished = threading.Event()

    def kill_connections() -> None:
        loading.wait(timeout=60)
        while not finished.is_set() and len(kills) < 40:
            records = killer.execute_query(
                "CALL dbms.listConnections() YIELD connectionId, userAgent "
                "WHERE userAgent STARTS WITH $agent "
                "WITH collect(connectionId) AS ids CALL dbms.killConnections(ids) YIELD connectionId "
                "RETURN count(*) AS n",
                agent=USER_AGENT,
            ).records
            kills.append(int(records[0]["n"]))
            time.sleep(0.05)

    def on_progress(stage: str, done: int, total: int) -> None:
        if stage == "edges":
            loading.set()
            time.sleep(0.02)  # a load long enough for the killer to hit it many times

    thread = threading.Thread(target=kill_connections)
    thread.start()
    try:
        with Neo4jStore.from_env(batch_size=100, on_progress=on_progress) as store:
            store.write(graph)
            finished.set()
            thread.join()
            store.on_progress = None
            assert sum(1 for k in kills if k > 0) >= 5, kills
            assert counts(store, graph_name) == (graph.num_nodes, graph.num_edges)
            assert_same_graph(store.read(graph_name), graph)
    finally:
        finished.set()
        thread.join()
        killer.close()


def test_what_is_retried_is_what_a_killed_connection_or_a_transient_error_leaves() -> None:
    """The driver's own error objects, as it builds them from a server's answer: the ones a killed connection
    leaves (Request.Invalid after a killed session, a terminated transaction, an unknown commit outcome) and the
    transient ones are retried; a wrong query or wrong credentials are not."""
    from neo4j import exceptions as neo

    from kgsynth.graph.store.neo4j.connection import is_retryable

    def server(code: str) -> Exception:
        return neo.Neo4jError._hydrate_neo4j(code=code, message="from the server")

    retried = [
        server("Neo.ClientError.Request.Invalid"),  # "cannot be handled by a session in the READY state"
        server("Neo.ClientError.Transaction.Terminated"),
        server("Neo.ClientError.Transaction.TransactionNotFound"),
        server("Neo.TransientError.Transaction.DeadlockDetected"),
        neo.IncompleteCommit("the connection died during the commit"),
        neo.ServiceUnavailable("gone"),
        neo.SessionExpired("expired"),
        ConnectionResetError("reset by peer"),
    ]
    refused = [
        server("Neo.ClientError.Statement.SyntaxError"),
        server("Neo.ClientError.Schema.ConstraintValidationFailed"),
        server("Neo.ClientError.Security.Unauthorized"),
        neo.ConfigurationError("bad URI"),
        ValueError("a bug"),
    ]
    assert [type(e).__name__ for e in retried if not is_retryable(e)] == []
    assert [type(e).__name__ for e in refused if is_retryable(e)] == []


@pytest.mark.neo4j
def test_server_restart_mid_load_is_survived(neo4j_env: Neo4jServer, graph_name: str) -> None:
    if not neo4j_env.own:
        pytest.skip("restarts only the project's own server, never a NEO4J_URI one")  # not in CI: CI uses own
    graph = make_graph(graph_name, extra_edges=2000)
    restarted: list[bool] = []

    def restart_once(stage: str, done: int, total: int) -> None:
        if stage == "edges" and not restarted:
            restarted.append(True)
            subprocess.run([str(ROOT / "scripts" / "neo4j.sh"), "stop"], check=True, capture_output=True)
            subprocess.Popen(
                [str(ROOT / "scripts" / "neo4j.sh"), "start"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    with Neo4jStore.from_env(batch_size=200, max_retry_time=180, on_progress=restart_once) as store:
        store.write(graph)
        store.on_progress = None
        assert restarted
        assert counts(store, graph_name) == (graph.num_nodes, graph.num_edges)
        assert_same_graph(store.read(graph_name), graph)
    subprocess.run([str(ROOT / "scripts" / "neo4j.sh"), "start"], check=True, capture_output=True)


@pytest.mark.neo4j
def test_wrong_password_is_a_clear_error(neo4j_server: Neo4jServer) -> None:
    bad = "Wrong-Password-9f1c"
    store = Neo4jStore(neo4j_server.uri, neo4j_server.user, bad)
    with pytest.raises(Neo4jAuthError) as info:
        store.exists("anything")
    text = str(info.value)
    assert neo4j_server.uri in text and "NEO4J_PASSWORD" in text
    assert bad not in text and neo4j_server.password not in text


@pytest.mark.neo4j
def test_password_is_never_logged(neo4j_env: Neo4jServer, graph_name: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("neo4j", "kgsynth"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        with Neo4jStore.from_env() as store:
            store.write(make_graph(graph_name, hostile=False))
            store.read(graph_name)
            assert neo4j_env.password not in repr(store)
    finally:
        for name in ("neo4j", "kgsynth"):
            logging.getLogger(name).setLevel(logging.NOTSET)
    assert caplog.records, "nothing was logged, so nothing was checked"
    assert neo4j_env.password not in caplog.text
    assert os.environ["NEO4J_PASSWORD"] not in caplog.text
