"""Log-likelihood scoring (`kgsynth eval --scoring loglik`): what a model prefers among an item's candidates,
without generating.

Every item becomes a few *queries*: an assistant-turn prefix after the student's prompt, and candidate
texts, one of them gold. A candidate's score is the summed log-probability of its tokens (`" " + text`,
lm-evaluation-harness's target delimiter) given the chat prompt and the prefix. The queries:

- `letter` (multiple choice): prefix `Answer:`, candidates the option letters;
- `option` (multiple choice): prefix `Answer:`, candidates the options' texts;
- `hop1`, `hop2`, ... (open-book kgsynth items): the *hop score*. The prefix is the SFT answer's own
  start, `<think>\\nSTART →`, and the candidates are each chain of the facts' next entity
  (`kgsynth.questions.walk.candidate_chains`: the gold chain and one decoy chain per distractor); hop k prefills
  the gold chain's first k entities (teacher forcing), so every hop is scored alone;
- `chain` (open-book items of two hops or more): prefix `<think>\\nSTART →`, candidates every chain's
  rest, `MIDDLE → END`.

Per query, exactly as lm-evaluation-harness defines them for multiple choice: `acc` is 1 when the gold
candidate has the highest summed log-probability (`argmax`, the first on ties), `acc_norm` when it has
the highest summed log-probability divided by its text's length in characters (the candidate without the
delimiter). Also per item: the *margin* (gold's log-probability minus the best other candidate's;
positive = correct) and `p_gold` (the softmax of the candidates' sums at gold). Context and continuation
are tokenised as lm-evaluation-harness does (`encode_pair`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kgsynth.dataset.rows import PATH_ARROW
from kgsynth.errors import KgsynthError
from kgsynth.eval.benchmarks import EvalItem, EvalSet
from kgsynth.models.base import Message
from kgsynth.questions.answers import THINK_OPEN

if TYPE_CHECKING:
    from kgsynth.eval.common import EvalConfig, Progress

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
TARGET_DELIMITER = " "  # lm-evaluation-harness's default between the context and a choice
ANSWER_PREFIX = "Answer:"  # the answer line the student prompt asks for (`kgsynth.questions.answers`)


@dataclass(frozen=True)
class Query:
    """One forced choice: the assistant turn's text before a candidate, the candidates, and which is gold."""

    name: str
    prefix: str
    candidates: tuple[str, ...]
    gold: int


@dataclass(frozen=True)
class LoglikRequest:
    """What a backend scores for one item: per (prefix, continuation) the summed log-probability of the
    continuation's tokens after the chat prompt of `messages` and the prefix."""

    messages: tuple[Message, ...]
    pairs: tuple[tuple[str, str], ...]


class LoglikBackend(Protocol):
    label: str
    model_id: str
    batch_size: int

    def load(self) -> None: ...

    def loglikelihood(self, requests: Sequence[LoglikRequest]) -> list[list[float]]:
        """Per request, the summed log-probability of each pair's continuation, in order."""
        ...


# -- queries --------------------------------------------------------------------------------------


def hop_prefix(names: Sequence[str]) -> str:
    """The SFT answer's start through `names`: `<think>\\nA → B →`.

    >>> hop_prefix(["Liddle syndrome"])
    '<think>\\nLiddle syndrome →'
    """
    return f"{THINK_OPEN}\n{PATH_ARROW.join(names)}{PATH_ARROW.rstrip()}"


def queries(item: EvalItem) -> list[Query]:
    """The forced choices an item is scored on (see the module docstring)."""
    out: list[Query] = []
    if item.format == "mcq" and item.letter is not None and item.options:
        letters = tuple(item.letters[: len(item.options)])
        gold = letters.index(item.letter)
        out.append(Query("letter", ANSWER_PREFIX, letters, gold))
        out.append(Query("option", ANSWER_PREFIX, tuple(item.options), gold))
    if len(item.chains) >= 2:
        # Candidates in name order, so that a tie (argmax takes the first) favours no chain in particular.
        order = sorted(range(len(item.chains)), key=lambda k: (item.chains[k][1:], k))
        chains = [item.chains[k] for k in order]
        gold = order.index(0)
        start = chains[gold][0]
        hops = len(chains[gold]) - 1
        for hop in range(1, hops + 1):
            prefix = hop_prefix(chains[gold][:hop])
            out.append(Query(f"hop{hop}", prefix, tuple(c[hop] for c in chains), gold))
        if hops >= 2:
            out.append(Query("chain", hop_prefix([start]), tuple(PATH_ARROW.join(c[1:]) for c in chains), gold))
    return out


# -- tokenising and choosing ------------------------------------------------------------------------


def encode_pair(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """The token ids of `context` and `continuation` as lm-evaluation-harness makes them: trailing spaces
    of the context move to the continuation, the whole is tokenised once and split after the context's
    own tokens."""
    spaces = len(context) - len(context.rstrip())
    if spaces:
        continuation = context[-spaces:] + continuation
        context = context[:-spaces]
    whole = tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
    own = tokenizer(context, add_special_tokens=False)["input_ids"]
    return whole[: len(own)], whole[len(own) :]


def choose(lls: Sequence[float], candidates: Sequence[str]) -> tuple[int, int]:
    """lm-evaluation-harness's `pred` and `pred_norm`: the argmax of the summed log-probabilities, and of
    them divided by each candidate's length in characters (the first index on ties).

    >>> choose([-4.0, -6.0], ["no", "yes, surely"])
    (0, 1)
    """
    pred = max(range(len(lls)), key=lambda k: (lls[k], -k))
    norm = [ll / max(1, len(text)) for ll, text in zip(lls, candidates, strict=True)]
    pred_norm = max(range(len(lls)), key=lambda k: (norm[k], -k))
    return pred, pred_norm


@dataclass(frozen=True)
class QueryResult:
    """One query of one item, scored."""

    name: str
    lls: tuple[float, ...]
    gold: int
    pred: int
    pred_norm: int
    margin: float
    p_gold: float

    @property
    def correct(self) -> bool:
        return self.pred == self.gold

    @property
    def correct_norm(self) -> bool:
        return self.pred_norm == self.gold

    def to_json(self) -> dict[str, Any]:
        return {
            "lls": [round(x, 6) for x in self.lls],
            "gold": self.gold,
            "pred": self.pred,
            "pred_norm": self.pred_norm,
            "correct": self.correct,
            "correct_norm": self.correct_norm,
            "margin": round(self.margin, 6),
            "p_gold": round(self.p_gold, 6),
        }


def score_query(query: Query, lls: Sequence[float]) -> QueryResult:
    """`acc`, `acc_norm`, the margin and p(gold) of one query from its candidates' log-probabilities."""
    pred, pred_norm = choose(lls, query.candidates)
    others = [ll for k, ll in enumerate(lls) if k != query.gold]
    top = max(lls)
    p_gold = math.exp(lls[query.gold] - top) / sum(math.exp(ll - top) for ll in lls)
    return QueryResult(query.name, tuple(lls), query.gold, pred, pred_norm, lls[query.gold] - max(others), p_gold)


def request_of(item: EvalItem, item_queries: Sequence[Query]) -> LoglikRequest:
    pairs = tuple((q.prefix, TARGET_DELIMITER + c) for q in item_queries for c in q.candidates)
    return LoglikRequest(item.messages, pairs)


def loglik_key(model_id: str, request: LoglikRequest) -> str:
    """A digest of everything that decides a request's log-probabilities."""
    payload = {"model": model_id, "messages": list(request.messages), "pairs": [list(p) for p in request.pairs],
               "scoring": "loglik"}  # fmt: skip
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# -- metrics --------------------------------------------------------------------------------------


def query_metrics(results: Sequence[QueryResult]) -> dict[str, Any]:
    """acc and acc_norm with 95% Wilson intervals, mean margin, mean p(gold), chance (mean 1/k), and the
    position prior: what a model that picks each candidate position (letter A, B, ...) as often as this one
    did, knowing nothing, would score (`kgsynth.eval.evaluate.letter_prior`), with the predicted and gold
    positions counted (0 = the first candidate)."""
    from kgsynth.eval.common import letter_prior, wilson_interval

    n = len(results)
    acc = sum(r.correct for r in results)
    norm = sum(r.correct_norm for r in results)
    predicted = Counter(str(r.pred) for r in results)
    gold = Counter(str(r.gold) for r in results)
    prior = letter_prior(predicted, gold)
    return {
        "n": n,
        "acc": round(acc / n, 6) if n else None,
        "acc_ci95": [round(x, 6) for x in wilson_interval(acc, n)],
        "acc_norm": round(norm / n, 6) if n else None,
        "acc_norm_ci95": [round(x, 6) for x in wilson_interval(norm, n)],
        "mean_margin": round(sum(r.margin for r in results) / n, 6) if n else None,
        "mean_p_gold": round(sum(r.p_gold for r in results) / n, 6) if n else None,
        "chance": round(sum(1 / len(r.lls) for r in results) / n, 6) if n else None,
        "prior": round(prior, 6) if prior is not None else None,
        "predicted": dict(sorted(predicted.items())),
        "gold": dict(sorted(gold.items())),
    }


def _by_query(by_name: Mapping[str, Sequence[QueryResult]]) -> dict[str, Any]:
    return {name: query_metrics(rs) for name, rs in sorted(by_name.items())}


def summarise(records: Sequence[tuple[EvalItem, list[QueryResult]]]) -> dict[str, Any]:
    """Per query name the `query_metrics` of a set, and per group value (type, hops, direction, ...)."""
    by_query: dict[str, list[QueryResult]] = defaultdict(list)
    Groups = dict[str, dict[str, dict[str, list[QueryResult]]]]
    groups: Groups = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for item, results in records:
        for r in results:
            by_query[r.name].append(r)
            for key, value in item.groups:
                groups[key][value][r.name].append(r)
    return {
        "queries": _by_query(by_query),
        "breakdown": {key: {v: _by_query(qs) for v, qs in sorted(vs.items())} for key, vs in sorted(groups.items())},
    }


# -- running --------------------------------------------------------------------------------------


def evaluate_loglik(
    models: Sequence[LoglikBackend],
    sets: Sequence[EvalSet],
    out: Path,
    *,
    config: EvalConfig,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Score every model on every set by log-likelihood into `out` (items/<model>/<set>.jsonl with the per-item
    log-probabilities, margins and choices; summary.json, results.md; timings.json); the cache (`cache.jsonl`,
    keyed by `loglik_key`) makes a killed run resume."""
    from kgsynth.eval import common as ev

    out.mkdir(parents=True, exist_ok=True)
    cache = ev.GenerationCache(out / ev.CACHE_FILE)
    set_names = ev.unique_labels([s.name for s in sets])
    labels = ev.unique_labels([m.label for m in models])
    chosen = [ev.select_items(s.items, limit=config.limit, seed=config.seed) for s in sets]
    results, timings = [], []
    for backend, label in zip(models, labels, strict=True):
        for name, items in zip(set_names, chosen, strict=True):
            plans = [(item, queries(item)) for item in items]
            plans = [(item, qs) for item, qs in plans if qs]
            requests = [request_of(item, qs) for item, qs in plans]
            keys = [loglik_key(backend.model_id, r) for r in requests]
            pending = [k for k, key in enumerate(keys) if cache.get(key) is None]
            report = _reporter(progress, label, name, len(plans))
            report(len(plans) - len(pending))
            if pending:
                backend.load()
            start = time.perf_counter()
            for begin in range(0, len(pending), backend.batch_size):
                batch = pending[begin : begin + backend.batch_size]
                scores = backend.loglikelihood([requests[k] for k in batch])
                if len(scores) != len(batch):
                    raise KgsynthError(f"model {backend.label} scored {len(scores)} of {len(batch)} items")
                cache.put_many(backend.model_id, [(keys[k], json.dumps(s)) for k, s in zip(batch, scores, strict=True)])
                report(len(plans) - len(pending) + begin + len(batch))
            seconds = time.perf_counter() - start
            records = []
            lines = []
            for (item, qs), key in zip(plans, keys, strict=True):
                lls: list[float] = json.loads(cache.get(key) or "[]")
                scored, at = [], 0
                for q in qs:
                    scored.append(score_query(q, lls[at : at + len(q.candidates)]))
                    at += len(q.candidates)
                records.append((item, scored))
                lines.append(
                    json.dumps(
                        {
                            "id": item.id,
                            "format": item.format,
                            "groups": dict(item.groups),
                            "candidates": {q.name: list(q.candidates) for q in qs},
                            "queries": {r.name: r.to_json() for r in scored},
                        },
                        ensure_ascii=False,
                        sort_keys=True,
                    )
                    + "\n"
                )
            ev._write(out / "items" / ev._safe(label) / f"{ev._safe(name)}.jsonl", "".join(lines))
            results.append({"model": label, "set": name, "scoring": "loglik", **summarise(records)})
            timings.append({"model": label, "set": name, "items": len(plans), "generated": len(pending),
                            "from_cache": len(plans) - len(pending), "seconds": round(seconds, 2)})  # fmt: skip
            logger.info("%s on %s: %d scored, %.1f s", label, name, len(pending), seconds)
    summary = {
        "format": FORMAT_VERSION,
        "scoring": "loglik",
        "config": config.model_dump(mode="json", exclude={"threads", "batch_size"}),
        "models": [{"label": label, "model_id": m.model_id} for m, label in zip(models, labels, strict=True)],
        "sets": [
            {"name": name, "source": s.source, "kind": s.kind, "items": len(s.items), "evaluated": len(items)}
            for s, name, items in zip(sets, set_names, chosen, strict=True)
        ],
        "results": results,
    }
    ev._write(out / ev.SUMMARY_FILE, ev._dumps(summary))
    ev._write(out / ev.TABLE_FILE, markdown_report(summary))
    ev._write(out / ev.TIMINGS_FILE, ev._dumps(timings))
    return summary


def _reporter(progress: Progress | None, model: str, name: str, total: int) -> Callable[[int], None]:
    def report(done: int) -> None:
        if progress is not None:
            progress(model, name, done, total)

    return report


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def table_rows(summary: Mapping[str, Any]) -> list[list[str]]:
    """One row per model, set and query: n, acc [95% Wilson], acc_norm [95% Wilson], chance, margin, p(gold)."""
    rows = []
    for r in summary["results"]:
        for name, m in r["queries"].items():
            rows.append([
                r["model"], r["set"], name, str(m["n"]),
                f"{_pct(m['acc'])} [{_pct(m['acc_ci95'][0])}, {_pct(m['acc_ci95'][1])}]",
                f"{_pct(m['acc_norm'])} [{_pct(m['acc_norm_ci95'][0])}, {_pct(m['acc_norm_ci95'][1])}]",
                _pct(m["chance"]), _pct(m.get("prior")), f"{m['mean_margin']:.3f}", f"{m['mean_p_gold']:.3f}",
            ])  # fmt: skip
    return rows


COLUMNS = ("model", "set", "query", "n", "acc % [95% Wilson]", "acc_norm % [95% Wilson]", "chance %",
           "position prior %", "mean margin", "mean p(gold)")  # fmt: skip


def markdown_report(summary: Mapping[str, Any]) -> str:
    """The log-likelihood results as Markdown: every model, set and query, then each set's breakdowns."""
    head = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n"
    parts = ["# Log-likelihood results\n\n", head]
    parts += ["| " + " | ".join(row) + " |\n" for row in table_rows(summary)]
    for r in summary["results"]:
        for key, values in r["breakdown"].items():
            parts.append(f"\n## {r['model']} on {r['set']}, by {key}\n\n")
            parts.append(head.replace("| set |", f"| {key} |", 1))
            sub = {"results": [{"model": r["model"], "set": value, "queries": qs} for value, qs in values.items()]}
            parts += ["| " + " | ".join(row) + " |\n" for row in table_rows(sub)]
    return "".join(parts)
