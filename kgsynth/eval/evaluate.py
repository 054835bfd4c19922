"""Evaluation: ask models the questions of evaluation sets and score them exactly as the rewards do.

`evaluate(models, sets, out, config)` asks every model (`kgsynth.eval.backends`: transformers on the
CPU or vLLM on a GPU, one `Backend` interface) every item of every set (`kgsynth.eval.benchmarks`),
through the student's prompt template, and judges each completion with the one answer judge
(`kgsynth.questions.answers.judge`, the rule the GRPO rewards use). It writes into `out`:

- `cache.jsonl`: every completion, under a digest of the model, the prompt and the generation
  parameters, appended batch by batch, so a killed evaluation resumes without regenerating;
- `items/<model>/<set>.jsonl`: per item the prompt hash, the completion, the parsed answer, whether
  it is correct and whether it keeps the strict format;
- `summary.json`, `results.md` and `results.png` (see `summarise_set` for the metrics); the same
  completions give byte-identical files. `timings.json` holds what took how long.

With `limit`, `select_items` draws which items are asked (seeded), balancing gold letters where the
set allows. `compare(dirs, out)` puts the results of several evaluation folders in one table.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kgsynth.errors import KgsynthError
from kgsynth.eval.benchmarks import EvalItem, EvalSet
from kgsynth.eval.common import (
    CACHE_FILE,
    FIGURE_FILE,
    FORMAT_VERSION,
    NONE,
    SUMMARY_FILE,
    TABLE_FILE,
    TIMINGS_FILE,
    EvalConfig,
    GenerationCache,
    GenerationParams,
    Progress,
    _dumps,
    _safe,
    _write,
    cache_key,
    letter_prior,
    select_items,
    unique_labels,
    wilson_interval,
)
from kgsynth.models.base import Message
from kgsynth.questions.answers import follows_format, judge

logger = logging.getLogger(__name__)


class Backend(Protocol):
    """A model that answers chat prompts; `model_id` changes whenever its answers may change."""

    label: str
    model_id: str
    batch_size: int

    def load(self) -> None:
        """Load the model now (not timed with the generation); a backend loads itself if not told to."""
        ...

    def generate(self, prompts: Sequence[tuple[Message, ...]], params: GenerationParams) -> list[str]:
        """The completion of each prompt, in order."""
        ...


# -- the cache ------------------------------------------------------------------------------------


# -- choosing items -------------------------------------------------------------------------------


# -- metrics --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemResult:
    """One item's completion, judged."""

    id: str
    prompt_hash: str
    completion: str
    answer: str | None
    correct: bool
    strict_format: bool
    gold: str | None
    format: str
    groups: dict[str, str] = field(default_factory=dict)
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        record.pop("cached")
        return record


def score_item(item: EvalItem, completion: str, *, cached: bool = False) -> ItemResult:
    """Judge one completion with the rewards' judge (`kgsynth.questions.answers.judge`)."""
    from kgsynth.questions.prompt import prompt_hash

    verdict = judge(completion, letter=item.letter, aliases=item.aliases, letters=item.letters or "ABCDEFGHIJ")
    return ItemResult(
        id=item.id,
        prompt_hash=prompt_hash(item.messages),
        completion=completion,
        answer=verdict.answer,
        correct=verdict.correct,
        strict_format=follows_format(completion),
        gold=item.letter if item.letter is not None else (item.aliases[0] if item.aliases else None),
        format=item.format,
        groups=dict(item.groups),
        cached=cached,
    )


def _rate(count: int, n: int) -> float | None:
    return round(count / n, 6) if n else None


def metrics(results: Sequence[ItemResult]) -> dict[str, Any]:
    """Accuracy with its 95% Wilson interval, strict-format and answered rates, predicted and gold letter
    counts and the letter-prior expectation (over the multiple-choice items) of a group of results."""
    n = len(results)
    correct = sum(r.correct for r in results)
    low, high = wilson_interval(correct, n)
    mcq = [r for r in results if r.format == "mcq"]
    predicted = Counter(r.answer if r.answer is not None else NONE for r in mcq)
    gold = Counter(r.gold for r in mcq if r.gold is not None)
    letters = sorted(set(gold) | {k for k in predicted if k != NONE})
    prior = letter_prior(predicted, gold)
    return {
        "n": n,
        "correct": correct,
        "accuracy": _rate(correct, n),
        "ci95": [round(low, 6), round(high, 6)],
        "strict_format": _rate(sum(r.strict_format for r in results), n),
        "answered": _rate(sum(r.answer is not None for r in results), n),
        "mcq_items": len(mcq),
        "predicted": {letter: predicted.get(letter, 0) for letter in [*letters, NONE]} if mcq else {},
        "gold": {letter: gold.get(letter, 0) for letter in letters} if mcq else {},
        "letter_prior": round(prior, 6) if prior is not None else None,
    }


def summarise_set(results: Sequence[ItemResult]) -> dict[str, Any]:
    """`metrics` of a set, and of each group its items are broken down by (type, hops, rarity, subject)."""
    summary = metrics(results)
    groups: dict[str, dict[str, list[ItemResult]]] = defaultdict(lambda: defaultdict(list))
    for result in results:
        for key, value in result.groups.items():
            groups[key][value].append(result)
    summary["breakdown"] = {
        key: {value: metrics(members) for value, members in sorted(values.items())}
        for key, values in sorted(groups.items())
    }
    return summary


# -- running --------------------------------------------------------------------------------------


@dataclass
class _SetRun:
    results: list[ItemResult]
    generated: int
    seconds: float


def _run_set(
    backend: Backend,
    items: Sequence[EvalItem],
    cache: GenerationCache,
    params: GenerationParams,
    report: Callable[[int], None],
) -> _SetRun:
    keys = [cache_key(backend.model_id, item.messages, params) for item in items]
    pending = sorted(
        {k: i for i, k in enumerate(keys) if cache.get(k) is None}.values(),
        key=lambda i: (sum(len(m["content"]) for m in items[i].messages), i),
    )
    done = len(items) - len(pending)
    report(done)
    if pending:
        backend.load()
    start = time.perf_counter()
    for begin in range(0, len(pending), backend.batch_size):
        batch = pending[begin : begin + backend.batch_size]
        completions = backend.generate([items[i].messages for i in batch], params)
        if len(completions) != len(batch):
            raise KgsynthError(
                f"model {backend.label} returned {len(completions)} completions for {len(batch)} prompts"
            )
        cache.put_many(backend.model_id, [(keys[i], text) for i, text in zip(batch, completions, strict=True)])
        done += len(batch)
        report(done)
    seconds = time.perf_counter() - start
    fresh = set(pending)
    results = [
        score_item(item, cache.get(key) or "", cached=i not in fresh)
        for i, (item, key) in enumerate(zip(items, keys, strict=True))
    ]
    return _SetRun(results, len(fresh), seconds)


def _reporter(progress: Progress | None, model: str, name: str, total: int) -> Callable[[int], None]:
    def report(done: int) -> None:
        if progress is not None:
            progress(model, name, done, total)

    return report


def evaluate(
    models: Sequence[Backend],
    sets: Sequence[EvalSet],
    out: Path,
    *,
    config: EvalConfig | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Evaluate every model on every set into `out` (see the module docstring); return the summary. With
    `config.scoring == "loglik"` the models score candidates instead (`kgsynth.eval.loglik.evaluate_loglik`)."""
    config = config or EvalConfig()
    if config.scoring == "loglik":
        from kgsynth.eval.loglik import evaluate_loglik

        return evaluate_loglik(models, sets, out, config=config, progress=progress)  # type: ignore[arg-type]
    out.mkdir(parents=True, exist_ok=True)
    params = GenerationParams(max_new_tokens=config.max_new_tokens)
    cache = GenerationCache(out / CACHE_FILE)
    set_names = unique_labels([s.name for s in sets])
    labels = unique_labels([m.label for m in models])
    chosen = [select_items(s.items, limit=config.limit, seed=config.seed) for s in sets]
    results, timings = [], []
    for backend, label in zip(models, labels, strict=True):
        for name, items in zip(set_names, chosen, strict=True):
            run = _run_set(backend, items, cache, params, _reporter(progress, label, name, len(items)))
            lines = "".join(json.dumps(r.to_json(), ensure_ascii=False, sort_keys=True) + "\n" for r in run.results)
            _write(out / "items" / _safe(label) / f"{_safe(name)}.jsonl", lines)
            results.append({"model": label, "set": name, **summarise_set(run.results)})
            timings.append(
                {
                    "model": label,
                    "set": name,
                    "items": len(items),
                    "generated": run.generated,
                    "from_cache": len(items) - run.generated,
                    "seconds": round(run.seconds, 2),
                }
            )
            logger.info(
                "%s on %s: %d generated, %d from the cache, %.1f s",
                label,
                name,
                run.generated,
                len(items) - run.generated,
                run.seconds,
            )
    summary = {
        "format": FORMAT_VERSION,
        "config": config.model_dump(mode="json", exclude={"threads", "batch_size"}),
        "generation": params.to_json(),
        "models": [{"label": label, "model_id": m.model_id} for m, label in zip(models, labels, strict=True)],
        "sets": [
            {"name": name, "source": s.source, "kind": s.kind, "items": len(s.items), "evaluated": len(items)}
            for s, name, items in zip(sets, set_names, chosen, strict=True)
        ],
        "results": results,
    }
    write_report(summary, out)
    _write(out / TIMINGS_FILE, _dumps(timings))
    return summary


# -- reports --------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _letters(counts: Mapping[str, int]) -> str:
    return " ".join(f"{k}{v}" for k, v in counts.items()) or "-"


def _row(label: str, name: str, m: Mapping[str, Any]) -> str:
    low, high = m["ci95"]
    prior = "-" if m["letter_prior"] is None else f"{100 * m['letter_prior']:.1f}"
    return (
        f"| {label} | {name} | {m['n']} | {_pct(m['accuracy'])} [{_pct(low)}, {_pct(high)}] | {prior} | "
        f"{_pct(m['strict_format'])} | {_pct(m['answered'])} | {_letters(m['predicted'])} | {_letters(m['gold'])} |"
    )


HEADER = (
    "| model | set | n | accuracy % [95% Wilson] | letter prior % | strict format % | answered % "
    "| predicted letters | gold letters |\n|---|---|---:|---|---:|---:|---:|---|---|\n"
)


def markdown_report(summary: Mapping[str, Any]) -> str:
    """The results as Markdown: one table of every model on every set, then each set's breakdowns."""
    parts = ["# Evaluation results\n\n", HEADER]
    parts += [_row(r["model"], r["set"], r) + "\n" for r in summary["results"]]
    parts.append(
        "\nThe letter prior is what a model that says each letter as often as this one did, knowing nothing, "
        "would score: the sum over letters of P(model says L) x P(gold is L). Short-answer items have none.\n"
    )
    for r in summary["results"]:
        for key, values in r["breakdown"].items():
            parts.append(f"\n## {r['model']} on {r['set']}, by {key}\n\n")
            parts.append(HEADER.replace("| set |", f"| {key} |", 1))
            parts += [_row(r["model"], value, m) + "\n" for value, m in values.items()]
    return "".join(parts)


def draw_results(summary: Mapping[str, Any]) -> bytes:
    """Accuracy per set and model with 95% intervals, and each one's letter prior as a black tick (PNG).

    The same summary gives the same bytes (Agg backend, no metadata, fixed size and fonts).
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    results = summary["results"]
    models = list(dict.fromkeys(r["model"] for r in results))
    sets = list(dict.fromkeys(r["set"] for r in results))
    by = {(r["model"], r["set"]): r for r in results}
    width = 0.8 / max(1, len(models))
    with matplotlib.rc_context({"font.family": "DejaVu Sans", "font.size": 9, "svg.hashsalt": "kgsynth"}):
        fig = Figure(figsize=(max(5.0, 1.2 * len(sets) * max(1, len(models)) ** 0.5 + 2), 4.0), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        for k, model in enumerate(models):
            xs: list[float] = []
            ys: list[float] = []
            errs: list[list[float]] = [[], []]
            priors: list[tuple[float, float]] = []
            for j, name in enumerate(sets):
                r = by.get((model, name))
                if r is None or r["accuracy"] is None:
                    continue
                x = j - 0.4 + width * (k + 0.5)
                xs.append(x)
                ys.append(100 * r["accuracy"])
                errs[0].append(100 * (r["accuracy"] - r["ci95"][0]))
                errs[1].append(100 * (r["ci95"][1] - r["accuracy"]))
                if r["letter_prior"] is not None:
                    priors.append((x, 100 * r["letter_prior"]))
            ax.bar(xs, ys, width * 0.9, yerr=errs, capsize=3, label=model, color=f"C{k % 10}")
            for x, prior in priors:
                ax.hlines(prior, x - width * 0.45, x + width * 0.45, colors="black", linewidth=2)
        ax.set_xticks(range(len(sets)))
        ax.set_xticklabels(sets, rotation=20, ha="right")
        ax.set_ylabel("accuracy % (bars: 95% Wilson; black: letter prior)")
        ax.set_ylim(0, 100)
        ax.legend(loc="upper right", fontsize=8)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def write_report(summary: Mapping[str, Any], out: Path) -> None:
    """`summary.json`, `results.md` and `results.png` in `out`."""
    _write(out / SUMMARY_FILE, _dumps(summary))
    _write(out / TABLE_FILE, markdown_report(summary))
    _write(out / FIGURE_FILE, draw_results(summary))


def compare(directories: Sequence[Path], out: Path) -> dict[str, Any]:
    """One table of the results of several evaluation folders (a model is named by its folder where the same
    model and set are in several)."""
    summaries = []
    for directory in directories:
        path = directory / SUMMARY_FILE
        if not path.is_file():
            raise KgsynthError(
                f"{directory} is not a kgsynth evaluation (no {SUMMARY_FILE})",
                hint="give --out folders of kgsynth eval",
            )
        try:
            summary = json.loads(path.read_bytes().decode("utf-8"))
            if not isinstance(summary, dict) or not {"results", "models", "sets"} <= set(summary):
                raise ValueError("not an object with results, models and sets")
        except ValueError as error:  # not UTF-8, not JSON, not an evaluation's summary
            raise KgsynthError(f"{path}: not the summary kgsynth eval writes ({error})",
                               hint="give --out folders of kgsynth eval; re-run kgsynth eval there to rewrite "
                               "it (its cache keeps the answers)") from None  # fmt: skip
        summaries.append(summary)
    # A model is named by its folder only where the same model and set appear in more than one folder, so
    # evaluations of one model on different sets (run in parallel, say) merge into one row per set.
    pairs = Counter((r["model"], r["set"]) for s in summaries for r in s["results"])
    results: list[dict[str, Any]] = []
    models: list[dict[str, Any]] = []
    sets: list[dict[str, Any]] = []
    for directory, summary in zip(directories, summaries, strict=True):
        clash = {r["model"] for r in summary["results"] if pairs[(r["model"], r["set"])] > 1}
        rename = {m["label"]: f"{directory.name}/{m['label']}" if m["label"] in clash else m["label"]
                  for m in summary["models"]}  # fmt: skip
        models += [m for m in ({**m, "label": rename[m["label"]]} for m in summary["models"]) if m not in models]
        sets += [s for s in summary["sets"] if s not in sets]
        results += [{**r, "model": rename[r["model"]]} for r in summary["results"]]
    scorings = sorted({s.get("scoring", "generate") for s in summaries})
    if len(scorings) > 1:
        raise KgsynthError("cannot put generation and log-likelihood evaluations in one table",
                           hint="compare folders of one --scoring at a time")  # fmt: skip
    merged = {
        "format": FORMAT_VERSION,
        "compared": [str(d) for d in directories],
        "models": models,
        "sets": sets,
        "results": results,
    }
    out.mkdir(parents=True, exist_ok=True)
    if scorings == ["loglik"]:
        from kgsynth.eval.loglik import markdown_report as loglik_report

        merged["scoring"] = "loglik"
        _write(out / SUMMARY_FILE, _dumps(merged))
        _write(out / TABLE_FILE, loglik_report(merged))
    else:
        write_report(merged, out)
    return merged
