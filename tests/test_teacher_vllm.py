"""vLLM's offline engine needs a GPU; here its import and argument wiring are tested with a stand-in module."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import types
from typing import Any, ClassVar

import pytest

from kgsynth.models.base import ChatRequest, ModelSetupError, SamplingParams
from kgsynth.models.config import make_model
from kgsynth.models.vllm import VLLMChat
from kgsynth.teacher.run import TeacherConfig


class FakeLLM:
    instances: ClassVar[list[FakeLLM]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.calls: list[tuple[list[Any], list[Any]]] = []
        FakeLLM.instances.append(self)

    def chat(self, conversations: list[Any], *, sampling_params: list[Any], use_tqdm: bool) -> list[Any]:
        self.calls.append((conversations, sampling_params))
        return [
            types.SimpleNamespace(
                prompt_token_ids=[1, 2, 3],
                outputs=[
                    types.SimpleNamespace(
                        text=f"<think>seed {params.seed}</think>\nAnswer: A", finish_reason="stop", token_ids=[4, 5]
                    )
                ],
            )
            for params in sampling_params
        ]


class FakeSamplingParams:
    def __init__(self, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("vllm")
    module.LLM = FakeLLM  # type: ignore[attr-defined]
    module.SamplingParams = FakeSamplingParams  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", module)
    FakeLLM.instances.clear()
    return module


def test_config_reaches_the_engine_and_requests_are_batched(fake_vllm: types.ModuleType) -> None:
    config = TeacherConfig(
        backend="vllm",
        model="Qwen/Qwen3-32B",
        engine_args={"tensor_parallel_size": 2, "max_model_len": 8192},
    )
    teacher = make_model(config)
    assert isinstance(teacher, VLLMChat)
    requests = [
        ChatRequest("Qwen/Qwen3-32B", ({"role": "user", "content": f"q{i}"},), SamplingParams(0.6, 0.95, 512), i)
        for i in range(5)
    ]

    async def run() -> list[Any]:
        return await asyncio.gather(*(teacher.complete(request) for request in requests))

    completions = asyncio.run(run())
    [engine] = FakeLLM.instances
    assert engine.kwargs == {"model": "Qwen/Qwen3-32B", "tensor_parallel_size": 2, "max_model_len": 8192}
    assert len(engine.calls) == 1, "requests that arrive together go to the engine together"
    conversations, params = engine.calls[0]
    assert conversations == [[{"role": "user", "content": f"q{i}"}] for i in range(5)]
    assert [(p.temperature, p.top_p, p.max_tokens, p.seed) for p in params] == [(0.6, 0.95, 512, i) for i in range(5)]
    assert [c.text for c in completions] == [f"<think>seed {i}</think>\nAnswer: A" for i in range(5)]
    assert completions[0].prompt_tokens == 3 and completions[0].completion_tokens == 2


def test_model_path_overrides_the_label(fake_vllm: types.ModuleType) -> None:
    teacher = make_model(TeacherConfig(backend="vllm", model="teacher", model_path="/models/qwen"))
    assert isinstance(teacher, VLLMChat)
    teacher.engine()
    assert FakeLLM.instances[0].kwargs == {"model": "/models/qwen"}


def test_missing_vllm_is_an_actionable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` fail
    teacher = VLLMChat(model="m")
    with pytest.raises(ModelSetupError, match="vllm"):
        teacher.engine()


def test_importing_the_teacher_imports_no_backend() -> None:
    """vllm, torch and openai load only when their backend is used, so `kgsynth --help` stays fast."""
    code = (
        "import sys, kgsynth.teacher.run, kgsynth.models.vllm, kgsynth.models.transformers\n"
        "import kgsynth.dataset.rewards\n"
        "print(sorted(m for m in ('vllm', 'torch', 'transformers', 'openai') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
