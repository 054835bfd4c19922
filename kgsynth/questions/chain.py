"""Chain questions: a sampled metapath walk from a rare start, its end masked."""

from __future__ import annotations

import logging

import numpy as np

from kgsynth.questions.distractors import ChainTarget, chain_distractors
from kgsynth.questions.draft import TOO_FEW_NEAR, Context, Draft, Drop, acceptable_walk
from kgsynth.questions.genconfig import AnswerFormat
from kgsynth.questions.item import Constraint
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


def chain_draft(ctx: Context, rng: np.random.Generator, fmt: AnswerFormat, gold: int) -> Draft | Drop:
    """A chain question's draft: walk a metapath from a start drawn by rarity; prove every candidate end."""
    if not ctx.chain_paths:
        return Drop(f"no askable metapath of {ctx.config.hops} hops in the schema")
    mp, steps = ctx.chain_paths[int(rng.integers(len(ctx.chain_paths)))]
    g = ctx.graph
    lo, hi = g.category_range(mp.start)
    if hi <= lo:
        return Drop("metapath start category absent from the graph")
    key = f"chain:{mp.name}" if fmt == "mcq" else f"chain-short:{mp.name}"
    if key not in ctx.starts:
        candidates = completable(ctx, steps, np.arange(lo, hi, dtype=np.int32))
        if fmt == "short":
            candidates = short_answer_starts(ctx, key, steps, candidates)
        start_distribution(ctx, key, candidates, ctx.config.rarity.alpha)
    if fmt == "short":
        if len(ctx.starts[key][0]) == 0:
            return Drop("short answer: no start of this metapath has few enough answers")
        starts = draw_short_starts(ctx, key, rng, 8, vignette=False)
        if len(starts) == 0:
            return Drop("cap: every short-answer start of this metapath is asked or at its key's cap")
    else:
        starts = draw_starts(ctx, key, np.empty(0, dtype=np.int32), rng, walks_per_attempt(ctx))
    picked: list[list[tuple[int, str, int]]] = []

    def near_enough(nodes: np.ndarray, edges: np.ndarray) -> str | None:
        """A multiple-choice walk is kept only if its end has enough near, safe distractors (picked here)."""
        start = np.array([int(nodes[0])], dtype=np.int32)
        layers = [start, *ctx.prover.follow(start, steps)]
        k = ctx.config.options - 1
        got = chain_distractors(ctx, ChainTarget(steps=steps, layers=layers, answer=int(nodes[-1]), stated=start),
                                rng, k)  # fmt: skip
        if len(got) < k:
            return TOO_FEW_NEAR
        picked.append([(d, rule, len(steps)) for d, rule in got])
        return None

    # open-book items draw their options from decoy chains (kgsynth.questions.openbook), short ones show none
    check = near_enough if fmt == "mcq" and ctx.config.context != "facts" else None
    walk = acceptable_walk(ctx, steps, starts, rng, hidden_from=1, accept=check)
    if isinstance(walk, Drop):
        return walk
    nodes, edges = walk
    start, answer = int(nodes[0]), int(nodes[-1])
    layers = [np.array([start], dtype=np.int32), *ctx.prover.follow(np.array([start]), steps)]
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
        mp_name=mp.name, chain_distractors=picked[0] if picked else None,
    )  # fmt: skip
