"""The teacher step end to end against a loopback chat-completions server with injected faults."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from kgsynth.dataset.export import build_rows, read_teacher_chains
from kgsynth.errors import UnknownNameError
from kgsynth.models.base import ModelSetupError
from kgsynth.models.budget import request_seed
from kgsynth.models.config import make_model
from kgsynth.questions.item import Item
from kgsynth.teacher.run import TeacherConfig, TeacherResult, distil
from tests.chat_server import ChatServer
from tests.teacher_items import good_chain, item_for_prompt, make_items, wrong_chain

FAULT_KINDS = ["429", "500", "503", "timeout", "disconnect", "malformed", "truncated", "empty"]
ROOT = Path(__file__).resolve().parent.parent


def user_prompt(body: dict[str, Any]) -> str:
    return body["messages"][-1]["content"]


def scripted_teacher(items: list[Item]) -> Any:
    """Right for items 0, 1, 3, 4 (mod 6); cut off, then right on resampling, for 2; wrong for 5."""

    def reply(body: dict[str, Any]) -> str | tuple[str, str]:
        item = item_for_prompt(items, user_prompt(body))
        index = int(item.id.split("-")[1])
        first_sample = body["seed"] == request_seed(0, item.id, 0)
        if index % 6 == 5:
            return wrong_chain(item)
        if index % 6 == 2 and first_sample:
            return "<think>FBN1 ... and then I ran out of", "length"
        return good_chain(item)

    return reply


def first_attempt_faults(body: dict[str, Any], seen: int) -> str | None:
    """Most requests fail once, each with a fault chosen by its content, then succeed."""
    if seen > 0:
        return None
    digest = int(hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest(), 16)
    return None if digest % 5 == 0 else FAULT_KINDS[digest % len(FAULT_KINDS)]


def config(server: ChatServer, **options: Any) -> TeacherConfig:
    settings: dict[str, Any] = {
        "model": "test-teacher",
        "base_url": server.base_url,
        "concurrency": 8,
        "samples": 2,
        "timeout": 1.0,
        "max_retries": 4,
        "backoff_base": 0.001,
        "backoff_max": 0.01,
    }
    settings.update(options)
    return TeacherConfig(**settings)


def read_results(out: Path) -> list[TeacherResult]:
    lines = (out / "teacher" / "results.jsonl").read_text().splitlines()
    return [TeacherResult.model_validate_json(line) for line in lines]


def test_faulty_server_every_item_settled_nothing_lost(tmp_path: Path) -> None:
    items = make_items(24)
    with ChatServer(reply=scripted_teacher(items), fault=first_attempt_faults, hang_seconds=10) as server:
        summary = distil(items, config(server), tmp_path)
        results = read_results(tmp_path)

    assert [r.item_id for r in results] == sorted(item.id for item in items)
    assert summary.items == 24
    assert summary.incomplete == 0
    assert summary.verified == 20  # items 5 and 11, 17, 23 are answered wrongly twice
    assert summary.failure_reasons == {"wrong_answer": 4}
    assert summary.client["retries"], "the server's faults should have been retried"
    for result in results:
        index = int(result.item_id.split("-")[1])
        assert result.teacher_model == "test-teacher"
        assert len(result.prompt_hash) == 64
        assert result.prompt_tokens > 0 and result.completion_tokens > 0
        if index % 6 == 5:
            assert (result.status, result.failure_reason, result.attempts) == ("rejected", "wrong_answer", 2)
            assert [s.answer for s in result.samples] != [None, None]
        elif index % 6 == 2:
            # Cut off while thinking, then verified on the second sample.
            assert result.status == "verified" and result.attempts == 2
            assert result.samples[0].failure_reason == "truncated"
            assert result.samples[1].kept
        else:
            assert (result.status, result.attempts) == ("verified", 1)
        if result.verified:
            # The good chain names the disease, the path's one intermediate entity.
            assert result.path_faithfulness == 1.0
    # Every answered request was answered once: no request was sent again after its answer.
    assert max(server.served_ok().values()) == 1
    # The teacher writes its outputs, not a dataset: the export makes the sft rows from the kept chains.
    assert sorted(p.name for p in (tmp_path / "teacher").iterdir()) == [
        "cache.sqlite", "results.jsonl", "runs.jsonl", "summary.json"]  # fmt: skip
    sft = build_rows(items, read_teacher_chains(tmp_path))["sft"]
    assert len(sft) == 24 and sum(row["chain_source"] == "teacher" for row in sft) == 20
    taught = next(row for row in sft if row["chain_source"] == "teacher")
    assert [message["role"] for message in taught["messages"]] == ["user", "assistant"]
    assert "Curated knowledge-graph facts" not in taught["messages"][0]["content"]
    assert taught["answer_letter"] and taught["answer_aliases"]  # the answer columns the teacher's own rows lacked


def test_budget_interrupts_and_the_next_run_resumes_without_resending(tmp_path: Path) -> None:
    items = make_items(12)
    with ChatServer(reply=scripted_teacher(items), fault=first_attempt_faults, hang_seconds=10) as server:
        first = distil(items, config(server, max_requests=5), tmp_path)
        assert first.requests_sent == 5
        assert first.incomplete > 0
        assert first.failure_reasons["budget_exhausted"] == first.incomplete
        waiting = [r for r in read_results(tmp_path) if r.status == "incomplete"]
        assert all(r.failure_reason == "budget_exhausted" for r in waiting)

        second = distil(items, config(server), tmp_path)
        assert second.incomplete == 0
        assert second.cache_hits == 5
        settled = (tmp_path / "teacher" / "results.jsonl").read_bytes()

        third = distil(items, config(server, concurrency=3, timeout=5.0), tmp_path)
        assert third.requests_sent == 0
        assert (tmp_path / "teacher" / "results.jsonl").read_bytes() == settled
        assert max(server.served_ok().values()) == 1


def test_same_inputs_give_byte_identical_outputs(tmp_path: Path) -> None:
    items = make_items(12)
    with ChatServer(reply=scripted_teacher(items), fault=first_attempt_faults, hang_seconds=10) as server:
        distil(items, config(server), tmp_path / "a")
    with ChatServer(reply=scripted_teacher(items)) as server:
        distil(list(reversed(items)), config(server, concurrency=1), tmp_path / "b")
    for name in ["results.jsonl"]:
        assert (tmp_path / "a" / "teacher" / name).read_bytes() == (tmp_path / "b" / "teacher" / name).read_bytes()
    summary_a = json.loads((tmp_path / "a" / "teacher" / "summary.json").read_text())
    summary_b = json.loads((tmp_path / "b" / "teacher" / "summary.json").read_text())
    assert summary_a["summary"] == summary_b["summary"]


KILLED_RUN = """
import sys
from kgsynth.teacher.run import TeacherConfig, distil
from tests.teacher_items import make_items
config = TeacherConfig(model="test-teacher", base_url=sys.argv[1], concurrency=4, samples=2, timeout=60.0)
distil(make_items(16), config, sys.argv[2])
"""


def test_killed_run_loses_nothing_and_resends_nothing_answered(tmp_path: Path) -> None:
    items = make_items(16)
    answered = 0
    lock = threading.Lock()

    def hang_after_six(body: dict[str, Any], seen: int) -> str | None:
        nonlocal answered
        with lock:
            if answered < 6:
                answered += 1
                return None
        return "timeout"

    cache = tmp_path / "teacher" / "cache.sqlite"
    with ChatServer(reply=scripted_teacher(items), fault=hang_after_six, hang_seconds=60) as server:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        run = subprocess.Popen([sys.executable, "-c", KILLED_RUN, server.base_url, str(tmp_path)], cwd=ROOT, env=env)
        try:
            deadline = time.monotonic() + 120
            while _cached(cache) < 6:
                assert run.poll() is None, "the run ended before it was killed"
                assert time.monotonic() < deadline, "the run never cached six answers"
                time.sleep(0.05)
        finally:
            run.send_signal(signal.SIGKILL)
            run.wait()
        assert not (tmp_path / "teacher" / "results.jsonl").exists()

        server.fault = lambda body, seen: None
        summary = distil(items, config(server), tmp_path)
        assert summary.cache_hits == 6
        assert summary.incomplete == 0
        assert max(server.served_ok().values()) == 1
        assert len(read_results(tmp_path)) == 16


def _cached(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path) as db:
            return int(db.execute("SELECT COUNT(*) FROM completions").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # the table is not created yet


def test_keep_all_keeps_every_verified_chain(tmp_path: Path) -> None:
    items = make_items(6)
    with ChatServer(reply=scripted_teacher(items)) as server:
        summary = distil(items, config(server, samples=3, keep="all"), tmp_path)
    results = {r.item_id: r for r in read_results(tmp_path)}
    assert all(len(r.samples) == 3 for r in results.values())
    assert [s.kept for s in results["chain-0000"].samples] == [True, True, True]
    assert [s.kept for s in results["chain-0002"].samples] == [False, True, True]
    assert not any(s.kept for s in results["chain-0005"].samples)
    assert summary.kept_chains == 3 + 3 + 2 + 3 + 3 + 0


def test_grounding_none_hides_the_path(tmp_path: Path) -> None:
    items = make_items(2)
    with ChatServer(reply=scripted_teacher(items)) as server:
        distil(items, config(server, grounding="none"), tmp_path / "none")
        distil(items, config(server, grounding="path"), tmp_path / "path")
        prompts = [user_prompt(served.request) for served in server.log]
    assert sum("Curated knowledge-graph facts" in prompt for prompt in prompts) == 2
    hashes = {r.grounding: r.prompt_hash for d in ("none", "path") for r in read_results(tmp_path / d)}
    assert hashes["none"] != hashes["path"]


def test_short_answer_items_are_verified_by_name(tmp_path: Path) -> None:
    items = make_items(3, format="short")
    with ChatServer(reply=scripted_teacher(items)) as server:
        summary = distil(items, config(server), tmp_path)
    assert summary.verified == 3


def test_rejected_request_settles_the_item_with_its_reason(tmp_path: Path) -> None:
    items = make_items(3)

    def reject_item_one(body: dict[str, Any], seen: int) -> str | None:
        return "400" if item_for_prompt(items, user_prompt(body)).id == "chain-0001" else None

    with ChatServer(reply=scripted_teacher(items), fault=reject_item_one) as server:
        summary = distil(items, config(server), tmp_path)
    assert summary.failure_reasons == {"request_rejected": 1}
    assert summary.verified == 2


def test_retries_exhausted_leave_the_item_for_the_next_run(tmp_path: Path) -> None:
    items = make_items(2)  # both answered right on their first sample
    with ChatServer(reply=scripted_teacher(items), fault=lambda body, seen: "503" if seen < 2 else None) as server:
        first = distil(items, config(server, max_retries=1), tmp_path)
        assert (first.incomplete, first.failure_reasons) == (2, {"retries_exhausted": 2})
        second = distil(items, config(server, max_retries=1), tmp_path)
        assert second.verified == 2


def test_refused_key_stops_the_run(tmp_path: Path) -> None:
    with ChatServer(fault=lambda body, seen: "401") as server, pytest.raises(ModelSetupError):
        distil(make_items(4), config(server), tmp_path)


def test_unknown_backend_and_local_model_are_reported() -> None:
    with pytest.raises(UnknownNameError, match="SmolLM2-135M-Instruct"):
        make_model(TeacherConfig(backend="local", model="no-such-model"))


def test_distil_runs_inside_a_running_loop_via_adistil(tmp_path: Path) -> None:
    from kgsynth.teacher.run import adistil

    items = make_items(2)
    with ChatServer(reply=scripted_teacher(items)) as server:
        summary = asyncio.run(adistil(items, config(server), tmp_path))
    assert summary.verified == 2
