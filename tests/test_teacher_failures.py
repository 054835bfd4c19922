"""A teacher that cannot work is refused before any work, or stops the run on its first requests; a run
that leaves items incomplete exits non-zero; no credential reaches a file, a log or a message.

The servers are real: the loopback chat-completions server of tests/chat_server.py, and a closed port
for a server that is not running. The missing-extra case hides torch from the interpreter (a
`sitecustomize` that sets `sys.modules["torch"] = None`), because the shared test environment has it.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kgsynth.errors import KgsynthError
from kgsynth.graph.model import Graph
from kgsynth.models.base import ModelSetupError, redact_url
from kgsynth.teacher.run import TeacherConfig, distil
from tests.chat_server import ChatServer
from tests.teacher_items import make_items

GENERATE = ["generate", "--n", "20", "--hops", "2", "--seed", "5", "--no-compare-uniform"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once the socket is closed


def kgsynth(args: list[str], cache: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "KGSYNTH_CACHE_DIR": str(cache), "OPENAI_API_KEY": "sk-test", **env}
    return subprocess.run([sys.executable, "-m", "kgsynth", *args], capture_output=True, text=True, env=full_env,
                          timeout=600)  # fmt: skip


def said(proc: subprocess.CompletedProcess[str]) -> str:
    return " ".join((proc.stdout + proc.stderr).split())


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- refused before any work: nothing is generated ------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--teacher", "openai", "--teacher-base-url", "not-a-url"], "'not-a-url' is not an http(s) URL"),
        (["--teacher-base-url", "http://127.0.0.1:8000/v1"], "teacher options without a teacher: --teacher-base-url"),
        (["--teacher", "openai", "--teacher-base-url", "http://127.0.0.1:{closed}/v1"], "connection refused"),
        (["--teacher", "openai", "--teacher-base-url", "http://no-such-host.invalid/v1"], "cannot be resolved"),
        (["--seed", "-1"], "invalid option generate.seed"),
        (["--seed", str(2**63)], "invalid option generate.seed"),
    ],
)
def test_bad_teacher_and_seed_options_are_refused_before_any_work(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "run"
    args = [a.replace("{closed}", str(closed_port())) for a in args]
    proc = kgsynth([*GENERATE, "--out", str(out), *args], tmp_path / "cache")
    assert proc.returncode == 2, said(proc)
    assert message in said(proc) and "Traceback" not in said(proc)
    assert not out.exists()  # refused before the graph was opened or an item generated
    assert not (tmp_path / "cache").exists()


def test_openai_without_an_api_key_is_refused_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = kgsynth([*GENERATE, "--out", str(out), "--teacher", "openai", "--teacher-api-key-env", "KGSYNTH_TEST_KEY"],
                   tmp_path / "cache", KGSYNTH_TEST_KEY="")  # fmt: skip
    assert proc.returncode == 2, said(proc)
    assert "no API key: the environment variable KGSYNTH_TEST_KEY is not set" in said(proc)
    assert "Traceback" not in said(proc) and not out.exists()


def test_local_teacher_without_its_extra_is_refused_before_any_work(tmp_path: Path) -> None:
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['torch'] = None\n")
    pythonpath = os.pathsep.join([str(hide), os.environ.get("PYTHONPATH", "")])
    out = tmp_path / "run"
    proc = kgsynth([*GENERATE, "--out", str(out), "--teacher", "local"], tmp_path / "cache", PYTHONPATH=pythonpath)
    assert proc.returncode == 2, said(proc)
    assert "needs torch, which is not installed" in said(proc) and "pip install 'kgsynth[local]'" in said(proc)
    assert "Traceback" not in said(proc) and not out.exists()


# -- fail fast on the first requests ---------------------------------------------------------------------


def fast(base_url: str, **options: Any) -> TeacherConfig:
    settings: dict[str, Any] = {"model": "test-teacher", "base_url": base_url, "concurrency": 4, "timeout": 0.5,
                                "max_retries": 2, "backoff_base": 0.001, "backoff_max": 0.01}  # fmt: skip
    return TeacherConfig(**{**settings, **options})


def test_connection_refused_stops_the_run_at_once_and_says_so(tmp_path: Path) -> None:
    # no TCP probe here: the server goes away between the check and the run
    with pytest.raises(ModelSetupError, match="connection refused") as caught:
        distil(make_items(8), fast(f"http://127.0.0.1:{closed_port()}/v1", max_retries=6), tmp_path)
    assert "timeout" not in str(caught.value)
    assert not (tmp_path / "teacher" / "results.jsonl").exists()


def test_a_server_that_never_answers_stops_the_run(tmp_path: Path) -> None:
    with ChatServer(fault=lambda body, seen: "timeout", hang_seconds=5) as server:
        with pytest.raises(ModelSetupError, match="has not answered any request: last fault timeout"):
            distil(make_items(8), fast(server.base_url), tmp_path)
        assert not server.served_ok()


def test_a_server_that_answered_then_faults_leaves_items_incomplete_not_an_error(tmp_path: Path) -> None:
    items = make_items(4)
    first = True

    def fail_after_first(body: dict[str, Any], seen: int) -> str | None:
        nonlocal first
        if first:
            first = False
            return None
        return "timeout"

    with ChatServer(fault=fail_after_first, hang_seconds=5) as server:
        summary = distil(items, fast(server.base_url, concurrency=1, max_retries=0), tmp_path)
    assert summary.incomplete == 3 and summary.failure_reasons.get("retries_exhausted") == 3


HOLD_LOCK = """
import sys, time
from pathlib import Path
from kgsynth.run.journal import lock_run_dir
with lock_run_dir(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_second_teacher_run_into_a_busy_folder_is_refused(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with ChatServer() as server, pytest.raises(KgsynthError, match="is in use by another kgsynth run"):
            distil(make_items(2), fast(server.base_url), tmp_path)
        assert not server.log and not (tmp_path / "teacher").exists()
    finally:
        holder.kill()
        holder.wait()
    with ChatServer() as server:  # the lock died with its holder
        assert distil(make_items(2), fast(server.base_url), tmp_path).items == 2


# -- the exit code of a partial teacher run, and secrets -------------------------------------------------


def item_digest(body: dict[str, Any]) -> int:
    return int(hashlib.sha256(body["messages"][-1]["content"].encode()).hexdigest(), 16)


def test_incomplete_items_fail_the_run_unless_allowed(real_graph: Graph, cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    # a third of the items always meet a 503; retries are spent at once
    with ChatServer(fault=lambda body, seen: "503" if item_digest(body) % 3 == 0 else None) as server:
        args = [*GENERATE, "--out", str(out), "--teacher", "openai", "--teacher-model", "test-teacher",
                "--teacher-base-url", server.base_url, "--max-retries", "0", "--concurrency", "2"]  # fmt: skip
        first = kgsynth(args, cache_dir)
        assert first.returncode == 1, said(first)
        assert "items are incomplete (retries_exhausted:" in said(first) and "--allow-incomplete" in said(first)
        assert "Traceback" not in said(first)
        summary = json.loads((out / "teacher" / "summary.json").read_text())["summary"]
        assert summary["incomplete"] > 0 and summary["items"] == 20
        items_before = snapshot(out / "jsonl")
        answered = sum(server.served_ok().values())
        again = kgsynth([*args, "--allow-incomplete"], cache_dir)
        assert again.returncode == 0, said(again)
        assert snapshot(out / "jsonl") == items_before  # the items are untouched
        assert sum(server.served_ok().values()) == answered  # what was answered is not sent again
        server.fault = lambda body, seen: None
        done = kgsynth(args, cache_dir)
        assert done.returncode == 0, said(done)
        assert "0 incomplete" in said(done)


def test_credentials_in_the_base_url_are_refused_and_never_shown(tmp_path: Path) -> None:
    with ChatServer() as server:
        url = server.base_url.replace("http://", "http://alice:s3cret-pw@")
        proc = kgsynth([*GENERATE, "--out", str(tmp_path / "run"), "--teacher", "openai", "--teacher-base-url", url],
                       tmp_path / "cache")  # fmt: skip
    assert proc.returncode == 2, said(proc)
    assert f"{redact_url(url)!r} carries credentials" in said(proc) and "--teacher-api-key-env" in said(proc)
    assert "s3cret-pw" not in proc.stdout + proc.stderr and "Traceback" not in said(proc)
    assert not (tmp_path / "run").exists()


def test_no_api_key_reaches_a_file_or_a_log(real_graph: Graph, cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    with ChatServer() as server:
        args = [*GENERATE, "--out", str(out), "--teacher", "openai", "--teacher-model", "test-teacher",
                "--teacher-base-url", server.base_url, "-v"]  # fmt: skip
        proc = kgsynth(args, cache_dir, OPENAI_API_KEY="sk-very-secret-key")
        assert {served.authorization for served in server.log} == {"Bearer sk-very-secret-key"}
    assert proc.returncode == 0, said(proc)
    assert "INFO" in proc.stderr  # `generate -v` logs
    assert "sk-very-secret-key" not in proc.stdout + proc.stderr
    files = snapshot(out)
    assert "teacher/summary.json" in files and "config.yaml" in files
    for name, data in files.items():
        assert b"sk-very-secret-key" not in data, name
    assert json.loads(files["teacher/summary.json"])["config"]["api_key_env"] == "OPENAI_API_KEY"


# -- smaller things ---------------------------------------------------------------------------------------


def test_python_m_kgsynth_and_sources_piped_in_full(tmp_path: Path) -> None:
    from kgsynth.loaders import available_loaders

    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}  # piped, as a user's shell runs it
    proc = subprocess.run([sys.executable, "-m", "kgsynth", "sources"], capture_output=True, text=True, timeout=120,
                          env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout
    for name, loader in available_loaders().items():
        assert name in proc.stdout and loader.title in proc.stdout
        directory = loader.default_directory()
        if directory:
            assert str(directory) in proc.stdout
