"""Chain questions: a sampled metapath walk from a rare start, its end masked."""

from __future__ import annotations

import logging

import numpy as np

from kgsynth.questions.draft import Context, Draft, Drop, acceptable_walk
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
        starts = draw_starts(ctx, key, np.empty(0, dtype=np.int32), rng, 8)
    walk = acceptable_walk(ctx, steps, starts, rng, hidden_from=1)
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
        mp_name=mp.name,
    )  # fmt: skip
