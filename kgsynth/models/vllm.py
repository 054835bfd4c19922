"""vLLM's offline engine as an in-process teacher (the `vllm` extra; it needs a GPU).

Requests that arrive while the engine is busy are gathered and sent to `LLM.chat` together, each
with its own seeded `SamplingParams`: the offline engine is fast only when fed batches. `vllm` is
imported when the engine is first needed, so this module imports anywhere.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kgsynth.models.base import ChatRequest, Completion, ModelSetupError

logger = logging.getLogger(__name__)


class VLLMTeacher:
    """A model run by vLLM inside this process.

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
            try:
                import vllm
            except ImportError as error:
                raise ModelSetupError(
                    "the vllm teacher needs vLLM (and a GPU)",
                    hint="pip install 'kgsynth[vllm]', or run `vllm serve` and use --teacher openai",
                ) from error
            logger.info("starting vLLM for %s with %s", self.model, self.engine_args)
            self._engine = vllm.LLM(model=self.model, **self.engine_args)
        return self._engine

    @staticmethod
    def sampling_params(request: ChatRequest) -> Any:
        import vllm

        return vllm.SamplingParams(
            temperature=request.params.temperature,
            top_p=request.params.top_p,
            max_tokens=request.params.max_tokens,
            seed=request.seed,
        )

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
