"""Chain questions: a sampled metapath walk from a rare start, its end masked."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from kgsynth.graph.index import Step
from kgsynth.graph.schema import MetapathSpec
from kgsynth.questions.distractors import ChainTarget, chain_distractors
from kgsynth.questions.draft import TOO_FEW_NEAR, Context, Draft, Drop, acceptable_walk
from kgsynth.questions.genconfig import AnswerFormat
from kgsynth.questions.item import Constraint
from kgsynth.questions.openbook import OpenBook, book_of
from kgsynth.questions.starts import (
    completable,
    draw_short_starts,
    draw_starts,
    short_answer_starts,
    start_distribution,
)

logger = logging.getLogger(__name__)


def walks_per_attempt(ctx: Context) -> int:
    """How many walks one multiple-choice chain attempt tries: ``walks_per_attempt``, doubled per hop beyond 3
    (a longer chain passes more checks, so fewer of its walks make an item)."""
    return ctx.config.walks_per_attempt * 2 ** max(0, ctx.config.hops - 3)


PROBE_CHECKS = 300  # a metapath whose first this many near checks all fail is not asked multiple choice ...
PROBE_ATTEMPTS = 2000  # ... (probed over at most this many attempts' walks; a metapath not decided is kept)
PROBE_SEED = 16  # the probe's own random stream (beside the run's seed), so it draws nothing from the attempts'


def viable_chain_paths(ctx: Context) -> list[tuple[MetapathSpec, list[Step]]]:
    """The chain metapaths a multiple-choice attempt draws from: each askable metapath whose walks' ends can have
    near, safe distractors, probed once per run.

    Under the near rules some metapaths never make an item: the classes near a disease's start through a gene and
    a drug are the classes of the drugs the open world could substitute for the hidden one, so every near class
    is unsafe (`disease_gene_drug_class`: 0 of 2,852 near checks at ``--hops 3``). Drawing them wasted a quarter
    of the attempts and most of the association walks. A metapath is left out when the first
    :data:`PROBE_CHECKS` walks that pass every other check all fail the near rules (logged); one whose walks
    rarely reach the check is kept. The probe has its own random stream and ignores the hidden-intermediate
    caps, so a resumed run probes the same way."""
    if ctx.memo.viable_chain_paths is None:
        # the same context (and memo) with no hidden intermediate counted yet: the run's tally is not touched
        probing = dataclasses.replace(ctx, tally=dataclasses.replace(ctx.tally, hidden_counts={}))
        kept = []
        for j, (mp, steps) in enumerate(ctx.chain_paths):
            if _probe(probing, mp, steps, np.random.default_rng([ctx.config.seed, PROBE_SEED, j])):
                kept.append((mp, steps))
            else:
                logger.info("metapath %s is not asked multiple choice: its first %d near checks all failed",
                            mp.name, PROBE_CHECKS)  # fmt: skip
        ctx.memo.viable_chain_paths = kept
    return ctx.memo.viable_chain_paths


def _probe(ctx: Context, mp: MetapathSpec, steps: list[Step], rng: np.random.Generator) -> bool:
    """Whether a walk of ``mp`` passing every other check has near, safe distractors within the probe's bounds."""
    g = ctx.graph
    lo, hi = g.category_range(mp.start)
    if hi <= lo:
        return True
    key = f"chain:{mp.name}"
    if key not in ctx.memo.starts:
        start_distribution(ctx, key, completable(ctx, steps, np.arange(lo, hi, dtype=np.int32)),
                           ctx.config.rarity.alpha)  # fmt: skip
    checks = 0

    def check(nodes: np.ndarray, edges: np.ndarray) -> str | None:
        nonlocal checks
        checks += 1
        if ctx.config.context == "facts":
            return None if not isinstance(_book(ctx, steps, nodes, edges, rng), Drop) else TOO_FEW_NEAR
        return None if _near_distractors(ctx, steps, nodes, rng) is not None else TOO_FEW_NEAR

    for _ in range(PROBE_ATTEMPTS):
        starts = draw_starts(ctx, key, np.empty(0, dtype=np.int32), rng, walks_per_attempt(ctx))
        if not isinstance(acceptable_walk(ctx, steps, starts, rng, hidden_from=1, accept=check), Drop):
            return True
        if checks >= PROBE_CHECKS:
            return False
    return True


LAYERS_CACHE = 8192  # chain starts whose candidate layers are kept


def chain_layers(ctx: Context, start: int, steps: list[Step]) -> list[np.ndarray]:
    """``start`` and the candidate set after each of ``steps`` from it (:meth:`~kgsynth.questions.verify.Prover.
    follow`; cached per run: a start is drawn again, and its walks are checked one by one; a fresh list of read-only
    layers)."""
    key = (start, "|".join(map(str, steps)))
    got = ctx.memo.chain_layers.get(key)
    if got is None:
        one = np.array([start], dtype=np.int32)
        got = [one, *ctx.prover.follow(one, steps)]
        for layer in got:
            layer.flags.writeable = False
        if len(ctx.memo.chain_layers) >= LAYERS_CACHE:
            ctx.memo.chain_layers.clear()
        ctx.memo.chain_layers[key] = got
    return list(got)


def _book(
    ctx: Context, steps: list[Step], nodes: np.ndarray, edges: np.ndarray, rng: np.random.Generator
) -> OpenBook | Drop:
    """The open-book decoys and facts of a walk (:func:`kgsynth.questions.openbook.book_of`)."""
    start = np.array([int(nodes[0])], dtype=np.int32)
    layers = chain_layers(ctx, int(nodes[0]), steps)
    target = ChainTarget(steps=steps, layers=layers, answer=int(nodes[-1]), stated=start, soft_anchor=True)
    return book_of(ctx, target, [int(x) for x in nodes], [int(e) for e in edges], rng)


def _near_distractors(
    ctx: Context, steps: list[Step], nodes: np.ndarray, rng: np.random.Generator
) -> list[tuple[int, str]] | None:
    """The near, safe distractors of a walk's end (:func:`chain_distractors`), or None when too few exist."""
    start = np.array([int(nodes[0])], dtype=np.int32)
    layers = chain_layers(ctx, int(nodes[0]), steps)
    k = ctx.config.options - 1
    got = chain_distractors(ctx, ChainTarget(steps=steps, layers=layers, answer=int(nodes[-1]), stated=start), rng, k)
    return got if len(got) >= k else None


def chain_draft(ctx: Context, rng: np.random.Generator, fmt: AnswerFormat, gold: int) -> Draft | Drop:
    """A chain question's draft: walk a metapath from a start drawn by rarity; prove every candidate end."""
    if not ctx.chain_paths:
        return Drop(f"no askable metapath of {ctx.config.hops} hops in the schema")
    near_checked = fmt == "mcq"
    paths = viable_chain_paths(ctx) if near_checked else ctx.chain_paths
    if not paths:
        return Drop(f"no metapath of {ctx.config.hops} hops whose walks end with near, safe distractors")
    mp, steps = paths[int(rng.integers(len(paths)))]
    g = ctx.graph
    lo, hi = g.category_range(mp.start)
    if hi <= lo:
        return Drop("metapath start category absent from the graph")
    key = f"chain:{mp.name}" if fmt == "mcq" else f"chain-short:{mp.name}"
    if key not in ctx.memo.starts:
        candidates = completable(ctx, steps, np.arange(lo, hi, dtype=np.int32))
        if fmt == "short":
            candidates = short_answer_starts(ctx, key, steps, candidates)
        start_distribution(ctx, key, candidates, ctx.config.rarity.alpha)
    if fmt == "short":
        if len(ctx.memo.starts[key][0]) == 0:
            return Drop("short answer: no start of this metapath has few enough answers")
        starts = draw_short_starts(ctx, key, rng, 8, vignette=False)
        if len(starts) == 0:
            return Drop("cap: every short-answer start of this metapath is asked or at its key's cap")
    else:
        starts = draw_starts(ctx, key, np.empty(0, dtype=np.int32), rng, walks_per_attempt(ctx))
    picked: list[list[tuple[int, str, int]]] = []
    books: list[OpenBook] = []

    def near_enough(nodes: np.ndarray, edges: np.ndarray) -> str | None:
        """A multiple-choice walk is kept only if its end has enough near, safe distractors (picked here); an
        open-book one only if enough of them end decoy chains (its facts, built here)."""
        if ctx.config.context == "facts":
            book = _book(ctx, steps, nodes, edges, rng)
            if isinstance(book, Drop):
                return book.reason
            books.append(book)
            picked.append([(d, rule, len(steps)) for d, rule in book.decoys])
            return None
        got = _near_distractors(ctx, steps, nodes, rng)
        if got is None:
            return TOO_FEW_NEAR
        picked.append([(d, rule, len(steps)) for d, rule in got])
        return None

    # open-book short answers get their facts at assembly (kgsynth.questions.openbook); they show no options
    check = near_enough if near_checked else None
    walk = acceptable_walk(ctx, steps, starts, rng, hidden_from=1, accept=check)
    if isinstance(walk, Drop):
        return walk
    nodes, edges = walk
    start, answer = int(nodes[0]), int(nodes[-1])
    layers = chain_layers(ctx, start, steps)
    constraints = [
        Constraint(
            description=f"start: {g.names[start]}", kind="start", candidates_after=1, args={"entity": g.ids[start]}
        )
    ]
    for step, layer in zip(steps, layers[1:], strict=True):
        constraints.append(
            Constraint(
                description=f"then {step}", kind="chain_step", candidates_after=len(layer), args={"step": str(step)}
            )
        )
    return Draft(
        qtype="chain", fmt=fmt, gold=gold, steps=steps, layers=layers, answer=answer, constraints=constraints,
        path_edges=[int(e) for e in edges], start_text=g.names[start], start=start, nodes=[int(x) for x in nodes],
        mp_name=mp.name, chain_distractors=picked[0] if picked else None, facts=books[0].facts if books else None,
    )  # fmt: skip
