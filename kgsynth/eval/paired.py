"""Paired statistics between two evaluations of the same items (`kgsynth eval-compare`).

Two models (or two training stages) asked the same items are compared item by item, not by two
separate intervals: per (set, query) over the item ids both evaluated,

- the accuracy of each and their **paired difference** (B - A) with a 95% interval (Wald's for paired
  proportions: se = sqrt(b + c - (b - c)^2 / n) / n, b and c the discordant counts) and a paired
  bootstrap interval (items resampled with replacement, `bootstrap` times, `seed`);
- the **exact McNemar test** on correctness: under "no difference" each discordant item (right in one,
  wrong in the other) is a fair coin, so p = min(1, 2 P(X <= min(b, c))), X ~ Binomial(b + c, 1/2);
- for log-likelihood scoring, the mean **margin** difference (`kgsynth.eval.loglik`: gold's log-probability
  minus the best other candidate's) with its paired bootstrap interval.

Generation results have one query, `answer` (the judged completion, no margin).
"""

from __future__ import annotations

import json
import logging
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kgsynth.errors import KgsynthError

logger = logging.getLogger(__name__)

ANSWER_QUERY = "answer"  # the query name of a generation result
PAIRED_FILE = "paired.json"
PAIRED_TABLE = "paired.md"
Z95 = 1.959963984540054


class CompareConfig(BaseModel):
    """How `kgsynth eval-compare` computes its paired statistics."""

    model_config = ConfigDict(extra="forbid")

    bootstrap: int = Field(default=2000, ge=100, description="paired bootstrap resamples")
    seed: int = Field(default=0, description="the bootstrap's seed")


@dataclass(frozen=True)
class Outcome:
    """One item's result in one query: correct or not, and its margin (None for generation)."""

    correct: bool
    margin: float | None


def mcnemar_exact(b: int, c: int) -> float:
    """The two-sided exact McNemar p-value of `b` and `c` discordant items (a binomial test at 1/2).

    >>> mcnemar_exact(0, 0), mcnemar_exact(1, 0), round(mcnemar_exact(9, 1), 6)
    (1.0, 1.0, 0.021484)
    """
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1))
    return float(min(Fraction(1), Fraction(2 * tail, 2**n)))


def paired_wald(b: int, c: int, n: int, *, z: float = Z95) -> tuple[float, float]:
    """The Wald 95% interval of a paired difference of proportions, (b - c) / n.

    >>> [round(x, 4) for x in paired_wald(10, 4, 50)]
    [-0.0228, 0.2628]
    """
    if n == 0:
        return -1.0, 1.0
    diff = (b - c) / n
    se = math.sqrt(max(0.0, b + c - (b - c) ** 2 / n)) / n
    return max(-1.0, diff - z * se), min(1.0, diff + z * se)


def bootstrap_mean(values: Sequence[float], *, resamples: int, seed: int) -> tuple[float, float]:
    """A 95% percentile interval of the mean of `values`, by resampling them with replacement (seeded)."""
    if not values:
        return 0.0, 0.0
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    return means[int(0.025 * resamples)], means[min(resamples - 1, int(0.975 * resamples))]


def compare_pair(a: Mapping[str, Outcome], b: Mapping[str, Outcome], *, config: CompareConfig) -> dict[str, Any]:
    """The paired statistics of B against A over the item ids both hold."""
    ids = sorted(set(a) & set(b))
    n = len(ids)
    wins = sum(b[i].correct and not a[i].correct for i in ids)  # B right, A wrong
    losses = sum(a[i].correct and not b[i].correct for i in ids)
    acc_a = sum(a[i].correct for i in ids) / n if n else None
    acc_b = sum(b[i].correct for i in ids) / n if n else None
    diffs = [float(b[i].correct) - float(a[i].correct) for i in ids]
    seed = config.seed
    out: dict[str, Any] = {
        "n": n,
        "acc_a": _round(acc_a),
        "acc_b": _round(acc_b),
        "diff": _round((wins - losses) / n if n else None),
        "diff_ci95": [round(x, 6) for x in paired_wald(wins, losses, n)],
        "diff_bootstrap_ci95": [
            round(x, 6) for x in bootstrap_mean(diffs, resamples=config.bootstrap, seed=config.seed)
        ],
        "wins": wins,
        "losses": losses,
        "mcnemar_p": mcnemar_exact(wins, losses),
    }
    margins = [(a[i].margin, b[i].margin) for i in ids]
    if n and all(ma is not None and mb is not None for ma, mb in margins):
        deltas = [float(mb) - float(ma) for ma, mb in margins]  # type: ignore[arg-type]
        out["margin_diff"] = round(sum(deltas) / n, 6)
        ci = bootstrap_mean(deltas, resamples=config.bootstrap, seed=seed)
        out["margin_diff_bootstrap_ci95"] = [round(x, 6) for x in ci]
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def read_outcomes(directory: Path) -> dict[tuple[str, str, str], dict[str, Outcome]]:
    """Per (model, set, query) of an evaluation folder, each item's outcome (from its `items/` files)."""
    from kgsynth.eval.common import SUMMARY_FILE, _safe

    path = directory / SUMMARY_FILE
    if not path.is_file():
        raise KgsynthError(f"{directory} is not a kgsynth evaluation (no {SUMMARY_FILE})",
                           hint="give --out folders of kgsynth eval")  # fmt: skip
    summary = json.loads(path.read_text(encoding="utf-8"))
    out: dict[tuple[str, str, str], dict[str, Outcome]] = {}
    for result in summary["results"]:
        model, name = result["model"], result["set"]
        items = directory / "items" / _safe(model) / f"{_safe(name)}.jsonl"
        if not items.is_file():
            raise KgsynthError(f"{items} is missing", hint="re-run the kgsynth eval that wrote this folder")
        for number, line in enumerate(items.read_text(encoding="utf-8").splitlines(), 1):
            try:
                record = json.loads(line)
                if "queries" in record:
                    for query, q in record["queries"].items():
                        out.setdefault((model, name, query), {})[record["id"]] = Outcome(q["correct"], q["margin"])
                else:
                    out.setdefault((model, name, ANSWER_QUERY), {})[record["id"]] = Outcome(record["correct"], None)
            except (ValueError, KeyError, TypeError):
                raise KgsynthError(f"{items}, line {number}: not a kgsynth eval item record",
                                   hint="re-run the kgsynth eval that wrote this folder") from None  # fmt: skip
    return out


def paired_compare(directories: Sequence[Path], *, config: CompareConfig) -> list[dict[str, Any]]:
    """Every (model, set, query) of the later folders against the first folder's result for the same set and
    query (every model of the first folder is a baseline), paired on the items both evaluated."""
    if len(directories) < 2:
        return []
    first = read_outcomes(directories[0])
    rows = []
    for directory in directories[1:]:
        for (model, name, query), outcomes in read_outcomes(directory).items():
            for (base, base_set, base_query), base_outcomes in first.items():
                if (base_set, base_query) != (name, query):
                    continue
                stats = compare_pair(base_outcomes, outcomes, config=config)
                if stats["n"] == 0:
                    continue
                rows.append({"set": name, "query": query, "a": f"{directories[0].name}/{base}",
                             "b": f"{directory.name}/{model}", **stats})  # fmt: skip
    return rows


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.1f}"


def paired_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """The paired comparisons as a Markdown table."""
    parts = [
        "# Paired comparisons (B against A, the same items)\n\n",
        "| set | query | A | B | n | acc A % | acc B % | B - A (points) [95% paired Wald] | [95% bootstrap] "
        "| B wins / losses | McNemar exact p | margin B - A [95% bootstrap] |\n",
        "|---|---|---|---|---:|---:|---:|---|---|---|---:|---|\n",
    ]
    for r in rows:
        margin = "-"
        if "margin_diff" in r:
            low, high = r["margin_diff_bootstrap_ci95"]
            margin = f"{r['margin_diff']:+.3f} [{low:+.3f}, {high:+.3f}]"
        parts.append(
            f"| {r['set']} | {r['query']} | {r['a']} | {r['b']} | {r['n']} | {100 * r['acc_a']:.1f} | "
            f"{100 * r['acc_b']:.1f} | {_pct(r['diff'])} [{_pct(r['diff_ci95'][0])}, {_pct(r['diff_ci95'][1])}] | "
            f"[{_pct(r['diff_bootstrap_ci95'][0])}, {_pct(r['diff_bootstrap_ci95'][1])}] | {r['wins']} / {r['losses']} "
            f"| {r['mcnemar_p']:.3g} | {margin} |\n"
        )
    return "".join(parts)


def write_paired(directories: Sequence[Path], out: Path, *, config: CompareConfig) -> list[dict[str, Any]]:
    """`paired_compare` into `out` (paired.json, paired.md); nothing is written for a single folder."""
    from kgsynth.eval.common import _dumps, _write

    rows = paired_compare(directories, config=config)
    if rows:
        _write(out / PAIRED_FILE, _dumps({"config": config.model_dump(), "comparisons": rows}))
        _write(out / PAIRED_TABLE, paired_markdown(rows))
    return rows
