"""The Neo4j backend through the command line a user runs: load, generate from it, export-graph."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kgsynth.run.journal import read_run_items
from tests.conftest import mini_directories
from tests.neo4j_server import Neo4jServer

SOURCES = ["hpo", "hpo_layperson", "doid", "mondo", "pharmacotherapydb", "drugcentral"]


def kgsynth(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kgsynth.cli", *args], capture_output=True, text=True, env=env,
                          timeout=600)  # fmt: skip


@pytest.mark.neo4j
def test_load_and_generate_through_neo4j_from_the_cli(
    neo4j_server: Neo4jServer, graph_name: str, tmp_path: Path
) -> None:
    env = {**neo4j_server.env(), "KGSYNTH_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "200"}
    from_args = [a for s, d in mini_directories(SOURCES).items() for a in ("--from", f"{s}={d}")]
    r = kgsynth(["load", *SOURCES, *from_args, "--name", graph_name, "--backend", "neo4j"], env)
    assert r.returncode == 0, r.stderr
    assert neo4j_server.password not in r.stdout + r.stderr
    # a short answer: the mini graph holds too few near, safe distractors for a multiple-choice item since the near
    # rules (issue 16), and this test compares the two backends, not the formats
    common = ["--n", "1", "--hops", "1", "--type", "chain", "--format", "short", "--seed", "2", "--no-compare-uniform"]
    emb = kgsynth(["generate", *common, "--out", str(tmp_path / "emb"), *(a for s in SOURCES for a in ("--source", s)),
                   *from_args], env)  # fmt: skip
    assert emb.returncode == 0, emb.stderr
    neo = kgsynth(["generate", *common, "--out", str(tmp_path / "neo"), "--backend", "neo4j", "--graph", graph_name],
                  env)  # fmt: skip
    # the graph read back from Neo4j carries the same name and version, so the items are identical
    assert neo.returncode == 0, neo.stderr
    assert [i.model_dump() for i in read_run_items(tmp_path / "neo")] == [
        i.model_dump() for i in read_run_items(tmp_path / "emb")
    ]


def test_unreachable_neo4j_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "KGSYNTH_CACHE_DIR": str(tmp_path), "NEO4J_PASSWORD": "s3cret-pw"}
    r = kgsynth(["generate", "--backend", "neo4j", "--neo4j-uri", "bolt://127.0.0.1:1", "--out", str(tmp_path / "o")],
                env)  # fmt: skip
    assert r.returncode == 2
    assert "bolt://127.0.0.1:1" in r.stderr and "Traceback" not in r.stderr and "s3cret-pw" not in r.stderr


def test_export_graph_writes_neo4j_admin_files(tmp_path: Path) -> None:
    env = {**os.environ, "KGSYNTH_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "300"}
    from_args = [a for s, d in mini_directories(SOURCES).items() for a in ("--from", f"{s}={d}")]
    r = kgsynth(["export-graph", *SOURCES, *from_args, "--out", str(tmp_path / "x")], env)
    assert r.returncode == 0, r.stderr
    assert "neo4j-admin database import full" in r.stdout
    assert (tmp_path / "x" / "nodes.csv").exists() and (tmp_path / "x" / "relationships.csv").exists()
    r = kgsynth(["export-graph", "--out", str(tmp_path / "y"), "--format", "graphml"], env)
    assert r.returncode == 2 and "unknown export format 'graphml'" in r.stderr
