"""A model behind any OpenAI-compatible server (OpenAI, vLLM's server, others), asynchronously.

One class for every server, as distilabel's OpenAI adapter: `base_url` picks the server, the API key
comes from an environment variable, and the `openai` client is created lazily. At most
`concurrency` requests are in flight; a request that meets a 429, a 5xx, a timeout, a dropped
connection or a malformed body is retried with exponential backoff and full jitter (a 429's
`Retry-After` is honoured), up to `max_retries` times. A server that cannot be reached at all fails
fast instead: a refused connection or an unknown host before the server has answered anything, or
retries spent before it ever answered, stop the run with a `ModelSetupError`.

Requests go through the client's generic `post` with a raw response, and the body is read here:
the SDK's typed request transformation and response models cost about a millisecond of CPU a
request, which at thousands of requests in flight is what limits the throughput, and reading the
JSON here also turns a malformed body into a retry instead of an unexplained failure. The aiohttp
transport (`openai[aiohttp]`) is used when installed: httpx's connection pool costs CPU in
proportion to the number of connections.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import random
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kgsynth.models.base import ChatRequest, Completion, ModelSetupError, RequestFailed, redact_url

if TYPE_CHECKING:
    from openai import AsyncOpenAI

logger = logging.getLogger(__name__)

# Statuses worth another try: overload, rate limits and server faults.
RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
# Statuses that say the whole run is misconfigured; retrying or moving on to other items is pointless.
SETUP_STATUS = {
    401: "the API key was refused",
    403: "the API key may not use this model or endpoint",
    404: "no such model or endpoint",
}
TRANSPORT_MODULES = frozenset({"httpx2", "httpcore2", "httpx", "httpcore", "aiohttp"})
PLACEHOLDER_KEY = "EMPTY"  # what vLLM's server expects when it was started without --api-key


class MalformedResponse(Exception):
    """A 200 response whose body is not a chat completion."""


@dataclass
class ClientStats:
    """What the client did: requests sent, retries by reason, and how many were in flight on average."""

    sent: int = 0
    answered: int = 0
    failed: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    peak_in_flight: int = 0
    _busy_area: float = 0.0
    _last_change: float = field(default_factory=time.perf_counter)
    _started: float = field(default_factory=time.perf_counter)

    def _change(self, delta: int) -> None:
        now = time.perf_counter()
        self._busy_area += self.in_flight * (now - self._last_change)
        self._last_change = now
        self.in_flight += delta
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def reset_window(self) -> None:
        """Start measuring the average concurrency afresh (the benchmark skips its warm-up)."""
        self._change(0)
        self._busy_area = 0.0
        self._started = self._last_change

    def mean_in_flight(self) -> float:
        """The time-averaged number of requests in flight since the start of the window."""
        self._change(0)
        elapsed = self._last_change - self._started
        return self._busy_area / elapsed if elapsed > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "answered": self.answered,
            "failed": self.failed,
            "retries": dict(sorted(self.retries.items())),
            "peak_in_flight": self.peak_in_flight,
        }


class OpenAIChat:
    """A teacher served by any OpenAI-compatible chat-completions endpoint.

    >>> teacher = OpenAIChat(model="Qwen/Qwen3-32B", base_url="http://127.0.0.1:8000/v1", concurrency=64)
    >>> teacher.concurrency
    64
    """

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 16,
        timeout: float = 120.0,
        max_retries: int = 6,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        seed: int | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.model = model
        self.base_url = base_url
        self.shown_url = redact_url(base_url) or "OpenAI"  # what messages and logs may show
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.stats = ClientStats()
        self._jitter = random.Random(seed)
        self._client: AsyncOpenAI | None = None
        self._slots: asyncio.Semaphore | None = None
        self._responded = False  # whether the server has sent any HTTP response yet

    # -- the client, created lazily --------------------------------------------------------------

    def _api_key(self) -> str:
        key = os.environ.get(self.api_key_env)
        if key:
            return key
        if self.base_url is None:
            raise ModelSetupError(
                f"no API key: the environment variable {self.api_key_env} is not set",
                hint=f"export {self.api_key_env}=..., or name another variable with --teacher-api-key-env",
            )
        # Local servers (vLLM without --api-key, test servers) accept any key.
        logger.info("%s is not set; sending a placeholder key to %s", self.api_key_env, self.shown_url)
        return PLACEHOLDER_KEY

    @property
    def client(self) -> AsyncOpenAI:
        if self._client is None:
            import openai

            limits = _connection_limits(self.concurrency)
            try:
                http_client = openai.DefaultAioHttpClient(timeout=self.timeout, limits=limits)
            except RuntimeError:  # openai installed without its aiohttp extra
                http_client = openai.DefaultAsyncHttpxClient(timeout=self.timeout, limits=limits)
            self._client = openai.AsyncOpenAI(
                api_key=self._api_key(),
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=0,  # retried here, with the budget and the statistics in view
                http_client=http_client,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    # -- requests ------------------------------------------------------------------------------

    async def complete(self, request: ChatRequest) -> Completion:
        """The completion for `request`, after as many retries as transient faults need."""
        import openai

        client = self.client
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        body = request.body()
        # The slot is held while backing off, so a rate-limited server sees fewer requests, not more.
        async with self._slots:
            for attempt in range(self.max_retries + 1):
                retry_after: float | None = None
                self.stats.sent += 1
                self.stats._change(+1)
                try:
                    response = await client.post("/chat/completions", body=body, cast_to=_raw_response())
                    self._responded = True
                    completion = _parse_completion(response.content)
                except openai.APIStatusError as error:
                    self._responded = True
                    status = error.status_code
                    if status in SETUP_STATUS:
                        raise ModelSetupError(
                            f"{self.shown_url} answered {status} for model {self.model!r}: {SETUP_STATUS[status]}",
                            hint="check --teacher-base-url, --teacher-model and the API key",
                        ) from error
                    if status not in RETRYABLE_STATUS and status < 500:
                        self.stats.failed += 1
                        raise RequestFailed("request_rejected", f"HTTP {status}: {error.message}") from error
                    reason = str(status)
                    retry_after = _retry_after(error.response.headers.get("retry-after"))
                except openai.APIConnectionError as error:  # timeouts included
                    unreachable = _unreachable(error)
                    if unreachable and not self._responded:
                        self.stats.failed += 1
                        raise ModelSetupError(
                            f"cannot connect to the teacher at {self.shown_url}: {unreachable}",
                            hint="start the server, or check --teacher-base-url",
                        ) from None
                    timed_out = isinstance(error, openai.APITimeoutError) and not unreachable
                    reason = "timeout" if timed_out else "connection"
                except (MalformedResponse, ValueError, UnicodeDecodeError):
                    reason = "malformed"
                except Exception as error:  # the transport's own errors when reading a cut-off body
                    if type(error).__module__.split(".")[0] not in TRANSPORT_MODULES:
                        raise
                    reason = "connection"
                else:
                    self.stats.answered += 1
                    return completion
                finally:
                    self.stats._change(-1)
                self.stats.retries[reason] += 1
                if attempt == self.max_retries:
                    break
                delay = self._backoff(attempt, retry_after)
                logger.debug("retrying after %s in %.2f s (attempt %d)", reason, delay, attempt + 1)
                await asyncio.sleep(delay)
        self.stats.failed += 1
        if not self._responded:
            raise ModelSetupError(
                f"the teacher at {self.shown_url} has not answered any request: "
                f"last fault {reason} after {self.max_retries + 1} attempts",
                hint="check that the server is up and --teacher-base-url points at it (or raise --request-timeout)",
            )
        raise RequestFailed("retries_exhausted", f"last fault {reason} after {self.max_retries + 1} attempts")

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * 2**attempt)
        delay = self._jitter.uniform(0, ceiling)  # full jitter spreads the retries of a burst
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff_max))
        return delay


def _unreachable(error: BaseException) -> str | None:
    """Why the server could not be reached at all (refused, unknown host), if that is what `error` says.

    The transports report a refused connection as a connect *timeout*; the operating system's own
    error, further down the chain of causes, says what happened.
    """
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return f"the host name cannot be resolved ({seen.strerror})"
        if isinstance(seen, ConnectionRefusedError) or getattr(seen, "errno", None) == errno.ECONNREFUSED:
            return "connection refused (nothing is listening there)"
        if getattr(seen, "errno", None) in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return f"unreachable ({os.strerror(seen.errno)})"  # type: ignore[attr-defined]
        seen = seen.__cause__ or seen.__context__
    return None


def _connection_limits(concurrency: int) -> Any:
    import httpx2

    return httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)


def _raw_response() -> Any:
    import httpx2

    return httpx2.Response


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare from these servers, and the backoff covers it


def _parse_completion(content: bytes) -> Completion:
    data = json.loads(content)
    try:
        choice = data["choices"][0]
        message = choice["message"]
        text = message["content"]
    except (KeyError, IndexError, TypeError) as error:
        raise MalformedResponse(f"not a chat completion: {content[:200]!r}") from error
    if not isinstance(text, str):
        raise MalformedResponse("the completion has no text content")
    # Servers that split the reasoning off (vLLM's --reasoning-parser, DeepSeek's API) return it beside
    # the answer; put it back where the parser and the chain-of-thought records expect it.
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning and "<think>" not in text:
        text = f"<think>{reasoning}</think>\n{text.lstrip()}"
    usage = data.get("usage") or {}
    return Completion(
        text=text,
        finish_reason=choice.get("finish_reason"),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
    )
