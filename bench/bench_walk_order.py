"""Measure open-book facts worded in walk order against the stored direction, on the same items, by hop score.

    python bench/bench_walk_order.py EXPORT[:split] [--model .models/SmolLM2-135M-Instruct.Q4_1.gguf]
                                     [--limit 40] [--seed 0] [--threads 1] [--out /tmp/walk-order]

Baseline: each item's facts in the edge's stored direction (`student_messages(item, wording="stored")`,
what kgsynth shipped before); ours: in walk order (the default). Both are scored by log-likelihood
(`kgsynth.eval.loglik`: hop1, hop2, ..., chain; the multiple-choice queries are left out, the facts' wording
is what changes) with the same model on the same `--limit` items, then compared item by item
(`kgsynth.eval.paired`: paired difference, McNemar, margins), also per direction pattern of the items.
Prints each query's accuracy both ways, the ratio walk / stored, and the paired statistics.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from kgsynth.eval.backends import TransformersBackend
from kgsynth.eval.benchmarks import EvalItem, EvalSet, resolve_set
from kgsynth.eval.evaluate import EvalConfig, select_items
from kgsynth.eval.loglik import evaluate_loglik
from kgsynth.eval.paired import CompareConfig, read_outcomes
from kgsynth.eval.paired import compare_pair as paired

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / ".models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def worded(spec: str, limit: int, seed: int) -> tuple[EvalSet, EvalSet]:
    """The same open-book items twice: facts in the stored direction, and in walk order (hop queries only)."""
    import pyarrow.parquet as pq

    from kgsynth.dataset.rows import item_from_row
    from kgsynth.questions.prompt import student_messages
    from kgsynth.run.layout import data_file

    evalset = resolve_set(spec)
    chosen = [i for i in select_items(evalset.items, limit=None, seed=seed) if i.chains]
    chosen = select_items(chosen, limit=limit, seed=seed)
    directory, _, split = spec.partition(":")
    rows = pq.read_table(Path(directory) / data_file("items", split or "test")).to_pylist()
    items = {row["id"]: item_from_row(row) for row in rows}

    def messages(item: EvalItem, wording: str) -> EvalItem:
        prompt = student_messages(items[item.id], wording=wording)  # type: ignore[arg-type]
        return replace(item, messages=tuple(dict(m) for m in prompt), options=())  # type: ignore[misc]

    stored = EvalSet("stored", spec, "kgsynth", [messages(i, "stored") for i in chosen])
    walk = EvalSet("walk", spec, "kgsynth", [messages(i, "walk") for i in chosen])
    return stored, walk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("export", help="an export folder with open-book items, EXPORT[:split]")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("/tmp/walk-order"))
    args = parser.parse_args()
    stored, walk = worded(args.export, args.limit, args.seed)
    backend = TransformersBackend(args.model, threads=args.threads)
    config = EvalConfig(scoring="loglik", seed=args.seed)
    for evalset in (stored, walk):
        evaluate_loglik([backend], [evalset], args.out / evalset.name, config=config)
    a = read_outcomes(args.out / "stored")
    b = read_outcomes(args.out / "walk")
    label = backend.label
    directions = {i.id: dict(i.groups).get("direction", "-") for i in walk.items}
    print(f"{args.export}: {len(walk.items)} open-book items, {label}, facts stored vs walk order")
    print("query   n  stored %  walk %  ratio  walk - stored [95% Wald]  wins/losses  McNemar p  margin diff")
    compare = CompareConfig(seed=args.seed)
    for (model, _, query), outcomes in sorted(a.items()):
        other = b[(model, "walk", query)]
        s = paired(outcomes, other, config=compare)
        ratio = s["acc_b"] / s["acc_a"] if s["acc_a"] else float("nan")
        low, high = s["diff_ci95"]
        print(f"{query:6} {s['n']:3} {100 * s['acc_a']:8.1f} {100 * s['acc_b']:7.1f} {ratio:6.2f}  "
              f"{100 * s['diff']:+6.1f} [{100 * low:+.1f}, {100 * high:+.1f}]  {s['wins']:5}/{s['losses']:<5} "
              f"{s['mcnemar_p']:9.3g}  {s.get('margin_diff', 0):+.3f}")  # fmt: skip
        for pattern in sorted(set(directions.values())):
            ids = {i for i, d in directions.items() if d == pattern}
            sub = paired({k: v for k, v in outcomes.items() if k in ids}, {k: v for k, v in other.items() if k in ids},
                         config=compare)  # fmt: skip
            print(f"  {pattern:4} {sub['n']:3} {100 * (sub['acc_a'] or 0):8.1f} {100 * (sub['acc_b'] or 0):7.1f}")
    (args.out / "walk_order.json").write_text(json.dumps({"stored": str(args.out / "stored"),
                                                          "walk": str(args.out / "walk")}) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
