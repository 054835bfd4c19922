"""``kgsynth generate``: a resumable, reproducible line from the graph to a dataset of proven items.

Attempt ``i`` draws from its own random stream ``default_rng([seed, i])``, so what an attempt yields
depends only on the seed, the KG and the items accepted before it. Items are appended to JSONL shards;
``progress.json`` is the commit point (written atomically after each flushed batch, with the shards'
byte lengths), so a killed run restarts by cutting the shards back to the last commit and continuing
from the next attempt: the final dataset is byte-identical to an uninterrupted run's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kgsynth.curation import without_symptomatic_indications
from kgsynth.draft import Draft
from kgsynth.errors import KgsynthError
from kgsynth.index import CSRIndex
from kgsynth.item import Constraint, Item
from kgsynth.model import Graph, curie_prefix
from kgsynth.question import Drop, GenerateConfig, build_context, make_question
from kgsynth.schema import load_schema
from kgsynth.starts import short_cap

logger = logging.getLogger(__name__)

SHARD_SIZE = 1000
FLUSH_EVERY = 200
FORMAT_VERSION = 1


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=1) + "\n"


class Generator:
    """Runs attempts until ``config.n`` items are accepted, deduplicating as it goes."""

    def __init__(self, graph: Graph, config: GenerateConfig, *, index: CSRIndex | None = None) -> None:
        if not config.symptomatic_indications:
            graph, index = _disease_modifying(graph, index)
        self.graph = graph
        self.config = config
        self.index = index or CSRIndex(graph)
        self.ctx = build_context(graph, self.index, load_schema(config.schema_name), config)
        self.key_counts: Counter[str] = Counter()
        self.seen_questions: set[str] = set()
        self.seen_keys: set[str] = set()
        self.drops: Counter[str] = Counter()
        self.accepted = 0
        self.attempt = 0

    def _key(self, item: Item) -> str:
        return _answer_key(item.answer.curie, item.constraints)

    def admit(self, draft: Draft) -> str | None:
        """Why a draft can never be accepted whatever its wording (its key and constraints already asked, or
        its key at its cap), checked before assembly; the same checks run on the item after it."""
        curie = self.graph.ids[draft.answer]
        if _answer_key(curie, draft.constraints) in self.seen_keys:
            return "duplicate answer and constraints"
        if self._capped(curie, draft.fmt):
            return "cap: this key already has its share of the items"
        return None

    def remember(self, item: Item) -> None:
        self.seen_questions.add(item.question)
        self.seen_keys.add(self._key(item))
        self.key_counts[item.answer.curie] += 1
        if item.format == "short":  # what the short-answer start draws avoid (kgsynth.starts.draw_short_starts)
            answer = self.graph.index[item.answer.curie]
            self.ctx.key_counts[answer] = self.ctx.key_counts.get(answer, 0) + 1
            if item.type == "chain":
                start = next(c.args["entity"] for c in item.constraints if c.kind == "start")
                self.ctx.used_starts.add((f"chain-short:{item.template_id.split('/')[2]}", self.graph.index[start]))
        if item.type == "vignette" and item.path:
            disease = self.graph.index[item.path[0].subject]
            self.ctx.diagnosis_counts[disease] = self.ctx.diagnosis_counts.get(disease, 0) + 1
            self.ctx.vignettes_accepted += 1
        self.accepted += 1

    def key_capped(self, item: Item) -> bool:
        """The item's key already has its share of the items accepted so far (a short item: of the run's ``n``,
        see :func:`kgsynth.starts.short_cap`)."""
        return self._capped(item.answer.curie, item.format)

    def _capped(self, curie: str, fmt: str) -> bool:
        if fmt == "short":
            cap = short_cap(self.config.max_short_key_share, self.config.n)
        else:
            cap = max(1, int(self.config.max_key_share * (self.accepted + 1)))
        return self.key_counts[curie] >= cap

    def next_item(self) -> Item | None:
        """Run one attempt; return its item, or None (its drop reason counted)."""
        cfg = self.config
        i = self.attempt
        self.attempt += 1
        rng = np.random.default_rng([cfg.seed, i])
        qtype = cfg.types[i % len(cfg.types)]
        fmt = cfg.formats[(i // len(cfg.types)) % len(cfg.formats)]
        gold = self.accepted % cfg.options  # every letter gold equally often over the dataset
        made = make_question(self.ctx, qtype, rng, fmt, gold, admit=self.admit)
        if isinstance(made, Drop):
            self.drops[made.reason] += 1
            return None
        item = made
        if item.question in self.seen_questions:
            self.drops["duplicate question text"] += 1
            return None
        if self._key(item) in self.seen_keys:
            self.drops["duplicate answer and constraints"] += 1
            return None
        if self.key_capped(item):
            self.drops["cap: this key already has its share of the items"] += 1
            return None
        self.remember(item)
        return item


def _answer_key(curie: str, constraints: list[Constraint]) -> str:
    """An item's identity for deduplication: its answer and the arguments of its constraints."""
    return curie + "|" + repr(sorted(tuple(sorted(c.args.items())) for c in constraints))


_FILTERED: dict[int, tuple[Graph, Graph, CSRIndex]] = {}


def _disease_modifying(graph: Graph, index: CSRIndex | None) -> tuple[Graph, CSRIndex | None]:
    """The graph without symptomatic indications, and its index (built once per graph and process)."""
    got = _FILTERED.get(id(graph))
    if got is not None and got[0] is graph:
        return got[1], got[2]
    filtered = without_symptomatic_indications(graph)
    if filtered is graph:
        return graph, index
    new_index = CSRIndex(filtered)
    _FILTERED.clear()
    _FILTERED[id(graph)] = (graph, filtered, new_index)
    return filtered, new_index


def _config_record(graph: Graph, config: GenerateConfig) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "config": config.model_dump(exclude={"n"}),
        "kg": {
            "name": graph.name,
            "version": graph.version,
            "sources": [s.model_dump() for s in graph.sources],
            "non_commercial_sources": graph.non_commercial_sources(),
        },
    }


class _Shards:
    """Append-only JSONL shards with recorded lengths (the resume point)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)

    def path(self, k: int) -> Path:
        return self.dir / f"items-{k:05d}.jsonl"

    def truncate_to(self, lengths: list[int]) -> None:
        for k, p in enumerate(sorted(self.dir.glob("items-*.jsonl"))):
            want = lengths[k] if k < len(lengths) else 0
            if want == 0 and k >= len(lengths):
                p.unlink()
                continue
            if p.stat().st_size != want:
                with p.open("r+b") as fh:
                    fh.truncate(want)

    def lengths(self) -> list[int]:
        return [p.stat().st_size for p in sorted(self.dir.glob("items-*.jsonl"))]

    def read(self) -> list[Item]:
        items = []
        for p in sorted(self.dir.glob("items-*.jsonl")):
            with p.open(encoding="utf-8") as fh:
                for line in fh:
                    items.append(Item.model_validate_json(line))
        return items

    def append(self, index: int, lines: list[str]) -> None:
        by_shard: dict[int, list[str]] = {}
        for j, line in enumerate(lines):
            by_shard.setdefault((index + j) // SHARD_SIZE, []).append(line)
        for k, chunk in by_shard.items():
            with self.path(k).open("a", encoding="utf-8") as fh:
                fh.write("".join(chunk))
                fh.flush()
                os.fsync(fh.fileno())


def generate(
    graph: Graph,
    config: GenerateConfig,
    out: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    index: CSRIndex | None = None,
    compare_uniform: bool = True,
    max_attempts_per_item: int = 200,
) -> dict[str, Any]:
    """Generate ``config.n`` items into ``out`` (resuming what is there); return the summary."""
    out.mkdir(parents=True, exist_ok=True)
    record = _config_record(graph, config)
    config_path = out / "config.json"
    if config_path.exists():
        try:
            previous = json.loads(config_path.read_text(encoding="utf-8"))
        except ValueError:
            raise KgsynthError(f"{config_path} is not valid JSON", hint="use a new --out folder") from None
        if previous != record:
            raise KgsynthError(
                f"{out} holds a run with another configuration or KG version",
                hint="use a new --out folder, or the same options and KG to resume that run",
            )
    else:
        _atomic_write(config_path, _dumps(record))

    gen = Generator(graph, config, index=index)
    shards = _Shards(out / "jsonl")
    progress_path = out / "progress.json"
    state: dict[str, Any] = {"accepted": 0, "attempt": 0, "drops": {}, "lengths": []}
    if progress_path.exists():
        state = json.loads(progress_path.read_text(encoding="utf-8"))
        shards.truncate_to(state["lengths"])
        for item in shards.read():
            gen.remember(item)
        if gen.accepted != state["accepted"]:
            raise KgsynthError(f"{out}: shards hold {gen.accepted} items, progress.json says {state['accepted']}",
                               hint="the folder was edited by hand; use a new --out folder")  # fmt: skip
        gen.attempt = state["attempt"]
        gen.drops = Counter(state["drops"])
        logger.info("resuming at item %d (attempt %d)", gen.accepted, gen.attempt)
    else:
        shards.truncate_to([])

    pending: list[str] = []
    first_pending = gen.accepted
    resumed = gen.accepted > 0
    made_here: list[Item] = []  # a fresh run's items, kept rather than parsed back from the shards

    def commit() -> None:
        nonlocal pending, first_pending
        if pending:
            shards.append(first_pending, pending)
        state = {"accepted": gen.accepted, "attempt": gen.attempt, "drops": dict(sorted(gen.drops.items())),
                 "lengths": shards.lengths()}  # fmt: skip
        _atomic_write(progress_path, _dumps(state))
        pending, first_pending = [], gen.accepted

    budget = max_attempts_per_item * config.n
    while gen.accepted < config.n:
        if gen.attempt >= budget:
            commit()
            raise KgsynthError(
                f"only {gen.accepted} of {config.n} items after {gen.attempt} attempts",
                hint="drop reasons: " + ", ".join(f"{r}: {c}" for r, c in gen.drops.most_common()),
            )
        made = gen.next_item()
        if made is None:
            continue
        pending.append(made.model_dump_json() + "\n")
        made_here.append(made)
        if progress:
            progress(gen.accepted, config.n)
        if len(pending) >= FLUSH_EVERY:
            commit()
    commit()

    # a resumed run reads every item back; a fresh one has them all (the kill/resume test proves both equal)
    items = shards.read()[: config.n] if resumed else made_here[: config.n]
    summary = summarize(graph, items, gen, config)
    if compare_uniform:
        summary["rare_coverage"]["uniform_start_sampling"] = uniform_coverage(graph, config, gen.index)
    _atomic_write(out / "summary.json", _dumps(summary))
    export_hf(items, out / "hf")
    write_card(out, record, summary)
    return summary


def read_items(out: Path) -> list[Item]:
    """The items of a finished or partial run in ``out``, in order."""
    return _Shards(out / "jsonl").read()


def orpha_diseases(graph: Graph, items: list[Item]) -> set[str]:
    """Distinct diseases with an Orphanet id that the items' evidence paths pass through."""
    lo, hi = graph.category_range("biolink:Disease")
    covered = set()
    for item in items:
        for t in item.path:
            for curie in (t.subject, t.object):
                i = graph.index.get(curie)
                if i is None or not (lo <= i < hi):
                    continue
                if curie_prefix(curie) == "ORPHA" or any(x.startswith("ORPHA:") for x in graph.xrefs[i]):
                    covered.add(curie)
    return covered


def uniform_coverage(graph: Graph, config: GenerateConfig, index: CSRIndex) -> int:
    """Distinct ORPHA diseases covered by the same N items drawn with uniform start sampling."""
    uniform = config.model_copy(update={"rarity": config.rarity.model_copy(update={"alpha": 0.0})})
    gen = Generator(graph, uniform, index=index)
    items: list[Item] = []
    while len(items) < config.n and gen.attempt < 200 * config.n:
        item = gen.next_item()
        if item is not None:
            items.append(item)
    return len(orpha_diseases(graph, items))


def summarize(graph: Graph, items: list[Item], gen: Generator, config: GenerateConfig) -> dict[str, Any]:
    by_type = Counter(f"{it.type}/{it.format}/{it.hops}-hop" for it in items)
    letters = Counter(it.answer.letter for it in items if it.answer.letter)
    rarity = np.array([it.rarity for it in items])
    hist, edges = np.histogram(rarity, bins=10, range=(0.0, 1.0))
    rules = Counter(d.rule for it in items for d in it.distractors)
    lo, hi = graph.category_range("biolink:Disease")
    rare_total = int(np.count_nonzero(graph.rare[lo:hi]))
    covered = orpha_diseases(graph, items)
    return {
        "items": len(items),
        "attempts": gen.attempt,
        "by_type_format_hops": dict(sorted(by_type.items())),
        "gold_letter_counts": dict(sorted(letters.items())),
        "drop_reasons": dict(sorted(gen.drops.items())),
        "distractor_rules": dict(sorted(rules.items())),
        "rarity_histogram": {f"{edges[i]:.1f}-{edges[i + 1]:.1f}": int(hist[i]) for i in range(len(hist))},
        "rare_coverage": {
            "orpha_diseases_covered": len(covered),
            "rare_diseases_in_kg": rare_total,
        },
        "non_commercial_items": sum(it.non_commercial for it in items),
        "kg_version": graph.version,
        "seed": config.seed,
    }


def hf_rows(items: list[Item]) -> list[dict[str, Any]]:
    """Items as dataset rows: the item's fields (free-form dicts as JSON strings) plus the columns TRL's
    GRPO trainer and kgsynth's rewards read (``prompt``, ``answer_letter``, ``answer_aliases``,
    ``path_intermediates``)."""
    from kgsynth.teacher.faithfulness import intermediate_entities
    from kgsynth.teacher.prompts import student_messages

    rows = []
    for it in items:
        row = it.model_dump()
        row["entity_aliases"] = json.dumps(row["entity_aliases"], ensure_ascii=False, sort_keys=True)
        for c in row["constraints"]:
            c["args"] = json.dumps(c["args"], sort_keys=True)
        row["prompt"] = [dict(m) for m in student_messages(it)]
        row["answer_letter"] = it.answer.letter
        row["answer_aliases"] = it.answer.aliases
        row["path_intermediates"] = list(intermediate_entities(it).values())
        rows.append(row)
    return rows


def export_hf(items: list[Item], directory: Path) -> None:
    """A Hugging Face dataset on disk (``datasets.load_from_disk``), reproducible byte for byte."""
    import datasets

    datasets.disable_progress_bars()
    rows = hf_rows(items)
    ds = datasets.Dataset.from_list(rows)
    fingerprint = hashlib.blake2b("".join(it.id for it in items).encode(), digest_size=8).hexdigest()
    ds._fingerprint = fingerprint  # a content hash, so two identical runs write identical state files
    tmp = directory.with_name(directory.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    ds.save_to_disk(str(tmp))
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(tmp, directory)


def write_card(out: Path, record: dict[str, Any], summary: dict[str, Any]) -> None:
    """The dataset card: what the data is, how it was made (the exact configuration), its licences."""
    nc = record["kg"]["non_commercial_sources"]
    licences = sorted({s["licence"] for s in record["kg"]["sources"]})
    lines = [
        "---",
        "license: other" if nc else "license: cc-by-4.0",
        "tags: [medical, knowledge-graph, synthetic, kgsynth]",
        "---",
        "",
        f"# kgsynth dataset ({summary['items']} items, KG {record['kg']['name']} {record['kg']['version']})",
        "",
        "Multiple-choice and short-answer medical questions generated by kgsynth from knowledge-graph paths. "
        "Every answer is proven by the graph (its candidate set is given per constraint), every distractor "
        "is proven to fail a stated constraint (and the rule that chose it is recorded), and every item "
        "carries its evidence path with the source and licence of each edge.",
        "",
    ]
    if nc:
        lines += [
            f"**NON-COMMERCIAL: built with {', '.join(nc)} (CC BY-NC-SA 4.0). This dataset may not be used "
            "commercially.**",
            "",
        ]
    lines += [
        "## Sources and licences",
        "",
        *[f"- {s['name']}: {s['title']} — {s['licence']}" for s in record["kg"]["sources"]],
        "",
        f"Licences of the edges in the KG: {'; '.join(licences)}.",
        "",
        "## Summary",
        "",
        "```json",
        json.dumps(summary, indent=1, sort_keys=True),
        "```",
        "",
        "## Configuration",
        "",
        "```json",
        json.dumps(record, indent=1, sort_keys=True),
        "```",
        "",
    ]
    _atomic_write(out / "README.md", "\n".join(lines))
