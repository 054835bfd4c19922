"""How a run asks a model: the cache first, then the model within the run's budget; seeds per request; workers.

Every step that asks a model (the teacher, the judge) goes through `Asking`: a request answered before
is read from the `RequestCache` and costs nothing; a new one reserves a request from the `RunBudget`
(or raises `BudgetExhausted`), is sent, and its answer is stored the moment it arrives -- so a rerun
sends only what was never answered. Retries of one request live in the backend (`OpenAIChat`).

`Asking.ask` is the one failure policy of a sample: a spent budget or a request that failed after its
retries becomes the reason the sample records (`Answer.failure_reason`), and such a transient reason
leaves its item for the next run; anything else (a refused key, a missing extra) is raised and stops the run.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from kgsynth.models.base import BudgetExhausted, ChatModel, ChatRequest, Completion, RequestFailed
from kgsynth.models.cache import RequestCache

logger = logging.getLogger(__name__)

T = TypeVar("T")

BUDGET_EXHAUSTED = "budget_exhausted"  # the run's budget was spent before the request was sent
RETRIES_EXHAUSTED = "retries_exhausted"  # the backend's retries were spent (`RequestFailed.reason`)
# Failure reasons that leave an item for the next run rather than settling it.
TRANSIENT_REASONS = frozenset({RETRIES_EXHAUSTED, BUDGET_EXHAUSTED})


@dataclass(frozen=True)
class Answer:
    """What asking for one sample gave: its completion, or the reason there is none."""

    completion: Completion | None = None
    failure_reason: str | None = None  # a reason in TRANSIENT_REASONS leaves the item for the next run


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

    async def ask(self, request: ChatRequest, *, what: str) -> Answer:
        """`complete`, under the one failure policy (see the module doc); ``what`` names the sample in the log.

        >>> import pathlib, tempfile
        >>> from kgsynth.models.base import SamplingParams
        >>> class Refusing:
        ...     model = "m"
        ...     async def complete(self, request): raise RequestFailed("request_rejected", "400 bad request")
        >>> cache = RequestCache(pathlib.Path(tempfile.mkdtemp()) / "cache.sqlite")
        >>> asking = Asking(Refusing(), cache, RunBudget(max_requests=1, max_tokens=None))
        >>> request = ChatRequest("m", ({"role": "user", "content": "hi"},), SamplingParams(), 0)
        >>> [asyncio.run(asking.ask(request, what="hi")).failure_reason for _ in range(2)]
        ['request_rejected', 'budget_exhausted']
        """
        try:
            return Answer(completion=await self.complete(request))
        except BudgetExhausted:
            return Answer(failure_reason=BUDGET_EXHAUSTED)
        except RequestFailed as error:
            logger.warning("%s: %s", what, error)
            return Answer(failure_reason=error.reason)


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
