"""Decontamination: drop generated items that copy a question of a benchmark people report on.

Benchmarks are the folders of `benchmarks/` beside the ontologies (`../shared/data/benchmarks`:
MedQA, MedMCQA, MMLU medical, PubMedQA; or `$KGSYNTH_BENCHMARKS_DIR`) and any file a user names
(JSON, JSONL, CSV or parquet; the question field is found by name, see `QUESTION_FIELDS`).

An item is contaminated by a benchmark question when, in this order,

1. `exact`: their normalised texts are equal (case, accents, punctuation and spacing do not count);
2. they share a long word n-gram (`ngram` words) that is not boilerplate -- boilerplate being an
   n-gram found in `boilerplate_items` benchmark questions or more, in kgsynth's own question
   templates, or in a share `boilerplate_share` of the items checked -- and then, on these
   candidates only, either `containment`: that share of the benchmark question's n-grams is in the
   item, or `fuzzy`: their `rapidfuzz` token-sort ratio (word order ignored) reaches `fuzzy_threshold`.

Contaminated items are dropped; counts per benchmark and per rule go into the export summary.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kgsynth.dataset.benchmark_files import (
    BENCHMARKS_ENV,
    QUESTION_FIELDS,
    SUFFIXES,
    benchmarks_root,
    question_field,
    read_records,
)
from kgsynth.dataset.text import normalise_text, word_ngrams
from kgsynth.errors import KgsynthError
from kgsynth.questions.item import Item
from kgsynth.resources import prompts_dir

logger = logging.getLogger(__name__)

RULES = ("exact", "containment", "fuzzy")


class DecontamConfig(BaseModel):
    """Which benchmarks to check against, and how close counts as a copy."""

    model_config = ConfigDict(extra="forbid")

    shared: bool = Field(default=True, description="check against every benchmark in the shared benchmarks folder")
    benchmarks: list[str] = Field(default_factory=list, description="more benchmark files (--benchmark)")
    ngram: int = Field(default=10, ge=3, description="words per n-gram")
    boilerplate_items: int = Field(
        default=3, ge=2, description="an n-gram in this many benchmark questions is boilerplate"
    )
    boilerplate_share: float = Field(default=0.002, gt=0.0, le=1.0, description="... or in this share of the items")
    containment: float = Field(default=0.5, gt=0.0, le=1.0, description="share of a question's n-grams in an item")
    fuzzy_threshold: float = Field(default=80.0, ge=0.0, le=100.0, description="rapidfuzz token_sort_ratio of a copy")


@dataclass(frozen=True)
class BenchmarkQuestion:
    benchmark: str
    text: str


@dataclass
class DecontamResult:
    """The items kept, in order, and for each benchmark the ids dropped and the rule that caught each."""

    kept: list[Item]
    dropped: dict[str, dict[str, str]] = field(default_factory=dict)  # benchmark -> item id -> rule
    questions: dict[str, int] = field(default_factory=dict)  # benchmark -> questions checked against

    def counts(self) -> dict[str, Any]:
        return {
            name: {
                "questions": self.questions[name],
                "dropped": len(self.dropped.get(name, {})),
                "by_rule": dict(sorted(Counter(self.dropped.get(name, {}).values()).items())),
            }
            for name in sorted(self.questions)
        }


# -- reading benchmarks ---------------------------------------------------------------------------


def read_benchmark(path: str | Path, *, name: str | None = None) -> list[BenchmarkQuestion]:
    """The questions of one benchmark file (JSON, JSONL, CSV or parquet).

    Raises `KgsynthError` naming the file and the fields it has when none is a question field.
    """
    path = Path(path)
    if not path.is_file():
        raise KgsynthError(f"benchmark file {path} does not exist")
    records = read_records(path).rows
    fields = sorted({key for record in records[:100] for key in record})
    column = question_field(fields)
    if column is None:
        raise KgsynthError(
            f"{path}: no question field among {fields or 'no fields (empty file?)'}",
            hint=f"name the question field one of: {', '.join(QUESTION_FIELDS)}",
        )
    label = name or path.stem
    return [
        BenchmarkQuestion(label, str(record[column]))
        for record in records
        if isinstance(record.get(column), str) and record[column].strip()
    ]


def shared_benchmarks(root: Path) -> list[BenchmarkQuestion]:
    """Every question of every benchmark folder under `root` (a benchmark is named by its folder)."""
    questions = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in SUFFIXES:
                questions += read_benchmark(path, name=folder.name)
    return questions


def load_benchmarks(config: DecontamConfig) -> list[BenchmarkQuestion]:
    """The questions `config` names: the shared benchmarks (when asked for and found) and the user's files."""
    questions: list[BenchmarkQuestion] = []
    if config.shared:
        root = benchmarks_root()
        if root is None:
            logger.warning("no shared benchmarks folder found (set $%s); checking only --benchmark files",
                           BENCHMARKS_ENV)  # fmt: skip
        else:
            questions += shared_benchmarks(root)
    for path in config.benchmarks:
        questions += read_benchmark(path)
    return questions


# -- boilerplate ----------------------------------------------------------------------------------

_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)


def template_ngrams(n: int) -> set[str]:
    """The n-grams of the literal wording of kgsynth's question templates (`prompts/questions/`)."""
    grams: set[str] = set()
    for template in sorted((prompts_dir() / "questions").glob("*.j2")):
        for segment in _JINJA.split(template.read_text(encoding="utf-8")):
            words = normalise_text(segment).split()
            if len(words) >= n:
                grams.update(word_ngrams(words, n))
    return grams


def _frequent(texts: Iterable[list[str]], n: int, at_least: int) -> set[str]:
    counts: Counter[str] = Counter()
    for words in texts:
        if len(words) >= n:
            counts.update(set(word_ngrams(words, n)))
    return {gram for gram, count in counts.items() if count >= at_least}


# -- the check ------------------------------------------------------------------------------------


@dataclass
class _Index:
    exact: dict[str, int]  # normalised question -> first question index
    grams: dict[str, list[int]]  # non-boilerplate n-gram -> question indices
    sizes: list[int]  # n-grams per question
    texts: list[str]  # normalised questions


def _index(words: list[list[str]], boilerplate: set[str], n: int) -> _Index:
    exact: dict[str, int] = {}
    grams: dict[str, list[int]] = defaultdict(list)
    sizes = []
    for k, tokens in enumerate(words):
        exact.setdefault(" ".join(tokens), k)
        own = set(word_ngrams(tokens, n)) if len(tokens) >= n else set()
        sizes.append(len(own))
        for gram in own - boilerplate:
            grams[gram].append(k)
    return _Index(exact, dict(grams), sizes, [" ".join(tokens) for tokens in words])


def _benchmark_hits(words: list[str], index: _Index, n: int) -> list[str]:
    """The item's n-grams that some benchmark question has too (before dropping the items' boilerplate)."""
    if len(words) < n:
        return []
    return sorted({gram for gram in word_ngrams(words, n) if gram in index.grams})


def _match(text: str, hits: list[str], index: _Index, config: DecontamConfig) -> tuple[int, str] | None:
    """The benchmark question an item (normalised `text`, shared n-grams `hits`) copies, and the rule; or None."""
    from rapidfuzz import fuzz

    exact = index.exact.get(text)
    if exact is not None:
        return exact, "exact"
    shared: Counter[int] = Counter()
    for gram in hits:
        shared.update(index.grams[gram])
    for k, count in sorted(shared.items(), key=lambda pair: (-pair[1], pair[0])):
        if index.sizes[k] and count / index.sizes[k] >= config.containment:
            return k, "containment"
        if fuzz.token_sort_ratio(text, index.texts[k]) >= config.fuzzy_threshold:
            return k, "fuzzy"
    return None


def decontaminate(
    items: Sequence[Item], questions: Sequence[BenchmarkQuestion], *, config: DecontamConfig | None = None
) -> DecontamResult:
    """Drop the items that copy a benchmark question (see the module docstring); keep the rest in order."""
    config = config or DecontamConfig()
    n = config.ngram
    result = DecontamResult(kept=[], questions=dict(sorted(Counter(q.benchmark for q in questions).items())))
    bench_words = [normalise_text(q.text).split() for q in questions]
    index = _index(bench_words, _frequent(bench_words, n, config.boilerplate_items) | template_ngrams(n), n)
    texts = [normalise_text(item.question) for item in items]
    hits = [_benchmark_hits(text.split(), index, n) for text in texts]
    # N-grams that many generated items share are kgsynth's own wording, whatever a benchmark says.
    common = max(config.boilerplate_items, int(config.boilerplate_share * len(items)))
    frequency = Counter(gram for grams in hits for gram in grams)
    boilerplate = {gram for gram, count in frequency.items() if count >= common}
    for item, text, grams in zip(items, texts, hits, strict=True):
        match = _match(text, [gram for gram in grams if gram not in boilerplate], index, config)
        if match is None:
            result.kept.append(item)
            continue
        k, rule = match
        result.dropped.setdefault(questions[k].benchmark, {})[item.id] = rule
        logger.debug("item %s copies a %s question (%s)", item.id, questions[k].benchmark, rule)
    logger.info("decontamination: kept %d of %d items", len(result.kept), len(items))
    return result
