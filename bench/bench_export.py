"""Benchmark dedup + decontamination and the split of 100,000 items, each against a baseline in the same run.

    python bench/bench_export.py --runs RUN [RUN ...] [--items 100000] [--planted 200] [--baseline-split-items 3000]

Items come from the given `kgsynth generate` runs (concatenated, in order, cut at --items); without
--runs, four runs of 25,000 items are generated into a temporary folder first (seeds 1-4; hops 2, 2, 3, 3).
Copies of benchmark questions are planted among them (--planted; verbatim, re-cased, and with one
sentence reworded, in turn) to show what each method catches.

1. kgsynth: `kgsynth.dedup.dedup` (exact, path key, MinHash LSH near duplicates), then
   `kgsynth.decontam.decontaminate` (exact, long n-grams without boilerplate, rapidfuzz on candidates),
   including reading the benchmarks.
2. Baseline, in the same run: exact dedup of normalised questions, then any item sharing any word
   8-gram with any benchmark question is dropped.

Prints wall time, CPU time (the honest number on a shared machine), peak traced memory of each
(memory measured in a second, untimed pass under `tracemalloc`), the ratio of times, and how many
items each drops, planted copies caught and clean items flagged. Target: kgsynth under 60 s on 2 cores.

3. The split (`kgsynth.split.split_items`) of the items left, by path and by answer, timed at the full
   count (target: by path under 60 s at 100,000), and against the sweeps of growing price limit it
   replaced (`split_by_passes` below, quadratic: 262 s on 10,000 items) on the first
   --baseline-split-items of them, where both run: times, their ratio, and the items each drops.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kgsynth.decontam import DecontamConfig, benchmarks_root, decontaminate, load_benchmarks
from kgsynth.dedup import dedup
from kgsynth.generate import read_items
from kgsynth.item import Item
from kgsynth.split import (
    HELD_OUT,
    SplitConfig,
    SplitResult,
    _Selection,
    _take,
    _wanted_counts,
    exposed_entities,
    protected_entities,
    split_items,
    split_result,
    stratum,
)
from kgsynth.text import normalise_text, word_ngrams


def make_runs(root: Path) -> list[Path]:
    from kgsynth.assemble import load_graph
    from kgsynth.generate import generate
    from kgsynth.question import GenerateConfig

    graph = load_graph()
    runs = []
    for seed, hops in ((1, 2), (2, 2), (3, 3), (4, 3)):
        out = root / f"run-{seed}"
        generate(graph, GenerateConfig(n=25_000, hops=hops, seed=seed), out, compare_uniform=False)
        runs.append(out)
    return runs


def plant(items: list[Item], count: int) -> tuple[list[Item], set[str]]:
    """`items` with `count` of them replaced by copies of MedQA and MedMCQA questions, spread evenly."""
    root = benchmarks_root()
    assert root is not None, "the shared benchmarks folder is needed"
    medqa = [json.loads(line)["question"] for line in (root / "medqa" / "us_4_options_test.jsonl").open()]
    medmcqa = [json.loads(line)["question"] for line in (root / "medmcqa" / "dev.jsonl").open()]
    sources = [q for pair in zip(medqa, medmcqa, strict=False) for q in pair]
    step = max(1, len(items) // max(count, 1))
    planted: set[str] = set()
    out = list(items)
    for k in range(count):
        text = sources[k]
        if k % 3 == 1:
            text = text.upper()
        elif k % 3 == 2 and ". " in text:
            first, rest = text.split(". ", 1)
            text = "Reworded: " + " ".join(reversed(first.split())) + ". " + rest
        index = k * step
        # A fresh answer and no constraints, so that dedup cannot take the copy for its host's duplicate.
        answer = out[index].answer.model_copy(update={"curie": f"PLANTED:{k}"})
        update = {"id": f"planted-{k}", "question": text, "answer": answer, "constraints": [], "path": []}
        out[index] = out[index].model_copy(update=update)
        planted.add(f"planted-{k}")
    return out, planted


def kgsynth_method(items: list[Item]) -> tuple[list[Item], set[str]]:
    unique = dedup(items)
    duplicates = {item_id for ids in unique.dropped.values() for item_id in ids}
    return decontaminate(unique.kept, load_benchmarks(DecontamConfig())).kept, duplicates


def baseline_method(items: list[Item]) -> tuple[list[Item], set[str]]:
    seen: set[str] = set()
    unique, duplicates = [], set()
    for item in items:
        key = normalise_text(item.question)
        if key in seen:
            duplicates.add(item.id)
        else:
            seen.add(key)
            unique.append(item)
    grams: set[str] = set()
    for question in load_benchmarks(DecontamConfig()):
        grams.update(word_ngrams(normalise_text(question.text).split(), 8))
    clean = [
        item for item in unique if not any(g in grams for g in word_ngrams(normalise_text(item.question).split(), 8))
    ]
    return clean, duplicates


def measure(method: Callable[[list[Item]], tuple[list[Item], set[str]]], items: list[Item]) -> dict[str, Any]:
    start, cpu = time.perf_counter(), time.process_time()
    kept, duplicates = method(items)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    tracemalloc.start()
    method(items)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"seconds": seconds, "cpu": cpu, "peak_mib": peak / 2**20, "kept": kept, "duplicates": duplicates}


_PASSES = (-1.0, 0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0, float(1 << 30))


def split_by_passes(items: list[Item], config: SplitConfig) -> SplitResult:
    """The split as it was before the priority queue: passes of growing price limit, each sweeping every
    stratum in seeded-hash order and pricing every item afresh (uncapped) until nothing more fits."""
    by = config.split_by
    protected = {item.id: protected_entities(item, split_by=by) for item in items}
    exposed = {item.id: exposed_entities(item, split_by=by) for item in items}
    exposing: dict[str, dict[str, None]] = defaultdict(dict)
    for item in items:
        for entity in sorted(exposed[item.id]):
            exposing[entity][item.id] = None
    selection = _Selection(protected, exposed, dict(exposing))
    strata = {item.id: stratum(item) for item in items}
    by_stratum: dict[tuple[str, int], list[str]] = defaultdict(list)
    for item in items:
        by_stratum[strata[item.id]].append(item.id)
    for members in by_stratum.values():
        members.sort(key=lambda i: hashlib.sha256(f"{config.seed}\x00{i}".encode()).hexdigest())
    wanted = _wanted_counts(by_stratum, config)
    for limit in _PASSES:
        progress = True
        while progress:
            progress = False
            for key in sorted(by_stratum):
                for item_id in by_stratum[key]:
                    if not any(count > 0 for count in wanted[key].values()):
                        break
                    if item_id in selection.split_of:
                        continue
                    best, chosen = None, None
                    for order, name in enumerate(HELD_OUT):
                        if wanted[key][name] <= 0 or not selection.allowed(item_id, name):
                            continue

                        def room(other: str, split: str = name) -> bool:
                            return wanted[strata[other]][split] > 0

                        price = selection.price(item_id, name, room)
                        rank = (price, -wanted[key][name], order)
                        if price <= limit and (best is None or rank < best):
                            best, chosen = rank, name
                    if chosen is not None:
                        _take(selection, item_id, chosen, wanted, strata)
                        progress = True
    return split_result(items, selection)


def time_split(split: Callable[[list[Item], SplitConfig], SplitResult], items: list[Item], by: str) -> str:
    start, cpu = time.perf_counter(), time.process_time()
    result = split(items, SplitConfig(split_by=by))  # type: ignore[arg-type]
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return f"{seconds:6.1f} s wall, {cpu:6.1f} s CPU; {result.counts()}"


def bench_split(items: list[Item], baseline_items: int) -> None:
    def queue(chosen: list[Item], config: SplitConfig) -> SplitResult:
        return split_items(chosen, config=config)

    for by in ("path", "answer"):
        print(f"split by {by:>6} of {len(items):,} items, priority queue: {time_split(queue, items, by)}")
    few = items[:baseline_items]
    for by in ("path", "answer"):
        start = time.process_time()
        ours = time_split(queue, few, by)
        mid = time.process_time()
        theirs = time_split(split_by_passes, few, by)
        ratio = (time.process_time() - mid) / max(mid - start, 1e-9)
        print(f"split by {by:>6} of {len(few):,} items, priority queue: {ours}")
        print(f"split by {by:>6} of {len(few):,} items, passes (before): {theirs}")
        print(f"split by {by:>6}: passes / priority queue CPU time at {len(few):,} items: {ratio:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="*", type=Path, default=None)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--planted", type=int, default=200)
    parser.add_argument(
        "--baseline-split-items",
        type=int,
        default=3000,
        help="items both splits run on (the passes take minutes above a few thousand)",
    )
    parser.add_argument("--split-only", action="store_true", help="skip dedup and decontamination")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        runs = args.runs or make_runs(Path(tmp))
        items = [item for run in runs for item in read_items(run)][: args.items]
    if args.split_only:
        print(f"{len(items):,} items from {len(runs)} runs ({', '.join(str(r) for r in runs)})")
        bench_split(items, args.baseline_split_items)
        return
    items, planted = plant(items, args.planted)
    print(f"{len(items):,} items from {len(runs)} runs ({', '.join(str(r) for r in runs)}), {len(planted)} planted")
    results = {"kgsynth": measure(kgsynth_method, items), "baseline any-8-gram": measure(baseline_method, items)}
    for name, r in results.items():
        kept = {item.id for item in r["kept"]}
        contaminated = {item.id for item in items} - kept - r["duplicates"]
        print(f"{name:>20}: {r['seconds']:6.1f} s wall, {r['cpu']:6.1f} s CPU, peak {r['peak_mib']:7.1f} MiB traced; "
              f"kept {len(kept):,}; duplicates {len(r['duplicates']):,}; dropped as contaminated: planted "
              f"{len(contaminated & planted)}/{len(planted)} (+{len(r['duplicates'] & planted)} planted dropped as "
              f"duplicates), generated items {len(contaminated - planted):,}")  # fmt: skip
    ours, base = results["kgsynth"], results["baseline any-8-gram"]
    print(
        f"time ratio kgsynth / baseline: {ours['seconds'] / base['seconds']:.2f}x wall, "
        f"{ours['cpu'] / base['cpu']:.2f}x CPU (target: kgsynth < 60 s on 2 cores; both run on one core)"
    )
    bench_split(ours["kept"], args.baseline_split_items)


if __name__ == "__main__":
    main()
