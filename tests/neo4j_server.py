"""A real Neo4j server for the tests (a pytest plugin: ``pytest_plugins = ["tests.neo4j_server"]``).

With ``NEO4J_URI`` (and ``NEO4J_USER``, ``NEO4J_PASSWORD``) set, that server is used. Otherwise the
project's own server is started with ``scripts/neo4j.sh start`` once per session and stopped at the end
(if it was already running, it is left running). In CI (``CI=true``) a server that cannot be had is a
failure, never a skip.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "neo4j.sh"


@dataclass(frozen=True)
class Neo4jServer:
    uri: str
    user: str
    password: str
    own: bool  # started by scripts/neo4j.sh (so the tests may stop and restart it)

    def env(self) -> dict[str, str]:
        """The environment a subprocess needs to reach this server."""
        return {**os.environ, "NEO4J_URI": self.uri, "NEO4J_USER": self.user, "NEO4J_PASSWORD": self.password}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"Neo4j tests cannot run: {reason}", pytrace=False)
    pytest.skip(f"no Neo4j server: {reason}")


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=900, check=False)


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def neo4j_server() -> Iterator[Neo4jServer]:
    uri = os.environ.get("NEO4J_URI")
    if uri:
        password = os.environ.get("NEO4J_PASSWORD")
        if password is None:
            _unavailable("NEO4J_URI is set but NEO4J_PASSWORD is not")
        yield Neo4jServer(uri, os.environ.get("NEO4J_USER", "neo4j"), str(password), own=False)
        return
    was_running = _script("status").returncode == 0
    port = int(os.environ.get("KGSYNTH_NEO4J_PORT", "17687"))
    if not was_running and _port_in_use(port):
        # Something else (another checkout's server, say) holds the default port: use a free one.
        os.environ["KGSYNTH_NEO4J_PORT"] = str(_free_port())
    started = _script("start")
    if started.returncode != 0:
        _unavailable(f"scripts/neo4j.sh start failed:\n{started.stderr[-3000:]}")
    env = _script("env").stdout
    bolt_port = next(line.split(":")[-1] for line in env.splitlines() if "NEO4J_URI=" in line)
    password = (Path(os.environ.get("KGSYNTH_NEO4J_DIR", ROOT / ".neo4j")) / "password").read_text().strip()
    try:
        yield Neo4jServer(f"bolt://127.0.0.1:{bolt_port}", "neo4j", password, own=True)
    finally:
        if not was_running:
            _script("stop")


@pytest.fixture
def neo4j_env(neo4j_server: Neo4jServer, monkeypatch: pytest.MonkeyPatch) -> Neo4jServer:
    """The server, with NEO4J_URI/NEO4J_USER/NEO4J_PASSWORD set for the test."""
    monkeypatch.setenv("NEO4J_URI", neo4j_server.uri)
    monkeypatch.setenv("NEO4J_USER", neo4j_server.user)
    monkeypatch.setenv("NEO4J_PASSWORD", neo4j_server.password)
    return neo4j_server


@pytest.fixture
def graph_name(neo4j_env: Neo4jServer) -> Iterator[str]:
    """A graph name no other test uses; the graph is deleted afterwards if the test left it."""
    from kgsynth.errors import KgsynthError
    from kgsynth.graph.store.neo4j import Neo4jStore

    name = f"test-{uuid.uuid4().hex[:10]}"
    yield name
    try:
        with Neo4jStore.from_env() as store:
            store.delete(name)
    except KgsynthError:
        pass
