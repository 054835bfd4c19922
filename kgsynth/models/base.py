"""What every model backend speaks: the message type, a request, a completion, the errors, the `ChatModel` protocol.

The teacher, the judge, evaluation and the trainers' mining ask models through this layer
(`kgsynth.models.openai`, `.transformers`, `.vllm`); a request's cache key is a digest of the fields
that change its answer (an allow-list: `ChatRequest.body`), never of timeouts or batch sizes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from kgsynth.errors import KgsynthError

Message = dict[str, str]


@dataclass(frozen=True)
class SamplingParams:
    """The sampling parameters a request carries (they change its answer, so they are hashed)."""

    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 2048


@dataclass(frozen=True)
class ChatRequest:
    """One chat-completion request: everything that determines the model's answer, and nothing else."""

    model: str
    messages: tuple[Message, ...]
    params: SamplingParams = field(default_factory=SamplingParams)
    seed: int = 0

    def body(self) -> dict[str, Any]:
        """The JSON body of the request, as an OpenAI-compatible server receives it."""
        return {
            "model": self.model,
            "messages": [dict(message) for message in self.messages],
            "temperature": self.params.temperature,
            "top_p": self.params.top_p,
            "max_tokens": self.params.max_tokens,
            "seed": self.seed,
        }

    def cache_key(self) -> str:
        """A digest of what determines the answer (model, messages, sampling parameters, seed).

        Timeouts, concurrency, endpoints and keys are not part of it: they change how a request
        travels, not what it asks.
        """
        canonical = json.dumps(self.body(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Completion:
    """A model's answer to one request."""

    text: str
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "finish_reason": self.finish_reason,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Completion:
        return cls(
            text=data["text"],
            finish_reason=data.get("finish_reason"),
            prompt_tokens=int(data.get("prompt_tokens", 0)),
            completion_tokens=int(data.get("completion_tokens", 0)),
        )


class ChatModel(Protocol):
    """A model backend: answers chat requests, one per call, many at once when called concurrently
    (`complete_many`; the vLLM backend gathers concurrent requests into one engine batch)."""

    model: str

    async def complete(self, request: ChatRequest) -> Completion:
        """The completion for `request`; raises `RequestFailed` when this request cannot be answered."""
        ...

    async def aclose(self) -> None:
        """Release connections, threads or engines."""
        ...


class ModelError(KgsynthError):
    """Base class of the errors of asking a model."""


async def complete_many(model: ChatModel, requests: Sequence[ChatRequest]) -> list[Completion]:
    """The completions of ``requests``, in order, asked concurrently (a failed one raises)."""
    return list(await asyncio.gather(*(model.complete(request) for request in requests)))


class ModelSetupError(ModelError):
    """The model cannot be used at all (no key, wrong endpoint or model): the run stops."""


class RequestFailed(ModelError):
    """One request could not be answered; the item records `reason`, and a rerun tries it again."""

    def __init__(self, reason: str, detail: str, *, hint: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}", hint=hint)
        self.reason = reason
        self.detail = detail


class BudgetExhausted(ModelError):
    """The run's request or token budget is spent; unanswered items wait for the next run."""


def redact_url(url: str | None) -> str | None:
    """``url`` without the credentials it may carry, fit for files, logs and messages.

    >>> redact_url("http://alice:s3cret@127.0.0.1:8000/v1")
    'http://***@127.0.0.1:8000/v1'
    >>> redact_url("https://api.openai.com/v1")
    'https://api.openai.com/v1'
    """
    if url is None:
        return None
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))
