"""vLLM's offline engine in this process (the `vllm` extra; it needs a GPU): the one set-up, and a chat model.

`start_vllm` is the one way kgsynth starts an engine and `sampling_params` the one way it builds
vLLM's sampling parameters: the teacher and judge (`VLLMChat`), evaluation
(`kgsynth.eval.backends.VLLMBackend`) and the trainers' mining rollouts use both. `VLLMChat` gathers
requests that arrive while the engine is busy and sends them to `LLM.chat` together, each with its
own seeded parameters: the offline engine is fast only when fed batches. `vllm` is imported when an
engine is first needed, so this module imports anywhere.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kgsynth.models.base import ChatRequest, Completion, ModelSetupError

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'kgsynth[vllm]' on a GPU machine"


def import_vllm(*, needed_by: str, hint: str = INSTALL_HINT) -> Any:
    """The `vllm` module, or a `ModelSetupError` saying that ``needed_by`` needs it and how to get it."""
    try:
        import vllm
    except ImportError:
        raise ModelSetupError(f"{needed_by} needs vLLM (and a GPU), which is not installed", hint=hint) from None
    return vllm


def start_vllm(
    model: str, engine_args: dict[str, Any] | None = None, *, needed_by: str, hint: str = INSTALL_HINT
) -> Any:
    """A `vllm.LLM` engine for ``model`` (a Hub id or a folder); ``engine_args`` go to it as they are
    (`tensor_parallel_size`, `dtype`, `gpu_memory_utilization`, `max_model_len`, ...)."""
    vllm = import_vllm(needed_by=needed_by, hint=hint)
    logger.info("starting vLLM for %s with %s", model, engine_args or {})
    return vllm.LLM(model=model, **(engine_args or {}))


def sampling_params(
    *,
    temperature: float,
    max_tokens: int,
    top_p: float | None = None,
    seed: int | None = None,
    n: int | None = None,
    prompt_logprobs: int | None = None,
    needed_by: str = "vLLM sampling",
    hint: str = INSTALL_HINT,
) -> Any:
    """vLLM's `SamplingParams`: ``n`` samples at ``temperature`` (0: greedy), seeded when ``seed`` is given;
    ``prompt_logprobs=0`` also returns each prompt token's own log-probability. What is not given is left to
    vLLM's defaults."""
    vllm = import_vllm(needed_by=needed_by, hint=hint)
    given = {"n": n, "top_p": top_p, "seed": seed, "prompt_logprobs": prompt_logprobs}
    options = {
        "temperature": temperature,
        "max_tokens": max_tokens,
        **{k: v for k, v in given.items() if v is not None},
    }
    return vllm.SamplingParams(**options)


class VLLMChat:
    """A model run by vLLM inside this process, behind the `ChatModel` protocol.

    `engine_args` go to `vllm.LLM` as they are (`tensor_parallel_size`, `dtype`,
    `gpu_memory_utilization`, `max_model_len`, ...); `max_batch` bounds one `LLM.chat` call.
    """

    def __init__(self, *, model: str, engine_args: dict[str, Any] | None = None, max_batch: int = 256) -> None:
        self.model = model
        self.engine_args = dict(engine_args or {})
        self.max_batch = max_batch
        self._engine: Any = None
        self._pending: list[tuple[ChatRequest, asyncio.Future[Completion]]] = []
        self._worker: asyncio.Task[None] | None = None

    def engine(self) -> Any:
        if self._engine is None:
            self._engine = start_vllm(self.model, self.engine_args, needed_by="the vllm backend",
                                      hint="pip install 'kgsynth[vllm]', or run `vllm serve` and use the openai "
                                      "backend")  # fmt: skip
        return self._engine

    @staticmethod
    def sampling_params(request: ChatRequest) -> Any:
        return sampling_params(temperature=request.params.temperature, top_p=request.params.top_p,
                               max_tokens=request.params.max_tokens, seed=request.seed)  # fmt: skip

    def run_batch(self, requests: list[ChatRequest]) -> list[Completion]:
        """Completions for a batch of requests, in order, computed in the calling thread."""
        engine = self.engine()
        outputs = engine.chat(
            [list(request.messages) for request in requests],
            sampling_params=[self.sampling_params(request) for request in requests],
            use_tqdm=False,
        )
        completions = []
        for output in outputs:
            best = output.outputs[0]
            completions.append(
                Completion(
                    text=best.text,
                    finish_reason=best.finish_reason,
                    prompt_tokens=len(output.prompt_token_ids or ()),
                    completion_tokens=len(best.token_ids),
                )
            )
        return completions

    async def complete(self, request: ChatRequest) -> Completion:
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # let every request that is ready join this batch
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            try:
                completions = await asyncio.to_thread(self.run_batch, [request for request, _ in batch])
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), completion in zip(batch, completions, strict=True):
                if not future.done():
                    future.set_result(completion)

    async def aclose(self) -> None:
        self._engine = None
