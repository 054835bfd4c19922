"""``kgsynth export-graph --format neo4j-admin``: the CSV files are well formed, and a database built
from them by the real ``neo4j-admin database import`` reads back as the very graph exported."""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from kgsynth.graph.store.neo4j import Neo4jStore
from kgsynth.graph.store.neo4j_admin import ARRAY_DELIMITER, NODE_HEADER, RELATIONSHIP_HEADER, export_neo4j_admin
from tests.test_neo4j_store import HOSTILE, assert_same_graph, make_graph

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "neo4j.sh"


def read_csv(path: str) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_export_files_are_well_formed(tmp_path: Path) -> None:
    graph = make_graph("export-test", extra_edges=50)
    result = export_neo4j_admin(graph, tmp_path)
    nodes = read_csv(result["files"]["nodes"])
    rels = read_csv(result["files"]["relationships"])
    assert nodes[0] == NODE_HEADER and rels[0] == RELATIONSHIP_HEADER
    assert len(nodes) - 1 == graph.num_nodes and len(rels) - 1 == graph.num_edges
    row = dict(zip(NODE_HEADER, nodes[1 + graph.index["MONDO:1"]], strict=True))
    assert row["name"] == HOSTILE[0]
    assert row["synonyms:string[]"].split(ARRAY_DELIMITER) == HOSTILE[1:]
    assert row[":LABEL"].split(ARRAY_DELIMITER) == ["KgNode", "Disease"]
    types = {r[2] for r in rels[1:]}
    assert types == {"HAS_PHENOTYPE", "NOT_HAS_PHENOTYPE", "TREATS", "NOT_TREATS", "HAS_ADVERSE_EVENT"}
    assert result["multiline_fields"]  # a hostile synonym holds a newline
    assert result["command"][:4] == ["neo4j-admin", "database", "import", "full"]
    assert (tmp_path / "import.sh").read_text().count("--nodes=") == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.neo4j
def test_neo4j_admin_import_reads_back_equal(tmp_path: Path) -> None:
    """Runs the real import tool into a second, throwaway server (the shared one is left alone)."""
    if shutil.which("java") is None and os.environ.get("CI", "").lower() != "true":
        pytest.skip("needs Java")
    graph = make_graph("admin-import", extra_edges=200)
    export = export_neo4j_admin(graph, tmp_path / "csv")
    env = {
        **os.environ,
        "KGSYNTH_NEO4J_DIR": str(tmp_path / "neo4j"),
        "KGSYNTH_NEO4J_PORT": str(_free_port()),
        "KGSYNTH_NEO4J_HEAP": "512m",
        "KGSYNTH_NEO4J_PAGECACHE": "128m",
    }

    def script(*args: str) -> None:
        done = subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]

    script("admin", *export["command"][1:])
    try:
        script("start")
        password = (tmp_path / "neo4j" / "password").read_text().strip()
        uri = f"bolt://127.0.0.1:{env['KGSYNTH_NEO4J_PORT']}"
        with Neo4jStore(uri, "neo4j", password) as store:
            assert store.exists(graph.name)
            assert_same_graph(store.read(graph.name), graph)
            again = store.write(graph)  # adds the constraints, writes nothing
            assert again["unchanged"]
    finally:
        script("stop")
