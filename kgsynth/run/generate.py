"""``kgsynth generate``: a resumable, reproducible line from the graph to a dataset of proven items.

Attempt ``i`` draws from its own random stream ``default_rng([seed, i])``, so what an attempt yields
depends only on the seed, the KG and the items accepted before it. Items are appended to JSONL shards;
``progress.json`` is the commit point (written atomically after each flushed batch, with the shards'
byte lengths and hashes), so a killed run restarts by cutting the shards back to the last commit and
continuing from the next attempt: the final dataset is byte-identical to an uninterrupted run's. The
run directory's rules (the lock, what is refused) live in ``kgsynth.run.journal``.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kgsynth.errors import KgsynthError
from kgsynth.files import atomic_write
from kgsynth.graph.index import CSRIndex
from kgsynth.graph.model import Graph, curie_prefix
from kgsynth.graph.schema import DEFAULT_SCHEMA, load_schema
from kgsynth.questions.curation import symptomatic_uses, without_symptomatic_indications
from kgsynth.questions.draft import HIDDEN_CAPPED, Draft, Tally
from kgsynth.questions.hidden import draft_hidden, hidden_intermediates
from kgsynth.questions.item import Constraint, Item
from kgsynth.questions.question import Drop, GenerateConfig, build_context, make_question
from kgsynth.questions.starts import short_cap
from kgsynth.run.focus import Focus, draft_weight, read_focus, weight_bound
from kgsynth.run.journal import (
    FLUSH_EVERY,
    NEW_FOLDER_HINT,
    Progress,
    check_run_entries,
    dumps,
    lock_run_dir,
    read_progress,
    reopen_shards,
    write_error,
)
from kgsynth.run.layout import PROGRESS, RUN_RECORD, SHARDS, SUMMARY

logger = logging.getLogger(__name__)

# a run gives up after this many attempts per item asked: a --type vignette --n 150 run needed about 285 under the
# rules of 9d650db (150 in 42,685 attempts on seed 613; it stopped at 143 with 200), 354 to 400 or more under those
# of 24e0944 (seeds 1113 and 1114: 150 in 53,153 and 55,731; seed 1115 stopped at 144 with 400), and 713 under those
# of bab0184 (seed 1113: 150 in 106,996; seeds 1113 and 1114 stopped at 146 with 500)
MAX_ATTEMPTS_PER_ITEM = 800
UNIFORM_ATTEMPTS_PER_ITEM = 200  # the uniform-start baseline's (a comparison, not the user's items)

FORMAT_VERSION = 2  # 2: progress.json records each shard's name, length and SHA-256
FOCUS_DROP = "focus: drawn less often (the focus file weighs this draft below the heaviest)"


class Generator:
    """Runs attempts until ``config.n`` items are accepted, deduplicating as it goes."""

    def __init__(self, graph: Graph, config: GenerateConfig, *, index: CSRIndex | None = None) -> None:
        symptomatic: dict[int, np.ndarray] = {}
        if not config.symptomatic_indications:
            symptomatic = symptomatic_uses(graph)  # still a start drug's uses (the same node ids after the filter)
            graph, index = _disease_modifying(graph, index)
        self.graph = graph
        self.config = config
        self.index = index or CSRIndex(graph)
        self.tally = Tally()  # what the question steps read of the items accepted (written by remember alone)
        self.ctx = build_context(
            graph, self.index, load_schema(config.schema_name), config, tally=self.tally, symptomatic=symptomatic
        )
        self.key_counts: Counter[str] = Counter()
        self.hidden_counts: Counter[str] = (
            Counter()
        )  # items through each hidden intermediate (kgsynth.questions.hidden)
        self.seen_questions: set[str] = set()
        self.seen_keys: set[str] = set()
        self.drops: Counter[str] = Counter()
        self.accepted = 0
        self.attempt = 0
        # items one hidden intermediate may have: its share of the run's ``n``, so a finished run has at most
        # ``max_hidden_share`` through any one. A share of the items accepted so far (as keys are capped) held every
        # hidden entity at one item until ``2 / share`` items existed, and a run whose walks reach few hidden
        # entities used them up before that and stopped there: a --hops 3 chain run near 70 items, a --type
        # vignette run at 97 of 300 (seed 104), a default --hops 4 run at 98 of 300 (seed 203)
        self.tally.hidden_cap = short_cap(config.max_hidden_share, config.n)
        self.focus: Focus | None = read_focus(config.focus) if config.focus is not None else None
        self._focus_rng: np.random.Generator | None = None
        if self.focus is not None:
            self._focus_bound = weight_bound(self.focus, types=config.types)
            hops = self.focus.weights.hops
            if hops and max(hops, key=lambda h: (hops[h], h)) != str(config.hops):
                logger.info("the focus file weighs other hops more (%s); this run asks --hops %d", hops, config.hops)

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
        hidden = draft_hidden(draft.nodes, vignette=draft.qtype == "vignette")
        if self._hidden_capped([self.graph.ids[h] for h in hidden]):
            return HIDDEN_CAPPED
        if self.focus is not None and not self._focus_keeps(draft):
            return FOCUS_DROP
        return None

    def _focus_keeps(self, draft: Draft) -> bool:
        """Keep a draft with probability its focus weight over the heaviest a draft can have (rejection
        sampling: the drafts kept follow the unfocused distribution times the weights), drawn from the
        attempt's own focus stream so the rest of the attempt is drawn as without it."""
        assert self.focus is not None and self._focus_rng is not None
        relations = [self.graph.relations[int(self.graph.rel[e])] for e in draft.path_edges]
        rarity = round(float(self.ctx.scores[draft.start]), 6)  # the item's rarity (kgsynth.questions.itemize)
        weight = draft_weight(self.focus, relations=relations, qtype=draft.qtype, rarity=rarity)
        return bool(self._focus_rng.random() * self._focus_bound < weight)

    def remember(self, item: Item) -> None:
        self.seen_questions.add(item.question)
        self.seen_keys.add(self._key(item))
        self.key_counts[item.answer.curie] += 1
        hidden = hidden_intermediates(item)
        self.hidden_counts.update(hidden)
        for curie in hidden:  # what the walks avoid (kgsynth.questions.draft.acceptable_walk)
            node = self.graph.index[curie]
            self.tally.hidden_counts[node] = self.tally.hidden_counts.get(node, 0) + 1
        if (
            item.format == "short"
        ):  # what the short-answer start draws avoid (kgsynth.questions.starts.draw_short_starts)
            answer = self.graph.index[item.answer.curie]
            self.tally.key_counts[answer] = self.tally.key_counts.get(answer, 0) + 1
            if item.type == "chain":
                start = next(c.args["entity"] for c in item.constraints if c.kind == "start")
                self.tally.used_starts.add((f"chain-short:{item.template_id.split('/')[2]}", self.graph.index[start]))
        if item.type == "vignette" and item.path:
            disease = self.graph.index[item.path[0].subject]
            self.tally.diagnosis_counts[disease] = self.tally.diagnosis_counts.get(disease, 0) + 1
            self.tally.vignettes_accepted += 1
        self.accepted += 1

    def key_capped(self, item: Item) -> bool:
        """The item's key already has its share of the items accepted so far (a short item: of the run's ``n``,
        see :func:`kgsynth.questions.starts.short_cap`)."""
        return self._capped(item.answer.curie, item.format)

    def _capped(self, curie: str, fmt: str) -> bool:
        if fmt == "short":
            cap = short_cap(self.config.max_short_key_share, self.config.n)
        else:
            cap = max(1, int(self.config.max_key_share * (self.accepted + 1)))
        return self.key_counts[curie] >= cap

    def _hidden_capped(self, hidden: list[str]) -> bool:
        """One of ``hidden`` already has its share of the items (``tally.hidden_cap``, counted as keys are)."""
        return any(self.hidden_counts[h] >= self.tally.hidden_cap for h in hidden)

    def next_item(self) -> Item | None:
        """Run one attempt; return its item, or None (its drop reason counted)."""
        cfg = self.config
        i = self.attempt
        self.attempt += 1
        rng = np.random.default_rng([cfg.seed, i])
        if self.focus is not None:
            self._focus_rng = np.random.default_rng([cfg.seed, i, 1])
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
        if self._hidden_capped(hidden_intermediates(item)):
            self.drops[HIDDEN_CAPPED] += 1
            return None
        self.remember(item)
        if cfg.schema_name != DEFAULT_SCHEMA:
            item.schema_name = cfg.schema_name  # its evidence and facts are worded by the schema that wrote it
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
    """What a run is (compared on resume): the options but ``n`` and the focus file's path, the focus file's
    SHA-256 and weights when there is one (another file's content is another run), and the KG."""
    focus = {"focus": read_focus(config.focus).record()} if config.focus is not None else {}
    return {
        "format": FORMAT_VERSION,
        "config": config.model_dump(exclude={"n", "focus"}),
        **focus,
        "kg": {
            "name": graph.name,
            "version": graph.version,
            "sources": [s.model_dump() for s in graph.sources],
            "non_commercial_sources": graph.non_commercial_sources(),
        },
    }


def generate(
    graph: Graph,
    config: GenerateConfig,
    out: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    index: CSRIndex | None = None,
    compare_uniform: bool = True,
    max_attempts_per_item: int = MAX_ATTEMPTS_PER_ITEM,
) -> dict[str, Any]:
    """Generate ``config.n`` items into ``out`` (resuming what is there); return the summary.

    ``out`` is locked for the run and checked before anything is written (see ``kgsynth.run.journal``): a
    folder holding anything a run does not write, damaged shards or a damaged commit record, or more
    items than ``config.n``, is refused with a message and left as it is.
    """
    with lock_run_dir(out):
        try:
            return _generate(graph, config, out, progress=progress, index=index, compare_uniform=compare_uniform,
                             max_attempts_per_item=max_attempts_per_item)  # fmt: skip
        except OSError as exc:
            raise write_error(exc, out) from None


def _generate(
    graph: Graph,
    config: GenerateConfig,
    out: Path,
    *,
    progress: Callable[[int, int], None] | None,
    index: CSRIndex | None,
    compare_uniform: bool,
    max_attempts_per_item: int,
) -> dict[str, Any]:
    started = check_run_entries(out)
    record = _config_record(graph, config)
    config_path = out / RUN_RECORD
    progress_path = out / PROGRESS
    if started:
        try:
            previous = json.loads(config_path.read_text(encoding="utf-8"))
        except ValueError:
            raise KgsynthError(f"{config_path} is not valid JSON", hint="use a new --out folder") from None
        if previous != record:
            raise KgsynthError(
                f"{out} holds a run with another configuration or KG version",
                hint="use a new --out folder, or the same options and KG to resume that run",
            )
        if not progress_path.exists():
            # A run writes progress.json right after config.json, before its first shard.
            if (out / SHARDS).is_dir() and any((out / SHARDS).iterdir()):
                raise KgsynthError(f"{out} holds shards but no progress.json", hint=NEW_FOLDER_HINT)
            atomic_write(progress_path, dumps(Progress().model_dump()))
    else:
        atomic_write(config_path, dumps(record))
        atomic_write(progress_path, dumps(Progress().model_dump()))

    state = read_progress(progress_path)
    if state.accepted > config.n:
        raise KgsynthError(
            f"{out} already holds {state.accepted} items, more than --n {config.n}",
            hint=f"use --n {state.accepted} or more (a larger --n extends the run), or a new --out folder",
        )
    gen = Generator(graph, config, index=index)
    shards = reopen_shards(out / SHARDS, state)
    for line in shards.read_lines():
        gen.remember(Item.model_validate_json(line))
    if gen.accepted != state.accepted:
        raise KgsynthError(f"{out}: shards hold {gen.accepted} items, progress.json says {state.accepted}",
                           hint=NEW_FOLDER_HINT)  # fmt: skip
    gen.attempt = state.attempt
    gen.drops = Counter(state.drops)
    if gen.accepted:
        logger.info("resuming at item %d (attempt %d)", gen.accepted, gen.attempt)

    pending: list[str] = []
    first_pending = gen.accepted
    resumed = gen.accepted > 0
    made_here: list[Item] = []  # a fresh run's items, kept rather than parsed back from the shards

    def commit() -> None:
        nonlocal pending, first_pending
        if pending:
            shards.append(first_pending, pending)
        state = Progress(accepted=gen.accepted, attempt=gen.attempt, drops=dict(sorted(gen.drops.items())),
                         shards=shards.records())  # fmt: skip
        atomic_write(progress_path, dumps(state.model_dump()))
        pending, first_pending = [], gen.accepted

    budget = max_attempts_per_item * config.n
    while gen.accepted < config.n:
        if gen.attempt >= budget:
            commit()
            raise KgsynthError(
                f"only {gen.accepted} of {config.n} items after {gen.attempt} attempts",
                hint=f"the {gen.accepted} items are kept in {out}. The rules and caps leave too few distinct "
                "questions for this n: ask a smaller --n, allow more question types, or raise the caps in a config "
                "file (max_hidden_share, max_diagnosis_share, max_key_share; `kgsynth config generate`). Drop reasons: "
                + ", ".join(f"{r}: {c}" for r, c in gen.drops.most_common()),
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
    items = [Item.model_validate_json(line) for line in shards.read_lines()] if resumed else made_here
    summary = summarize(graph, items, gen, config)
    if compare_uniform:
        summary["rare_coverage"]["uniform_start_sampling"] = uniform_coverage(graph, config, gen.index, like=gen)
    atomic_write(out / SUMMARY, dumps(summary))
    write_card(out, items)
    return summary


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


def uniform_coverage(graph: Graph, config: GenerateConfig, index: CSRIndex, *, like: Generator | None = None) -> int:
    """Distinct ORPHA diseases covered by the same N items drawn with uniform start sampling (``like``: the run's
    generator, whose caches of the graph it reuses; the count is the same without)."""
    # the baseline of what rarity weighting buys: no rarity bias and no focus file
    uniform = config.model_copy(update={"rarity": config.rarity.model_copy(update={"alpha": 0.0}), "focus": None})
    gen = Generator(graph, uniform, index=index)
    if like is not None and like.graph is gen.graph:
        gen.ctx.memo.share_graph_caches(like.ctx.memo)
    items: list[Item] = []
    while len(items) < config.n and gen.attempt < UNIFORM_ATTEMPTS_PER_ITEM * config.n:
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
    focus = {"focus": {"file": gen.focus.file, **gen.focus.record()}} if gen.focus is not None else {}
    return {
        **focus,
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


def write_card(out: Path, items: list[Item]) -> None:
    """The run's card (``README.md`` and its figure), from the dataset-card template (``kgsynth.run.card``): the
    true licence of the edges the items use, counts, the generation summary and the exact configuration."""
    from kgsynth.run.card import CardContext
    from kgsynth.run.card import write_card as write_dataset_card

    write_dataset_card(out, CardContext(run=out, items=items))
