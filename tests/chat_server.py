"""A real HTTP server on loopback that speaks OpenAI's chat-completions protocol, with injected faults.

Started by the tests (in a thread, `ChatServer(...).start()`) and by the benchmark (in a process of
its own, `python tests/chat_server.py --latency 0.05`). It answers `POST /v1/chat/completions` with
`reply(request)` -- by default a fixed correct-format completion -- and `GET /v1/models`.

Faults are chosen per request by `fault(request, seen)`, where `seen` counts how often the same
request body arrived before, so a test can say "every request fails once, then succeeds":

- `"429"`, `"500"`, `"503"`: that status with an OpenAI-style error body (429 with `Retry-After: 0`);
- `"400"`, `"401"`: that status (not retryable);
- `"timeout"`: hold the request for `hang_seconds` and then close the connection unanswered;
- `"disconnect"`: close the connection without answering;
- `"malformed"`: 200 with a body that is not JSON;
- `"truncated"`: 200 whose body stops half-way (Content-Length promises more, the connection closes);
- `"empty"`: 200 with valid JSON but no choices.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Reply = Callable[[dict[str, Any]], "str | tuple[str, str]"]
Fault = Callable[[dict[str, Any], int], "str | None"]

DEFAULT_TEXT = "<think>Walking the path step by step.</think>\nAnswer: A"
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 429: "Too Many Requests"}


def body_key(request: dict[str, Any]) -> str:
    """A stable digest of a request body (what the client asked, independent of key order)."""
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def completion_body(request: dict[str, Any], text: str, finish_reason: str = "stop") -> dict[str, Any]:
    prompt_words = sum(len(str(m.get("content", "")).split()) for m in request.get("messages", []))
    return {
        "id": "chatcmpl-" + body_key(request)[:24],
        "object": "chat.completion",
        "created": 0,
        "model": request.get("model", "test-teacher"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_words,
            "completion_tokens": len(text.split()),
            "total_tokens": prompt_words + len(text.split()),
        },
    }


@dataclass
class Served:
    """One request the server received, and what it did with it."""

    key: str
    request: dict[str, Any]
    outcome: str  # "ok" or the fault's name
    authorization: str | None = None


@dataclass
class ChatServer:
    reply: Reply = field(default=lambda request: DEFAULT_TEXT)
    fault: Fault = field(default=lambda request, seen: None)
    latency: float = 0.0
    hang_seconds: float = 30.0
    host: str = "127.0.0.1"
    port: int = 0
    log: list[Served] = field(default_factory=list)
    active: int = 0  # chat requests being handled now
    peak_active: int = 0
    _seen: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.AbstractServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def ok_count(self, key: str) -> int:
        """How many times the request with this body key was answered successfully."""
        with self._lock:
            return sum(1 for served in self.log if served.key == key and served.outcome == "ok")

    def served_ok(self) -> Counter[str]:
        with self._lock:
            return Counter(served.key for served in self.log if served.outcome == "ok")

    # -- running -------------------------------------------------------------------------------

    def start(self) -> ChatServer:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._handle, self.host, self.port, backlog=1024)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="chat-server", daemon=True)
        self._thread.start()
        ready.wait()
        return self

    def stop(self) -> None:
        if self._loop is None or self._server is None:
            return
        loop, server = self._loop, self._server

        async def shutdown() -> None:
            server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join()
        self._loop = None

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def serve_forever(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port, backlog=4096)
        self.port = self._server.sockets[0].getsockname()[1]
        print(f"PORT {self.port}", flush=True)
        async with self._server:
            await self._server.serve_forever()

    # -- HTTP ----------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.active += 1
                self.peak_active = max(self.peak_active, self.active)
                try:
                    keep_open = await self._respond(method, path, body, writer, headers)
                finally:
                    self.active -= 1
                if not keep_open:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _respond(
        self, method: str, path: str, raw: bytes, writer: asyncio.StreamWriter, headers: dict[str, str]
    ) -> bool:
        if method == "GET" and path.rstrip("/").endswith("/models"):
            return await self._send(writer, 200, {"object": "list", "data": [{"id": "test-teacher"}]})
        if method != "POST" or not path.rstrip("/").endswith("/chat/completions"):
            return await self._send(writer, 404, {"error": {"message": f"no route {method} {path}"}})
        request = json.loads(raw)
        key = body_key(request)
        with self._lock:
            seen = self._seen[key]
            self._seen[key] += 1
        fault = self.fault(request, seen)
        if self.latency:
            await asyncio.sleep(self.latency)
        outcome = fault or "ok"
        with self._lock:
            self.log.append(Served(key, request, outcome, headers.get("authorization")))
        if fault is None:
            answer = self.reply(request)
            text, finish = answer if isinstance(answer, tuple) else (answer, "stop")
            return await self._send(writer, 200, completion_body(request, text, finish))
        if fault in {"429", "500", "503", "400", "401"}:
            status = int(fault)
            extra = {"Retry-After": "0"} if status == 429 else {}
            error = {"error": {"message": f"injected {status}", "type": "injected", "code": status}}
            return await self._send(writer, status, error, extra)
        if fault == "timeout":
            await asyncio.sleep(self.hang_seconds)
            return False
        if fault == "disconnect":
            return False
        if fault == "malformed":
            return await self._send_raw(writer, 200, b'{"id": "x", "choices": [ {oops')
        if fault == "truncated":
            full = json.dumps(completion_body(request, DEFAULT_TEXT)).encode()
            await self._send_raw(writer, 200, full[: len(full) // 2], content_length=len(full))
            return False
        if fault == "empty":
            return await self._send(writer, 200, {**completion_body(request, ""), "choices": []})
        raise ValueError(f"unknown fault {fault!r}")

    async def _send(
        self, writer: asyncio.StreamWriter, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> bool:
        return await self._send_raw(writer, status, json.dumps(payload).encode(), headers=headers)

    async def _send_raw(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes,
        *,
        content_length: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> bool:
        reason = _REASONS.get(status, "Error")
        head = [
            f"HTTP/1.1 {status} {reason}",
            "Content-Type: application/json",
            f"Content-Length: {content_length if content_length is not None else len(body)}",
        ]
        head += [f"{name}: {value}" for name, value in (headers or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to wait before answering")
    args = parser.parse_args()
    server = ChatServer(latency=args.latency, port=args.port)
    started = time.monotonic()
    try:
        asyncio.run(server.serve_forever())
    except KeyboardInterrupt:
        pass
    finally:
        print(f"served {len(server.log)} requests in {time.monotonic() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
