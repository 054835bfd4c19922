"""Start sampling: which metapaths can be asked, and start entities drawn by rarity."""

from __future__ import annotations

import logging

import numpy as np

from kgsynth.graph.index import Step
from kgsynth.questions.draft import Context
from kgsynth.questions.frequency import frequency_share
from kgsynth.questions.genconfig import GenerateConfig
from kgsynth.questions.verify import HAS_PHENOTYPE

logger = logging.getLogger(__name__)


def start_distribution(ctx: Context, key: str, candidates: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """The rarity-weighted CDF over ``candidates``, cached under ``key``."""
    got = ctx.memo.starts.get(key)
    if got is None:
        w = np.power(ctx.scores[candidates], alpha) if alpha > 0 else np.ones(len(candidates))
        cdf = np.cumsum(w)
        got = (candidates, cdf / cdf[-1] if len(cdf) and cdf[-1] > 0 else cdf)
        ctx.memo.starts[key] = got
    return got


def draw_starts(ctx: Context, key: str, candidates: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` starts drawn by rarity from ``candidates`` (the distribution is cached under ``key``)."""
    cands, cdf = start_distribution(ctx, key, candidates, ctx.config.rarity.alpha)
    if len(cands) == 0:
        return np.empty(0, dtype=np.int32)
    return cands[np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(cands) - 1)]


def vignette_starts(ctx: Context) -> np.ndarray:
    """Diseases with at least ``min_findings`` statable phenotype annotations: phenotypic abnormalities (aspect P,
    not an onset) at least ``min_finding_frequency`` frequent (the leak rules may still leave a disease short)."""
    got = ctx.memo.starts.get("vignette-starts")
    if got is None:
        g = ctx.graph
        lo, hi = g.category_range("biolink:Disease")
        part = g.relation_slice(HAS_PHENOTYPE.relation)
        src, dst, qual = g.src[part], g.dst[part], g.qual[part]
        share_of = np.array(
            [frequency_share(q.get("frequency")) if q.get("aspect", "P") == "P" else -1.0 for q in g.qualifiers]
            + [frequency_share(None)]  # qual -1: no qualifiers
        )
        onset = np.zeros(g.num_nodes, dtype=bool)
        onset[list(ctx.onset_terms)] = True
        ok = (share_of[qual] >= ctx.config.min_finding_frequency) & ~onset[dst]
        deg = np.bincount(src[ok], minlength=g.num_nodes)[lo:hi]
        got = (np.arange(lo, hi, dtype=np.int32)[deg >= ctx.config.min_findings], np.empty(0))
        ctx.memo.starts["vignette-starts"] = got
    return got[0]


def completable(ctx: Context, steps: list[Step], candidates: np.ndarray) -> np.ndarray:
    """The ``candidates`` from which at least one walk along ``steps`` exists (walked backwards)."""
    reachable = np.arange(ctx.graph.num_nodes, dtype=np.int32)
    for step in reversed(steps):
        reachable = ctx.index.reach(reachable, Step(step.relation, not step.inverse))
    return np.intersect1d(candidates, reachable)


def short_answer_starts(ctx: Context, key: str, steps: list[Step], candidates: np.ndarray) -> np.ndarray:
    """The ``candidates`` from which following ``steps`` through every intermediate ends at no more than
    ``max_short_answers`` entities (the first of each start's answers kept under ``key`` for
    :func:`draw_short_starts`).

    A short item accepts every proven answer (:func:`kgsynth.questions.itemize.assemble`), and a question's answer set
    contains what its start alone reaches: a start reaching more ends than a fair short question accepts can
    never make a short item, so short runs draw only from these."""
    bound = ctx.config.max_short_answers
    keep, answers = [], []
    for s in candidates:
        last = ctx.prover.follow(np.array([s], dtype=np.int32), steps)[-1]
        if 1 <= len(last) <= bound:
            keep.append(int(s))
            answers.append(int(last[0]))
    ctx.memo.short_answers[key] = np.array(answers, dtype=np.int32)
    return np.array(keep, dtype=np.int32)


def short_cap(share: float, n: int) -> int:
    """Items one key (or diagnosis) may have in a short-answer run: its share of the run's ``n`` (at least 1).

    Few starts lead to a single answer (about 70 keys at --hops 3); a share of the items accepted so far
    would hold every key at one item until ``1 / share`` items exist, which so few keys never reach."""
    return max(1, int(share * n))


def short_diagnosis_cap(cfg: GenerateConfig) -> int:
    """Vignettes one diagnosis may have in a short-answer run: its share of the run's vignettes, counted as the
    vignette types' share of ``n`` (a short item accepts several answers, so chains take a larger part of a
    short run than when each needed a single answer, and a share of all of ``n`` let a few diagnoses fill the
    vignettes)."""
    return short_cap(cfg.max_diagnosis_share, max(1, run_vignettes(cfg)))


def run_vignettes(cfg: GenerateConfig) -> int:
    """The vignettes a run of ``cfg`` is expected to hold: the vignette types' share of ``n``."""
    return cfg.n * cfg.types.count("vignette") // len(cfg.types)


def draw_short_starts(ctx: Context, key: str, rng: np.random.Generator, size: int, *, vignette: bool) -> np.ndarray:
    """``size`` starts drawn by rarity among those whose first answer (and, for a vignette, diagnosis) is under
    its cap and, for a chain, not asked already (a chain start asks one question)."""
    cands, cdf = ctx.memo.starts[key]
    cfg = ctx.config
    if len(cands) == 0:
        return np.empty(0, dtype=np.int32)
    answers = ctx.memo.short_answers[key]
    key_cap = short_cap(cfg.max_short_key_share, cfg.n)
    ok = np.array([ctx.tally.key_counts.get(int(a), 0) < key_cap for a in answers], dtype=bool)
    if vignette:
        dx_cap = short_diagnosis_cap(cfg)
        ok &= np.array([ctx.tally.diagnosis_counts.get(int(d), 0) < dx_cap for d in cands], dtype=bool)
    else:
        ok &= np.array([(key, int(s)) not in ctx.tally.used_starts for s in cands], dtype=bool)
    w = np.diff(cdf, prepend=0.0) * ok
    total = w.sum()
    if total <= 0:
        return np.empty(0, dtype=np.int32)
    cum = np.cumsum(w) / total
    return cands[np.minimum(np.searchsorted(cum, rng.random(size), side="right"), len(cands) - 1)]
