"""The CLI as a user meets it: real subprocesses, exit codes, messages without tracebacks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, mini_directories


def kgsynth(*args: str, cache: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "KGSYNTH_CACHE_DIR": str(cache), "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "kgsynth.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )


def _from_args(sources: list[str]) -> list[str]:
    return [a for s, d in mini_directories(sources).items() for a in ("--from", f"{s}={d}")]


def test_help_lists_commands(tmp_path: Path) -> None:
    r = kgsynth("--help", cache=tmp_path)
    assert r.returncode == 0
    for cmd in ("sources", "load", "stats"):
        assert cmd in r.stdout


def test_sources_lists_licences(tmp_path: Path) -> None:
    r = kgsynth("sources", cache=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "CC BY-NC-SA" in r.stdout and "pharmacotherapydb" in r.stdout and "opt-in" in r.stdout


def test_load_and_stats_on_fixture_sources(tmp_path: Path) -> None:
    sources = ["hpo", "hpo_layperson", "doid", "mondo", "pharmacotherapydb", "drugcentral"]
    r = kgsynth("load", *sources, *_from_args(sources), "--name", "mini", cache=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "graphs" / "mini" / "graph.json").exists()
    r = kgsynth("stats", *sources, *_from_args(sources), "--json", cache=tmp_path)
    assert r.returncode == 0, r.stderr
    stats = json.loads(r.stdout)
    assert stats["nodes_by_category"]["biolink:Drug"] == 3
    ann = next(s for s in stats["streams"] if s["stream"] == "phenotype.hpoa annotations")
    assert ann["read"] == 12


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["load", "nosuch"], "unknown source 'nosuch'"),
        (["load", "hpo", "--from", "hpo"], "expected SOURCE=DIR"),
        (["load", "hpo", "--from", "doid=/x"], "--from names sources that are not being loaded"),
        (["load", "hpo", "--from", "hpo=/nonexistent"], "/nonexistent/hp.obo, which does not exist"),
        (["load", "--backend", "nosuch"], "unknown backend 'nosuch'"),
        (["stats", "hpo", "--from", "hpo=/nonexistent", "--schema", "med"], "does not exist"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path: Path, args: list[str], expected: str) -> None:
    r = kgsynth(*args, cache=tmp_path)
    assert r.returncode == 2
    assert expected in " ".join(r.stderr.split())
    assert "Traceback" not in r.stderr + r.stdout


def test_malformed_source_line_reports_file_and_line_and_keeps_the_stored_graph(tmp_path: Path) -> None:
    hpo = tmp_path / "hpo"
    shutil.copytree(FIXTURES / "hpo", hpo)
    r = kgsynth("load", "hpo", "--from", f"hpo={hpo}", "--name", "h", cache=tmp_path / "c")
    assert r.returncode == 0, r.stderr
    stored = (tmp_path / "c" / "graphs" / "h" / "graph.json").read_bytes()
    lines = (hpo / "phenotype.hpoa").read_text().count("\n")
    with (hpo / "phenotype.hpoa").open("a") as fh:
        fh.write("OMIM:1\tbroken row\n")
    r = kgsynth("load", "hpo", "--from", f"hpo={hpo}", "--name", "h", cache=tmp_path / "c")
    assert r.returncode == 2
    err = " ".join(r.stderr.split())
    assert f"{hpo / 'phenotype.hpoa'}:{lines + 1}: expected a phenotype.hpoa annotation with 12" in err
    assert "Traceback" not in r.stderr
    assert (tmp_path / "c" / "graphs" / "h" / "graph.json").read_bytes() == stored
