"""The OpenAI-compatible teacher client against a real chat-completions server on loopback."""

from __future__ import annotations

import asyncio
import json

import pytest

from kgsynth.models.base import (
    ChatRequest,
    Completion,
    ModelSetupError,
    RequestFailed,
    SamplingParams,
)
from kgsynth.models.openai import OpenAIChat, _parse_completion
from tests.chat_server import DEFAULT_TEXT, ChatServer

FAULTS = ["429", "500", "503", "timeout", "disconnect", "malformed", "truncated", "empty"]


def request(text: str = "Which gene causes Marfan syndrome?", seed: int = 0) -> ChatRequest:
    return ChatRequest("test-teacher", ({"role": "user", "content": text},), SamplingParams(), seed)


def teacher(server: ChatServer, **options: object) -> OpenAIChat:
    settings: dict[str, object] = {"timeout": 1.0, "max_retries": 3, "backoff_base": 0.001, "seed": 0}
    settings.update(options)
    return OpenAIChat(model="test-teacher", base_url=server.base_url, **settings)  # type: ignore[arg-type]


async def complete_all(client: OpenAIChat, requests: list[ChatRequest]) -> list[Completion]:
    try:
        return await asyncio.gather(*(client.complete(r) for r in requests))
    finally:
        await client.aclose()


@pytest.mark.parametrize("fault", FAULTS)
def test_transient_fault_is_retried(fault: str) -> None:
    with ChatServer(fault=lambda body, seen: fault if seen == 0 else None, hang_seconds=10) as server:
        client = teacher(server)
        [completion] = asyncio.run(complete_all(client, [request()]))
        assert completion.text == DEFAULT_TEXT
        assert completion.finish_reason == "stop"
        assert completion.completion_tokens > 0
        assert [served.outcome for served in server.log] == [fault, "ok"]
        assert sum(client.stats.retries.values()) == 1


def test_persistent_fault_exhausts_retries() -> None:
    with ChatServer(fault=lambda body, seen: "500") as server:
        client = teacher(server, max_retries=2)
        with pytest.raises(RequestFailed) as failed:
            asyncio.run(complete_all(client, [request()]))
        assert failed.value.reason == "retries_exhausted"
        assert len(server.log) == 3
        assert client.stats.retries == {"500": 3}


def test_bad_request_is_not_retried() -> None:
    with ChatServer(fault=lambda body, seen: "400") as server:
        with pytest.raises(RequestFailed) as failed:
            asyncio.run(complete_all(teacher(server), [request()]))
        assert failed.value.reason == "request_rejected"
        assert len(server.log) == 1


def test_refused_key_stops_with_an_actionable_error() -> None:
    with ChatServer(fault=lambda body, seen: "401") as server:
        with pytest.raises(ModelSetupError) as failed:
            asyncio.run(complete_all(teacher(server), [request()]))
        assert "401" in str(failed.value)
        assert "API key" in str(failed.value)


def test_api_key_comes_from_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGSYNTH_TEST_KEY", "sk-test-123")
    with ChatServer() as server:
        asyncio.run(complete_all(teacher(server, api_key_env="KGSYNTH_TEST_KEY"), [request()]))
        assert server.log[0].authorization == "Bearer sk-test-123"


def test_missing_key_for_openai_itself_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KGSYNTH_ABSENT_KEY", raising=False)
    client = OpenAIChat(model="gpt-test", api_key_env="KGSYNTH_ABSENT_KEY")
    with pytest.raises(ModelSetupError, match="KGSYNTH_ABSENT_KEY"):
        client.client  # noqa: B018 -- creating the client is what fails


def test_concurrency_is_bounded() -> None:
    with ChatServer(latency=0.02) as server:
        client = teacher(server, concurrency=4)
        completions = asyncio.run(complete_all(client, [request(seed=i) for i in range(24)]))
        assert len(completions) == 24
        assert server.peak_active <= 4
        assert client.stats.peak_in_flight == 4
        assert client.stats.answered == 24


def test_request_body_is_what_the_cache_key_hashes() -> None:
    with ChatServer() as server:
        sent = request("FBN1?", seed=7)
        asyncio.run(complete_all(teacher(server), [sent]))
        body = server.log[0].request
        assert body == sent.body()
        assert body["seed"] == 7


def test_cache_key_covers_what_changes_the_answer_only() -> None:
    base = request()
    assert base.cache_key() == request().cache_key()
    assert base.cache_key() != request(seed=1).cache_key()
    assert base.cache_key() != request("other").cache_key()
    hotter = ChatRequest(base.model, base.messages, SamplingParams(temperature=1.0), base.seed)
    assert base.cache_key() != hotter.cache_key()
    other_model = ChatRequest("other-model", base.messages, base.params, base.seed)
    assert base.cache_key() != other_model.cache_key()


def test_separate_reasoning_is_put_back_in_think_tags() -> None:
    body = {
        "choices": [
            {
                "message": {"role": "assistant", "content": "Answer: C", "reasoning_content": "FBN1 ..."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4},
    }
    completion = _parse_completion(json.dumps(body).encode())
    assert completion.text == "<think>FBN1 ...</think>\nAnswer: C"
    assert completion.total_tokens == 7
