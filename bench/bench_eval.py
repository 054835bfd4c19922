"""Benchmark `kgsynth eval`'s batched generation against one prompt at a time, in the same run.

    python bench/bench_eval.py [--model .models/SmolLM2-135M-Instruct.Q4_1.gguf] [--benchmark pubmedqa]
                               [--limit 48] [--max-new-tokens 32] [--batch-size 8] [--threads 1]

1. Baseline: `TransformersBackend` with batch size 1 (what a per-request loop, like the local teacher, does).
2. kgsynth eval: the same backend with `--batch-size` prompts per generate call (left-padded).

Each runs into a fresh folder (no cache), after the model is loaded (load time is not counted). Prints
seconds and items per second of each, the speed-up ratio, and how many completions are identical
between the two: greedy decoding of a padded batch may differ from the unpadded prompt by float
rounding, which is also what a resumed evaluation (batches formed from the pending items) can show.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from kgsynth.eval.backends import TransformersBackend
from kgsynth.eval.benchmarks import resolve_set
from kgsynth.eval.evaluate import EvalConfig, evaluate

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / ".models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def timed(backend: TransformersBackend, spec: str, config: EvalConfig) -> tuple[float, list[str]]:
    """Seconds to evaluate `backend` on `spec` from scratch, and the completions in item order."""
    import json

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        evaluate([backend], [resolve_set(spec)], Path(out), config=config)
        seconds = time.perf_counter() - start
        folder = next((Path(out) / "items").iterdir())
        completions = [json.loads(line)["completion"] for line in next(folder.iterdir()).open()]
    return seconds, completions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--benchmark", default="pubmedqa")
    parser.add_argument("--limit", type=int, default=48)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    config = EvalConfig(max_new_tokens=args.max_new_tokens, limit=args.limit, threads=args.threads)
    single = TransformersBackend(args.model, batch_size=1, threads=args.threads)
    single.load()
    batched = TransformersBackend(args.model, batch_size=args.batch_size, threads=args.threads)
    batched._loaded = single._loaded  # the same weights, loaded once
    base_s, base_out = timed(single, args.benchmark, config)
    ours_s, ours_out = timed(batched, args.benchmark, config)
    n = len(base_out)
    same = sum(a == b for a, b in zip(base_out, ours_out, strict=True))
    print(f"{args.benchmark}, {n} items, max {args.max_new_tokens} new tokens, {args.threads} torch thread(s)")
    print(f"baseline (batch 1):       {base_s:7.1f} s  {n / base_s:6.2f} items/s")
    print(f"kgsynth eval (batch {args.batch_size}): {ours_s:7.1f} s  {n / ours_s:6.2f} items/s")
    print(f"speed-up: {base_s / ours_s:.2f}x; identical completions: {same}/{n}")


if __name__ == "__main__":
    main()
