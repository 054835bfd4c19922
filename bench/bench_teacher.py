"""Benchmark the teacher client: CPU time per request and throughput against a loopback server.

    .venv/bin/python bench/bench_teacher.py                      # concurrency 1, 64, 256; 50 ms latency
    .venv/bin/python bench/bench_teacher.py --levels 16 --requests 2000 --latency 0.1

The chat-completions server (tests/chat_server.py) runs in a process of its own and answers every
request after `--latency` seconds, so the CPU measured here (`time.process_time` of this process)
is the client's alone. Achieved concurrency is the time-averaged number of requests in flight
(sent, not yet handled by the client), over the limit; `throughput_x_latency` is requests per
second times the server's latency, what the server would see if nothing queued in the client.
Targets: at most 2 ms of client CPU per request, achieved concurrency at least 90%.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kgsynth.models.base import ChatRequest, SamplingParams  # noqa: E402
from kgsynth.models.openai import OpenAIChat  # noqa: E402
from kgsynth.teacher.prompts import teacher_messages  # noqa: E402
from tests.teacher_items import make_item  # noqa: E402

CPU_TARGET_MS = 2.0
CONCURRENCY_TARGET = 0.9


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "chat_server.py"), "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    port = int(server.stdout.readline().split()[1])
    return server, f"http://127.0.0.1:{port}/v1"


async def measure(base_url: str, concurrency: int, requests: int, latency: float) -> dict[str, Any]:
    teacher = OpenAIChat(model="bench-teacher", base_url=base_url, concurrency=concurrency, timeout=60.0)
    # A realistic request: a rendered teacher prompt for a 2-hop item, distinct per request (seed).
    messages = teacher_messages(make_item(0))
    params = SamplingParams(temperature=0.7, top_p=1.0, max_tokens=2048)
    batch = [ChatRequest("bench-teacher", messages, params, seed) for seed in range(requests)]
    try:
        await asyncio.gather(*(teacher.complete(r) for r in batch[: 2 * concurrency]))  # warm-up: connect
        teacher.stats.reset_window()
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(teacher.complete(request) for request in batch))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        achieved = teacher.stats.mean_in_flight()
    finally:
        await teacher.aclose()
    cpu_ms = 1000 * cpu / requests
    return {
        "concurrency": concurrency,
        "requests": requests,
        "seconds": round(wall, 3),
        "requests_per_second": round(requests / wall, 1),
        "client_cpu_ms_per_request": round(cpu_ms, 3),
        "achieved_concurrency": round(achieved, 1),
        "achieved_fraction": round(achieved / concurrency, 3),
        # Little's law: the concurrency a server would see if every request took exactly the latency.
        "throughput_x_latency": round(requests / wall * latency, 1),
        "cpu_target_met": cpu_ms <= CPU_TARGET_MS,
        "concurrency_target_met": achieved / concurrency >= CONCURRENCY_TARGET,
        "retries": dict(teacher.stats.retries),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 64, 256])
    parser.add_argument("--latency", type=float, default=0.05, help="server latency in seconds")
    parser.add_argument("--requests", type=int, default=None, help="requests per level (default: scaled)")
    args = parser.parse_args()
    server, base_url = start_server(args.latency)
    try:
        levels = []
        for concurrency in args.levels:
            count = args.requests or max(100, 40 * concurrency)
            levels.append(asyncio.run(measure(base_url, concurrency, count, args.latency)))
    finally:
        server.terminate()
        server.wait()
    report = {
        "benchmark": "teacher client (OpenAI-compatible, loopback server)",
        "latency_seconds": args.latency,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores",
        "levels": levels,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
