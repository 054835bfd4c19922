"""Vignette questions: a patient described by findings of a hidden disease, asking for the diagnosis or
for an entity reached from it."""

from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np

from kgsynth.graph.index import Step
from kgsynth.graph.schema import MetapathSpec
from kgsynth.questions.areas import subtrees
from kgsynth.questions.curation import load_curation
from kgsynth.questions.distractors import ChainTarget, chain_distractors, diagnosis_distractors, diagnosis_relatives
from kgsynth.questions.draft import (
    TOO_FEW_NEAR,
    TOO_MANY_SHORT_ANSWERS,
    Context,
    Draft,
    Drop,
    acceptable_walk,
    association,
    nodes_readable,
    ow,
    shortcut_tables,
    stated_nodes,
)
from kgsynth.questions.frequency import frequency_share
from kgsynth.questions.genconfig import AnswerFormat
from kgsynth.questions.item import Constraint
from kgsynth.questions.leaks import load_leak_rules
from kgsynth.questions.phenomatch import PhenotypeMatcher
from kgsynth.questions.starts import (
    completable,
    draw_short_starts,
    run_vignettes,
    short_answer_starts,
    short_diagnosis_cap,
    start_distribution,
    vignette_starts,
)
from kgsynth.questions.verify import HAS_PHENOTYPE, INHERITANCE
from kgsynth.questions.wording import as_phrase, finding_text, findings_rationale, vignette_context

logger = logging.getLogger(__name__)

Annotation = tuple[int, int, float, dict[str, Any]]
DRAWS = 8  # diseases drawn per vignette attempt
NO_START = -1  # no disease can start this kind of vignette
HALLMARKS = 3  # the first finding is drawn among this many of the most frequent and informative
NEAR_DIAGNOSES = 10  # runner-up diagnoses whose chain ends are offered as near wrong answers
# a multiple-choice continuation prefers a walk one of whose options is more associated with the findings than the
# key (kgsynth.questions.draft.association); the first walk with near, safe options is the fallback
CONTINUATION_WALKS = 8  # walks from the diagnosis one continuation attempt tries
KEY_MOST_ASSOCIATED = "no option more associated with the findings than the key"
KEY_ALONE = "no option shares the key's shortcut anchor"
FINDING_DRAWS = 3  # findings drawn per attempt until they rank the diagnosis first (else the attempt is dropped)


def phenotype_annotations(ctx: Context, disease: int) -> list[Annotation]:
    """Phenotype annotations of ``disease``: (phenotype, edge id, frequency share, qualifiers); cached per run (the
    list is shared: callers filter it into lists of their own)."""
    got = ctx.memo.annotations.get(disease)
    if got is not None:
        return got
    g, idx = ctx.graph, ctx.index
    out = []
    for e, p in zip(idx.edge_ids(disease, HAS_PHENOTYPE), idx.neighbors(disease, HAS_PHENOTYPE), strict=True):
        q = int(g.qual[e])
        quals = g.qualifiers[q] if q >= 0 else {}
        out.append((int(p), int(e), frequency_share(quals.get("frequency")), quals))
    ctx.memo.annotations[disease] = out
    return out


def _draw_disease(
    ctx: Context, rng: np.random.Generator, fmt: AnswerFormat
) -> tuple[int | None, tuple[MetapathSpec, list[Step]] | None]:
    cfg = ctx.config
    cont: tuple[MetapathSpec, list[Step]] | None = None
    if fmt == "short" and cfg.hops > 1:
        cont = ctx.continuations[int(rng.integers(len(ctx.continuations)))]
        key = f"vignette-short:{cont[0].name}"
        if key not in ctx.memo.starts:
            candidates = statable(ctx, completable(ctx, cont[1], vignette_starts(ctx)))
            # the diagnosis alone must lead to few answers (more candidates only add ends)
            start_distribution(ctx, key, short_answer_starts(ctx, key, cont[1], candidates), cfg.rarity.alpha)
        if len(ctx.memo.starts[key][0]) == 0:
            return NO_START, cont
        drawn = draw_short_starts(ctx, key, rng, DRAWS, vignette=True)
    else:
        options = _start_keys(ctx)
        # only diseases under their caps are drawn, and a continuation in proportion to how many it has left: a
        # continuation few diseases complete (a dozen have a drug class) is drawn as often as they are, not a
        # third of the attempts, most of them on diseases already at their cap
        drawable = [_drawable(ctx, key, fmt) for _, key in options]
        sizes = np.array([np.count_nonzero(ok) for ok in drawable], dtype=np.float64)
        if sizes.sum() == 0:
            return None, options[0][0] if cfg.hops > 1 else None
        j = int(np.searchsorted(np.cumsum(sizes) / sizes.sum(), rng.random(), side="right"))
        j = min(j, len(options) - 1)
        cont, key = options[j]
        cands, cdf = ctx.memo.starts[key]
        w = np.diff(cdf, prepend=0.0) * drawable[j]
        cum = np.cumsum(w) / w.sum()
        drawn = cands[np.minimum(np.searchsorted(cum, rng.random(DRAWS), side="right"), len(cands) - 1)]
    cap = diagnosis_cap(ctx, fmt)
    fallback: int | None = None
    # with a continuation the diagnosis is a hidden intermediate too: one at its share would fail every walk
    hidden_cap = ctx.tally.hidden_cap if cfg.hops > 1 else None
    for d in drawn:
        if hidden_cap is not None and ctx.tally.hidden_counts.get(int(d), 0) >= hidden_cap:
            continue
        if ctx.tally.diagnosis_counts.get(int(d), 0) < cap and nodes_readable(ctx, np.array([d])):
            # the first with enough statable findings (cached per disease); else the first, which is then dropped
            usable = ctx.memo.usable_cache.get(int(d))
            if usable is None:
                usable = usable_findings(ctx, int(d), phenotype_annotations(ctx, int(d)))
            if len(usable) >= cfg.min_findings and rankable(ctx, int(d)):
                return int(d), cont
            fallback = int(d) if fallback is None else fallback
    return fallback, cont


def _start_keys(ctx: Context) -> list[tuple[tuple[MetapathSpec, list[Step]] | None, str]]:
    """The multiple-choice vignette's start distributions: one per continuation (``--hops`` above 1), each over
    the statable diseases that complete it, or one over every statable disease (built once per run)."""
    cfg = ctx.config
    if cfg.hops == 1:
        if "vignette" not in ctx.memo.starts:
            start_distribution(ctx, "vignette", statable(ctx, vignette_starts(ctx)), cfg.rarity.alpha)
        return [(None, "vignette")]
    out: list[tuple[tuple[MetapathSpec, list[Step]] | None, str]] = []
    for cont in ctx.continuations:
        key = f"vignette:{cont[0].name}"
        if key not in ctx.memo.starts:
            candidates = statable(ctx, completable(ctx, cont[1], vignette_starts(ctx)))
            start_distribution(ctx, key, candidates, cfg.rarity.alpha)
        out.append((cont, key))
    return out


def _drawable(ctx: Context, key: str, fmt: AnswerFormat) -> np.ndarray:
    """A mask over the starts under ``key``: the diseases below their diagnosis cap and (with a continuation,
    where the diagnosis is a hidden intermediate) below the hidden-intermediate cap, with some draw weight."""
    tally, cap = ctx.tally, diagnosis_cap(ctx, fmt)
    # the mask changes only when an item is accepted: the counts only grow, so their sums name their state (cached)
    state = (key, cap, tally.hidden_cap, sum(tally.diagnosis_counts.values()), sum(tally.hidden_counts.values()))
    got = ctx.memo.drawable.get(state)
    if got is None:
        cands, cdf = ctx.memo.starts[key]
        ok = np.diff(cdf, prepend=0.0) > 0
        capped = [d for d, c in tally.diagnosis_counts.items() if c >= cap]
        if ctx.config.hops > 1:
            capped += [h for h, c in tally.hidden_counts.items() if c >= tally.hidden_cap]
        if capped:
            ok &= ~np.isin(cands, np.array(capped, dtype=np.int64))
        if len(ctx.memo.drawable) >= DRAWABLE_CACHE:
            ctx.memo.drawable.clear()
        ok.flags.writeable = False
        got = ctx.memo.drawable[state] = ok
    return got


DRAWABLE_CACHE = 64  # start masks kept (one per start distribution and tally state; the tally moves on)


def rankable(ctx: Context, disease: int) -> bool:
    """Whether the most frequent and informative statable findings of ``disease`` (up to ``max_findings``, no two
    related) rank it first with the margin (:meth:`PhenotypeMatcher.separates`), cached per run. A disease whose
    best findings do not is hardly ever ranked first by a draw of them: it was a third of the attempts of a
    ``--type vignette`` run, each dropped, and is no longer drawn."""
    got = ctx.memo.rankable.get(disease)
    if got is None:
        usable = usable_findings(ctx, disease, phenotype_annotations(ctx, disease))
        best: list[int] = []
        for i in hallmarks(ctx, usable, len(usable)):
            p = usable[i][0]
            if any(p == q or p in ctx.prover.ancestors(q) or q in ctx.prover.ancestors(p) for q in best):
                continue
            best.append(p)
            if len(best) == ctx.config.max_findings:
                break
        group = diagnosis_relatives(ctx, disease)
        got = ctx.memo.rankable[disease] = matcher(ctx).separates(best, disease, group, ctx.config.vignette_rank_margin)
    return got


def statable(ctx: Context, diseases: np.ndarray) -> np.ndarray:
    """The ``diseases`` with at least ``min_findings`` statable findings once the leak rules have spoken
    (:func:`usable_findings`): a vignette drawn from any other is dropped ("too few frequent phenotype
    annotations"), which cost a third of a ``--hops 3`` run's attempts when they were drawn. Nor a disease named
    after its hallmark (:func:`named_by_hallmark`) or made by a test (:func:`diagnosed_by_test`): its statable
    findings do not point to it."""
    by_test = diagnosed_by_test(ctx)
    keep = [d for d in diseases.tolist()
            if not by_test[d]
            and len(usable_findings(ctx, d, phenotype_annotations(ctx, d))) >= ctx.config.min_findings
            and not named_by_hallmark(ctx, d)]  # fmt: skip
    return np.array(keep, dtype=np.int32)


def diagnosed_by_test(ctx: Context) -> np.ndarray:
    """A mask of the diseases a clinician diagnoses by a test, not by findings: below the curation list's
    ``test_named_disease_roots``, with a name matching one of its ``test_named_disease_patterns`` (a chromosomal
    deletion named by its band: "chromosome 5q12 deletion syndrome"; cached for the run).

    A physician read found such vignettes pointing nowhere: broad metatarsals, strabismus and a low body mass index
    for the 5q12 deletion."""
    if ctx.memo.by_test is None:
        cur = load_curation(ctx.config.schema_name)
        patterns = [re.compile(p, re.IGNORECASE) for p in cur.test_named_disease_patterns]
        mask = subtrees(ctx.graph, ctx.index, cur.test_named_disease_roots)
        for node in np.flatnonzero(mask):
            mask[node] = any(p.search(ctx.graph.names[node]) for p in patterns)
        mask.flags.writeable = False
        ctx.memo.by_test = mask
    return ctx.memo.by_test


def named_by_hallmark(ctx: Context, disease: int) -> bool:
    """The most telling finding of ``disease`` (highest frequency times information content among the phenotypic
    annotations frequent enough to state, onsets aside) is one the leak rules never state (:func:`finding_leaks`):
    the disease is named after it ("Intracranial meningioma" for meningioma, "Heart block" for progressive familial
    heart block, "Cataract" for cataract 48). What a vignette may state of it then does not point to it: a
    physician read found vomiting with low testosterone for meningioma, and vertigo, syncope and heart failure for
    the heart block. 1,195 of the default KG's 8,745 statable diagnoses."""
    frequent = frequent_abnormalities(ctx, phenotype_annotations(ctx, disease))
    return bool(frequent) and finding_leaks(ctx, frequent[hallmarks(ctx, frequent, 1)[0]][0], disease)


def _choose_findings(
    ctx: Context, usable: list[Annotation], rng: np.random.Generator, *, disease: int | None = None
) -> tuple[list[Annotation], np.ndarray, list[Constraint]]:
    """Frequent and specific findings, added until they single out the disease (or ``max_findings``; ``disease``:
    whose :func:`usable_findings` ``usable`` are, to reuse their weights and hallmarks across draws)."""
    cfg, g, prover = ctx.config, ctx.graph, ctx.prover
    weights, hallmark = _finding_weights(ctx, usable, disease)
    # Frequent and specific findings first (weighted random order: Efraimidis-Spirakis keys).
    keys = np.log(rng.random(len(usable))) / np.maximum(weights, 1e-9)
    order = np.argsort(-keys, kind="stable")
    # A hallmark first: one of the HALLMARKS most frequent and informative findings (frequency times IC).
    first = hallmark[int(rng.integers(len(hallmark)))]
    order = np.concatenate([[first], order[order != first]])
    chosen: list[Annotation] = []
    cand: np.ndarray | None = None
    constraints: list[Constraint] = []
    # the broader and narrower terms of the findings chosen (all phenotypes: offsets from pheno_lo)
    related = np.zeros(prover.pheno_hi - prover.pheno_lo, dtype=bool)
    sex, said = phenotype_sexes(ctx), 0  # the sex of the findings stated so far (bits: 1 male, 2 female)
    for i in order:
        p, e, share, quals = usable[int(i)]
        if len(chosen) >= cfg.max_findings or (len(chosen) >= cfg.min_findings and cand is not None and len(cand) == 1):
            break
        if prover.pheno_lo <= p < prover.pheno_hi and related[p - prover.pheno_lo]:
            continue  # a broader or narrower term of a finding already stated adds nothing
        own = int(sex[p - prover.pheno_lo]) if prover.pheno_lo <= p < prover.pheno_hi else 0
        if said | own == BOTH_SEXES:
            continue  # ovaries beside cryptorchidism: annotated in either sex, never in one patient
        said |= own
        with_p = prover.diseases_with(p)
        new = with_p if cand is None else np.intersect1d(cand, with_p, assume_unique=True)
        if cand is not None and len(new) == len(cand) and len(chosen) >= cfg.min_findings:
            continue
        chosen.append((p, e, share, quals))
        for near in (prover.ancestors(p), prover.descendants(p)):
            related[near[(near >= prover.pheno_lo) & (near < prover.pheno_hi)] - prover.pheno_lo] = True
        cand = new
        constraints.append(
            Constraint(description=f"has phenotype {g.names[p]} (or a more specific one)", kind="has_phenotype",
                       candidates_after=len(cand), args={"phenotype": g.ids[p]})
        )  # fmt: skip
    assert cand is not None
    return chosen, cand, constraints


def _finding_weights(ctx: Context, usable: list[Annotation], disease: int | None) -> tuple[np.ndarray, list[int]]:
    """The draw weights of ``usable`` and their :func:`hallmarks` (cached per ``disease`` when given: a disease is
    drawn again, and its findings up to ``FINDING_DRAWS`` times per attempt)."""
    got = ctx.memo.finding_weights.get(disease) if disease is not None else None
    if got is None:
        # specificity by direct annotation count (a cheap proxy; the proof uses the exact closure)
        weights = np.array([a[2] / np.log2(2.0 + ctx.pheno_degree[a[0]]) for a in usable])
        weights.flags.writeable = False
        got = (weights, hallmarks(ctx, usable))
        if disease is not None:
            ctx.memo.finding_weights[disease] = got
    return got


BOTH_SEXES = 3  # the bits of a male and a female finding together (:func:`phenotype_sexes`)


def phenotype_sexes(ctx: Context) -> np.ndarray:
    """Per phenotype (offsets from ``pheno_lo``), 1 for a finding of males only, 2 of females only, 0 for either:
    below the curation's ``male_phenotype_roots`` and ``female_phenotype_roots`` (cached for the run)."""
    if ctx.memo.sexes is None:
        prover, cur = ctx.prover, load_curation(ctx.config.schema_name)
        sexes = np.zeros(prover.pheno_hi - prover.pheno_lo, dtype=np.int8)
        for bit, roots in ((1, cur.male_phenotype_roots), (2, cur.female_phenotype_roots)):
            for root in roots:
                node = ctx.graph.index.get(root)
                if node is not None and prover.pheno_lo <= node < prover.pheno_hi:
                    sexes[prover.descendants(node) - prover.pheno_lo] |= bit
        sexes[sexes == BOTH_SEXES] = 0  # under a male and a female root: of either
        ctx.memo.sexes = sexes
    return ctx.memo.sexes


def usable_findings(ctx: Context, disease: int, annots: list[Annotation]) -> list[Annotation]:
    """The annotations a vignette may state: phenotypic, frequent, not an onset, not doubted (the curation list's
    ``doubtful_edges``), not naming the diagnosis (``annots``: the disease's :func:`phenotype_annotations`; cached
    per disease for the run)."""
    got = ctx.memo.usable_cache.get(disease)
    if got is None:
        usable = frequent_abnormalities(ctx, annots)
        # a finding naming an onset ("childhood onset short-limb short stature") doubles the stated onset; an
        # annotation the curation list doubts (pallor in childhood absence epilepsy) is no finding either
        doubtful = ctx.doubtful
        usable = [a for a in usable if " onset " not in f" {ctx.graph.names[a[0]].lower()} "
                  and (doubtful is None or not doubtful[a[1]])]  # fmt: skip
        got = ctx.memo.usable_cache[disease] = [a for a in usable if not finding_leaks(ctx, a[0], disease)]
    return got


def frequent_abnormalities(ctx: Context, annots: list[Annotation]) -> list[Annotation]:
    """The phenotypic abnormalities (aspect P) of ``annots`` at least ``min_finding_frequency`` frequent, onsets
    aside: what a vignette may state before the name and leak rules speak."""
    least = ctx.config.min_finding_frequency
    return [a for a in annots if a[3].get("aspect", "P") == "P" and a[2] >= least and a[0] not in ctx.onset_terms]


def finding_leaks(ctx: Context, finding: int, disease: int) -> bool:
    """A name of ``finding`` names ``disease``, restates it in its distinctive words, or names a molecular
    activity (the product of the disease's gene): never stated (:mod:`kgsynth.questions.leaks`)."""
    g, o = ctx.graph, ow(ctx)
    if o.leaks(finding, disease):
        return True
    rules = load_leak_rules(ctx.config.schema_name)
    names = [g.names[finding], *g.synonyms[finding], *g.layperson[finding]]
    if rules.molecular(names) is not None:
        return True
    return rules.restates(names, [g.names[disease], *g.synonyms[disease]], o.generic)


def hallmarks(ctx: Context, usable: list[Annotation], top: int = HALLMARKS) -> list[int]:
    """Positions in ``usable`` of the disease's hallmarks: its ``top`` findings of highest frequency times
    information content (a frequent and specific sign), most telling first."""
    m = matcher(ctx)
    value = np.array([a[2] * m.ic(a[0]) for a in usable])
    return [int(i) for i in np.argsort(-value, kind="stable")[:top]]


_MATCHERS: dict[int, tuple[Context, PhenotypeMatcher]] = {}


def matcher(ctx: Context) -> PhenotypeMatcher:
    """The run's disease ranker over stated findings (built once per graph and process)."""
    got = _MATCHERS.get(id(ctx.graph))
    if got is not None and got[1].graph is ctx.graph:
        return got[1]
    made = PhenotypeMatcher(ctx.graph, ctx.index, ctx.prover)
    _MATCHERS.clear()
    _MATCHERS[id(ctx.graph)] = (ctx, made)
    return made


Stated = tuple[list[Annotation], np.ndarray, list[Constraint], list[int], str, str]


def _state(
    ctx: Context, disease: int, usable: list[Annotation], onsets: list[Annotation], rng: np.random.Generator
) -> Stated:
    """What a vignette states of ``disease``: its findings (:func:`_choose_findings`), then its mode of inheritance
    and onset where one is known and safe to state; with the candidates left, the constraints, the evidence edges
    and the inheritance and onset phrases."""
    g, prover = ctx.graph, ctx.prover
    chosen, cand, constraints = _choose_findings(ctx, usable, rng, disease=disease)
    path_edges = [e for _, e, _, _ in chosen]
    inheritance = ""
    modes = ctx.index.neighbors(disease, INHERITANCE)
    # a mode the diagnosis is named after ("autosomal recessive inherited pseudoxanthoma elasticum") is not stated
    # nor a mode of a susceptibility, common or heterogeneous disease (kgsynth.questions.hidden): "autosomal
    # dominant" for schizophrenia or systemic lupus erythematosus (31 genes), as HPO annotates them from OMIM's
    # familial entries
    stateable = (
        len(modes) == 1
        and int(modes[0]) in ow(ctx).mendelian
        and not ow(ctx).leaks(int(modes[0]), disease)
        and not any(mask is not None and mask[disease] for mask in (ctx.susceptible, ctx.heterogeneous))
    )
    if stateable and (len(cand) > 1 or rng.random() < 0.5):
        mode = int(modes[0])
        cand = np.intersect1d(cand, prover.diseases_with_inheritance(mode), assume_unique=True)
        constraints.append(
            Constraint(description=f"inherited in {g.names[mode]}", kind="has_mode_of_inheritance",
                       candidates_after=len(cand), args={"mode": g.ids[mode]})
        )  # fmt: skip
        inheritance = as_phrase(g.names[mode])
        path_edges.append(int(ctx.index.edge_ids(disease, INHERITANCE)[0]))
    onset = ""
    if len(onsets) == 1 and not ow(ctx).leaks(onsets[0][0], disease):
        term = onsets[0][0]
        cand = np.intersect1d(cand, prover.diseases_with(term), assume_unique=True)
        constraints.append(
            Constraint(description=f"onset {g.names[term]}", kind="has_phenotype", candidates_after=len(cand),
                       args={"phenotype": g.ids[term]})
        )  # fmt: skip
        onset = as_phrase(g.names[term])
        path_edges.append(onsets[0][1])
    return chosen, cand, constraints, path_edges, inheritance, onset


def vignette_draft(ctx: Context, rng: np.random.Generator, fmt: AnswerFormat, gold: int) -> Draft | Drop:
    """A vignette's draft: findings that (nearly) single out a hidden disease, then an optional continuation."""
    cfg, g, prover = ctx.config, ctx.graph, ctx.prover
    if cfg.hops > 1 and not ctx.continuations:
        return Drop(f"no metapath of {cfg.hops - 1} hops from a disease in the schema")
    disease_or_none, cont = _draw_disease(ctx, rng, fmt)
    if disease_or_none is None:
        return Drop("cap: the diseases drawn already have their share of the vignettes")
    if disease_or_none == NO_START:
        return Drop("short answer: no start of this metapath has few enough answers")
    disease = disease_or_none
    annots = phenotype_annotations(ctx, disease)
    onsets = [a for a in annots if a[0] in ctx.onset_terms]
    usable = usable_findings(ctx, disease, annots)
    if len(usable) < cfg.min_findings:
        return Drop("vignette: too few frequent phenotype annotations")
    # the findings are drawn again (up to FINDING_DRAWS times) until they rank the diagnosis first with the margin
    group = diagnosis_relatives(ctx, disease)
    for _ in range(FINDING_DRAWS):
        got = _state(ctx, disease, usable, onsets, rng)
        chosen, cand, constraints, path_edges, inheritance, onset = got
        stated = [int(g.index[c.args["phenotype"]]) for c in constraints if c.kind == "has_phenotype"]
        if matcher(ctx).separates(stated, disease, group, cfg.vignette_rank_margin):
            break
    else:
        return Drop("vignette: the findings do not rank the diagnosis first (IC-weighted phenotype match)")
    if len(cand) > cfg.max_short_answers and cfg.hops == 1 and fmt == "short":
        return Drop(TOO_MANY_SHORT_ANSWERS)
    if cfg.hops == 1 and len(cand) > 1 and np.isin(cand, diagnosis_relatives(ctx, disease)).any():
        return Drop("vignette: findings do not separate the diagnosis from its sibling subtypes")
    sexes = {str(q.get("sex")) for _, _, _, q in chosen if q.get("sex")}
    findings_text = [finding_text(g, p, rng, cfg.layperson) for p, _, _, _ in chosen]
    vctx = vignette_context(sex=sexes.pop() if len(sexes) == 1 else "", onset=onset, findings=findings_text,
                            inheritance=inheritance)  # fmt: skip
    frat = findings_rationale(g, [p for p, _, _, _ in chosen], disease, inheritance)
    if cfg.hops == 1:
        near = matcher(ctx).runners_up([p for p, _, _, _ in chosen], np.union1d(group, cand), NEAR_DIAGNOSES)
        dist = diagnosis_distractors(ctx, disease, cand, chosen, near, rng) if fmt == "mcq" else []
        return Draft(
            qtype="vignette", fmt=fmt, gold=gold, steps=[], layers=[cand], answer=disease,
            constraints=constraints, path_edges=path_edges, start_text="", start=disease, nodes=[disease],
            mp_name="", vignette_ctx=vctx, vignette_distractors=dist, findings_rationale=frat,
        )  # fmt: skip
    assert cont is not None
    mp, steps = cont
    layers = [cand, *prover.follow(cand, steps)]
    open_start = np.union1d(cand, all_but_one(ctx, [p for p, _, _, _ in chosen]))
    open_prev = prover.follow(open_start, steps[:-1])[-1] if len(steps) > 1 else open_start
    picked: list[list[tuple[int, str, int]]] = []
    stated_ids = stated_nodes(ctx, constraints)
    # the near wrong diagnoses: ranked next by the findings, yet each misses two of them or more (outside the
    # diseases the open world could make consistent) and scores below the diagnosis by the margin
    near_dx = matcher(ctx).runners_up([p for p, _, _, _ in chosen], np.union1d(group, open_start), NEAR_DIAGNOSES)
    last = len(constraints) + len(steps) - 1  # the constraint a chain distractor fails: the last step

    def near_enough(nodes: np.ndarray, edges: np.ndarray) -> str | None:
        """A multiple-choice continuation is kept only if its end has enough near, safe distractors."""
        k = cfg.options - 1
        target = ChainTarget(steps=steps, layers=layers, answer=int(nodes[-1]), open_prev=open_prev, stated=stated_ids,
                             near_diagnoses=near_dx, soft_anchor=True)  # fmt: skip
        got = chain_distractors(ctx, target, rng, k)
        if len(got) < k:
            return TOO_FEW_NEAR
        key = int(nodes[-1])
        scores = association(ctx, stated_ids)
        # what the walk's options leave open: the key's anchor shared by no option (the only kinase inhibitor: a
        # reader picks it by its class), no option more associated with the findings than the key
        alone = shortcut_tables(ctx).alone(key, stated_ids, [d for d, _ in got])
        top = not any(scores[d] > scores[key] for d, _ in got)
        rank = (top, alone)
        if not fallback or rank < fallback[0][0]:
            fallback[:] = [(rank, (nodes, edges, [(d, rule, last) for d, rule in got]))]
        if alone:
            return KEY_ALONE  # the next walk may do better; the best walk so far is kept as the fallback
        if top:
            return KEY_MOST_ASSOCIATED
        picked.append([(d, rule, last) for d, rule in got])
        return None

    check = near_enough if fmt == "mcq" and cfg.context != "facts" else None
    # the best walk with near, safe options so far: (key alone in its anchor, key most associated), fewest first
    fallback: list[tuple[tuple[bool, bool], tuple[np.ndarray, np.ndarray, list[tuple[int, str, int]]]]] = []
    starts = np.full(CONTINUATION_WALKS, disease, dtype=np.int32)
    walk = acceptable_walk(ctx, steps, starts, rng, hidden_from=0, accept=check)
    if isinstance(walk, Drop) and fallback:
        # no walk's options share the key's anchor and hold one more associated with the findings than the key: the
        # best walk with near, safe options is asked all the same (requiring both left a --type vignette run far
        # short of n)
        best = fallback[0][1]
        walk = best[:2]
        picked.append(best[2])
    if isinstance(walk, Drop):
        return walk
    nodes, edges = walk
    for step, layer in zip(steps, layers[1:], strict=True):
        constraints.append(
            Constraint(description=f"then {step}", kind="chain_step", candidates_after=len(layer),
                       args={"step": str(step)})
        )  # fmt: skip
    # The continuation is spoken about "this patient's condition", never naming the diagnosis.
    return Draft(
        qtype="vignette", fmt=fmt, gold=gold, steps=steps, layers=layers, answer=int(nodes[-1]),
        constraints=constraints, path_edges=path_edges + [int(x) for x in edges],
        start_text="this patient's condition", start=disease, nodes=[int(x) for x in nodes], mp_name=mp.name,
        vignette_ctx=vctx, findings_rationale=frat, open_prev=open_prev,
        chain_distractors=picked[0] if picked else None,
    )  # fmt: skip


def all_but_one(ctx: Context, findings: list[int]) -> np.ndarray:
    """Diseases annotated with every finding but (at most) one."""
    sets = [ctx.prover.diseases_with(p) for p in findings]
    uniq, counts = np.unique(np.concatenate(sets), return_counts=True)
    return uniq[counts >= len(findings) - 1]


def diagnosis_cap(ctx: Context, fmt: AnswerFormat) -> int:
    """How many vignettes one diagnosis may have so far: its share of the run's vignettes, counted as the vignette
    types' share of ``n`` from the first item on, or as the vignettes accepted once more are (at least 1; a short
    item: :func:`kgsynth.questions.starts.short_diagnosis_cap`). A share of the vignettes accepted so far held
    every diagnosis at one vignette until 67 existed: a ``--type vignette --n 150`` run needed about 140
    diagnoses with a continuation that has near, safe distractors, and stopped short at 91 or 116."""
    cfg = ctx.config
    if fmt == "short":
        return short_diagnosis_cap(cfg)
    return max(1, int(cfg.max_diagnosis_share * max(ctx.tally.vignettes_accepted + 1, run_vignettes(cfg))))
