"""One way to open a graph, and every command's config: `load` stores a graph where `generate --graph NAME`
finds it (embedded and Neo4j), `--config` with flags over it, and a run replayed from its own config.yaml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kgsynth.run.journal import read_run_items
from tests.conftest import FIXTURES
from tests.neo4j_server import Neo4jServer

KGX = FIXTURES / "kgx"  # the mini fixture graph exported as KGX TSV (26 nodes, 34 edges)
# a short answer: the mini graph has too few near, safe distractors for a multiple-choice item (issue 16's rules)
SMALL = ["--n", "1", "--hops", "1", "--type", "chain", "--format", "short", "--no-compare-uniform"]


def kgsynth(*args: str, cache: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**(env or os.environ), "KGSYNTH_CACHE_DIR": str(cache), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "kgsynth.cli", *args], capture_output=True, text=True, env=full_env,
                          timeout=600)  # fmt: skip


def kg_of(out: Path) -> dict[str, str]:
    return json.loads((out / "config.json").read_text(encoding="utf-8"))["kg"]


def test_load_kgx_then_generate_from_the_stored_graph(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    missing = kgsynth("generate", "--graph", "kgx", *SMALL, "--out", str(tmp_path / "none"), cache=cache)
    assert missing.returncode == 2 and "no graph named 'kgx'" in missing.stderr and "kgsynth load" in missing.stderr
    assert "Traceback" not in missing.stderr

    r = kgsynth("load", "kgx", "--from", f"kgx={KGX}", cache=cache)
    assert r.returncode == 0, r.stderr
    assert "kgsynth generate --graph kgx" in r.stdout
    stored = kgsynth("generate", "--graph", "kgx", *SMALL, "--out", str(tmp_path / "stored"), cache=cache)
    assert stored.returncode == 0, stored.stderr
    # the stored KGX graph, not the default KG: its name and content version, and items from its ids
    built = kgsynth("generate", "--source", "kgx", "--from", f"kgx={KGX}", *SMALL, "--out", str(tmp_path / "built"),
                    cache=tmp_path / "other-cache")  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert kg_of(tmp_path / "stored")["name"] == "kgx"
    assert kg_of(tmp_path / "stored") == kg_of(tmp_path / "built")
    items = read_run_items(tmp_path / "stored")
    assert len(items) == 1
    assert [i.model_dump() for i in items] == [i.model_dump() for i in read_run_items(tmp_path / "built")]
    kgx_ids = {line.split("\t")[0] for line in (KGX / "nodes.tsv").read_text().splitlines()[1:]}
    assert {t.subject for t in items[0].path} | {t.object for t in items[0].path} <= kgx_ids

    # stats and export-graph open the same stored graph
    stats = kgsynth("stats", "--graph", "kgx", "--json", cache=cache)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["nodes"] == 26 and json.loads(stats.stdout)["edges"] == 34


def test_sources_with_the_neo4j_backend_are_refused(tmp_path: Path) -> None:
    r = kgsynth("generate", "--backend", "neo4j", "--source", "kgx", "--from", f"kgx={KGX}", *SMALL, "--out",
                str(tmp_path / "o"), cache=tmp_path)  # fmt: skip
    assert r.returncode == 2 and "give --graph NAME" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists() or {p.name for p in (tmp_path / "o").iterdir()} <= {".lock"}


def test_neo4j_options_are_never_silently_unused(tmp_path: Path) -> None:
    # a URI alone names the Neo4j backend (here: nothing listens, so a clear error naming it)
    env = {**os.environ, "NEO4J_PASSWORD": "pw-not-shown"}
    r = kgsynth("generate", "--graph", "kgx", "--neo4j-uri", "bolt://127.0.0.1:1", *SMALL, "--out",
                str(tmp_path / "o"), cache=tmp_path, env=env)  # fmt: skip
    assert r.returncode == 2 and "bolt://127.0.0.1:1" in r.stderr and "pw-not-shown" not in r.stderr
    # with the embedded backend named, Neo4j options are refused rather than ignored
    r = kgsynth("stats", "--backend", "embedded", "--neo4j-user", "bob", cache=tmp_path)
    assert r.returncode == 2 and "embedded backend" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.neo4j
def test_load_kgx_into_neo4j_then_generate_from_it(neo4j_server: Neo4jServer, graph_name: str, tmp_path: Path) -> None:
    env = neo4j_server.env()
    cache = tmp_path / "cache"
    r = kgsynth("load", "kgx", "--from", f"kgx={KGX}", "--name", graph_name, "--backend", "neo4j", cache=cache,
                env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"kgsynth generate --graph {graph_name} --backend neo4j" in r.stdout
    neo = kgsynth("generate", "--backend", "neo4j", "--graph", graph_name, *SMALL, "--out", str(tmp_path / "neo"),
                  cache=cache, env=env)  # fmt: skip
    assert neo.returncode == 0, neo.stderr
    emb = kgsynth("generate", "--source", "kgx", "--from", f"kgx={KGX}", "--graph", graph_name, *SMALL, "--out",
                  str(tmp_path / "emb"), cache=cache, env=env)  # fmt: skip
    assert emb.returncode == 0, emb.stderr
    assert kg_of(tmp_path / "neo") == kg_of(tmp_path / "emb")
    assert len(read_run_items(tmp_path / "neo")) == 1
    assert [i.model_dump() for i in read_run_items(tmp_path / "neo")] == [
        i.model_dump() for i in read_run_items(tmp_path / "emb")
    ]
    # the password never reaches a file of the run
    for path in (tmp_path / "neo").rglob("*"):
        if path.is_file():
            assert neo4j_server.password.encode() not in path.read_bytes()


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_run_replayed_from_its_config_yaml_is_byte_identical(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = tmp_path / "first"
    # the default KG from the real releases, every question type and format
    r = kgsynth("generate", "--n", "30", "--hops", "2", "--seed", "3", "--layperson", "0.5", "--format", "mcq,short",
                "--out", str(first), cache=cache)  # fmt: skip
    assert r.returncode == 0, r.stderr
    written = yaml.safe_load((first / "config.yaml").read_text(encoding="utf-8"))
    assert written["generate"]["n"] == 30 and written["generate"]["seed"] == 3 and written["generate"]["hops"] == 2
    assert written["generate"]["formats"] == ["mcq", "short"] and written["graph"]["sources"] == []
    assert "out" not in written  # where a run goes is not what it is

    replay = tmp_path / "replay"
    r = kgsynth("generate", "--config", str(first / "config.yaml"), "--out", str(replay), cache=cache)
    assert r.returncode == 0, r.stderr
    a, b = _files(first), _files(replay)
    assert sorted(a) == sorted(b)
    assert len(a) >= 7  # config.json/yaml, progress, summary, card and its figure, a shard (a run holds no dataset)
    assert [name for name in a if a[name] != b[name]] == []

    # a flag overrides the file; the override is what the new run writes back
    other = tmp_path / "other"
    r = kgsynth("generate", "--config", str(first / "config.yaml"), "--seed", "4", "--out", str(other), cache=cache)
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load((other / "config.yaml").read_text())["generate"]["seed"] == 4
    assert (other / "jsonl" / "items-00000.jsonl").read_bytes() != (first / "jsonl" / "items-00000.jsonl").read_bytes()


@pytest.mark.parametrize(
    ("text", "args", "expected"),
    [
        ("generate: {hops: 9}\n", [], "invalid option generate.hops"),
        ("generate: {nn: 3}\n", [], "invalid option generate.nn"),
        ("generate: [1, 2\n", [], "not valid YAML"),
        ("- 1\n", [], "expected a mapping of options"),
        ("", ["--teacher-base-url", "http://127.0.0.1:9/v1"], "teacher options without a teacher: --teacher-base-url"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, args: list[str], expected: str) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(text, encoding="utf-8")
    r = kgsynth("generate", "--config", str(cfg), *args, "--out", str(tmp_path / "o"), cache=tmp_path)
    assert r.returncode == 2, r.stderr
    assert expected in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()  # refused before any work


def test_config_command_prints_the_defaults_of_the_models(tmp_path: Path) -> None:
    from kgsynth.questions.question import GenerateConfig

    r = kgsynth("config", "generate", cache=tmp_path)
    assert r.returncode == 0, r.stderr
    printed = yaml.safe_load(r.stdout)
    assert printed["generate"] == GenerateConfig().model_dump(mode="json")
    assert printed["teacher"] is None
    cfg = tmp_path / "stats.yaml"
    cfg.write_text("schema: med\ngraph: {sources: [hpo]}\n", encoding="utf-8")
    r = kgsynth("config", "stats", "--config", str(cfg), cache=tmp_path)
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load(r.stdout)["graph"]["sources"] == ["hpo"]
