"""How a run asks a model: the cache first, then the model within the run's budget; seeds per request; workers.

Every step that asks a model (the teacher, the judge) goes through `Asking`: a request answered before
is read from the `RequestCache` and costs nothing; a new one reserves a request from the `RunBudget`
(or raises `BudgetExhausted`), is sent, and its answer is stored the moment it arrives -- so a rerun
sends only what was never answered. Retries of one request live in the backend (`OpenAIChat`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from kgsynth.models.base import BudgetExhausted, ChatModel, ChatRequest, Completion
from kgsynth.models.cache import RequestCache

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Failure reasons that leave an item for the next run rather than settling it.
TRANSIENT_REASONS = frozenset({"retries_exhausted", "budget_exhausted"})


class RunBudget:
    """The run's budget of requests and tokens; in-flight requests may overshoot the token budget."""

    def __init__(self, max_requests: int | None, max_tokens: int | None) -> None:
        self.max_requests = max_requests
        self.max_tokens = max_tokens
        self.requests = 0
        self.tokens = 0

    def reserve(self) -> None:
        if self.max_requests is not None and self.requests >= self.max_requests:
            raise BudgetExhausted(f"the run's budget of {self.max_requests} requests is spent")
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            raise BudgetExhausted(f"the run's budget of {self.max_tokens} tokens is spent")
        self.requests += 1

    def spend(self, tokens: int) -> None:
        self.tokens += tokens


class Asking:
    """One run's requests to ``model``: answered from ``cache`` when they can be, else sent within ``budget``."""

    def __init__(self, model: ChatModel, cache: RequestCache, budget: RunBudget) -> None:
        self.model = model
        self.cache = cache
        self.budget = budget
        self.sent = 0
        self.cache_hits = 0

    async def complete(self, request: ChatRequest) -> Completion:
        """The completion of ``request``; raises `BudgetExhausted` or the backend's `RequestFailed`."""
        key = request.cache_key()
        cached = self.cache.get(key)
        if cached is not None:
            self.cache_hits += 1
            return cached
        self.budget.reserve()
        completion = await self.model.complete(request)
        self.cache.put(key, request.model, completion)
        self.sent += 1
        self.budget.spend(completion.total_tokens)
        return completion


def request_seed(seed: int, item_id: str, sample: int) -> int:
    """The seed of one sample: stable across runs and machines, distinct per item and sample.

    >>> request_seed(0, "chain-0001", 0) == request_seed(0, "chain-0001", 0) != request_seed(0, "chain-0001", 1)
    True
    """
    digest = hashlib.sha256(f"{seed}\x00{item_id}\x00{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


async def for_each_concurrently(
    items: Sequence[T], work: Callable[[T], Awaitable[None]], *, concurrency: int, model: ChatModel
) -> None:
    """Run ``work`` on every item with at most ``concurrency`` in flight, then close ``model``. One worker's
    error (a refused key, say) stops them all and is raised itself, not as an exception group."""
    queue = iter(items)

    async def worker() -> None:
        for item in queue:
            await work(item)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, len(items))):
                group.create_task(worker())
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    finally:
        await model.aclose()
