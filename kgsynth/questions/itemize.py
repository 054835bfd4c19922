"""Item assembly: a draft, its distractors and its wording become one :class:`~kgsynth.questions.item.Item`."""

from __future__ import annotations

import hashlib
import logging

import numpy as np

from kgsynth.questions.association import ranks
from kgsynth.questions.curation import display_name
from kgsynth.questions.distractors import ChainTarget, chain_distractors
from kgsynth.questions.draft import (
    TOO_FEW_NEAR,
    TOO_MANY_SHORT_ANSWERS,
    Context,
    Draft,
    Drop,
    association,
    stated_nodes,
)
from kgsynth.questions.item import LETTERS, Answer, Distractor, Item, Option, Triple
from kgsynth.questions.openbook import open_book
from kgsynth.questions.wording import StemRequest, aliases, render_rationale, render_stem

logger = logging.getLogger(__name__)


def triple(ctx: Context, e: int) -> Triple:
    """Edge ``e`` as an evidence triple with names, source and licence."""
    g = ctx.graph
    s, o = int(g.src[e]), int(g.dst[e])
    return Triple(
        subject=g.ids[s],
        subject_name=g.names[s],
        predicate=g.relations[int(g.rel[e])],
        object=g.ids[o],
        object_name=g.names[o],
        source=g.sources[int(g.edge_source[e])].name,
        licence=ctx.licence_of[int(g.edge_source[e])],
    )


def pick_distractors(ctx: Context, draft: Draft, rng: np.random.Generator) -> list[tuple[int, str, int]]:
    """The draft's distractors as (node, rule, failed constraint): a vignette's own, or the chain rules'."""
    if draft.vignette_distractors is not None:
        return draft.vignette_distractors
    if (
        draft.chain_distractors is not None
    ):  # picked with the walk (kgsynth.questions.chain, kgsynth.questions.vignette)
        return draft.chain_distractors
    k = ctx.config.options - 1
    last = len(draft.constraints) - 1
    target = ChainTarget(steps=draft.steps, layers=draft.layers, answer=draft.answer, open_prev=draft.open_prev,
                         stated=stated_nodes(ctx, draft.constraints))  # fmt: skip
    return [(d, rule, last) for d, rule in chain_distractors(ctx, target, rng, k)]


def options_of(
    ctx: Context, draft: Draft, distractors: list[tuple[int, str, int]]
) -> tuple[list[Option], list[Distractor]]:
    """The lettered options (key at the gold letter) and the distractor records."""
    g = ctx.graph
    order = [d for d, _, _ in distractors]
    slots: list[int] = [*order[: draft.gold], draft.answer, *order[draft.gold :]]
    is_class = g.categories[int(g.category[draft.answer])] == "biolink:OntologyClass"
    options = [
        Option(letter=LETTERS[i], curie=g.ids[node], text=display_name(g.names[node], sentence=is_class))
        for i, node in enumerate(slots)
    ]
    scores = association(ctx, stated_nodes(ctx, draft.constraints))
    near = [float(f"{float(scores[n]):.6g}") for n in slots]  # six significant digits: stable bytes
    rank = ranks(near)
    key_at = slots.index(draft.answer)
    records = []
    for d, rule, failed in distractors:
        at = slots.index(d)
        records.append(Distractor(curie=g.ids[d], name=g.names[d], letter=LETTERS[at], failed_constraint=failed,
                                  rule=rule, association=near[at], association_rank=rank[at],
                                  key_association=near[key_at], key_association_rank=rank[key_at]))  # fmt: skip
    return options, records


def assemble(ctx: Context, draft: Draft, rng: np.random.Generator) -> Item | Drop:
    """The item: distractors, stem, rationale and provenance; the question is the rendered stem."""
    g, fmt = ctx.graph, draft.fmt
    if fmt == "short" and len(draft.layers[-1]) > ctx.config.max_short_answers:
        return Drop(TOO_MANY_SHORT_ANSWERS)
    k = ctx.config.options - 1
    distractors: list[tuple[int, str, int]] = []
    facts: list[int] = []
    if draft.facts is not None:  # an open-book multiple-choice chain: decoys and facts came with the walk
        facts = draft.facts
        distractors = list(draft.chain_distractors or [])
    elif ctx.config.context == "facts" and draft.qtype == "chain":
        book = open_book(ctx, draft, rng)
        if isinstance(book, Drop):
            return book
        facts = book.facts
        if fmt == "mcq":  # a short answer's decoy endpoints are only in the facts
            distractors = [(d, rule, len(draft.constraints) - 1) for d, rule in book.decoys]
    elif fmt == "mcq":
        distractors = pick_distractors(ctx, draft, rng)
        if len(distractors) < k:
            near = draft.vignette_distractors is None
            return Drop(TOO_FEW_NEAR if near else "too few provably wrong distractors")
        distractors = distractors[:k]
    req = StemRequest(
        mcq=fmt == "mcq", steps=draft.steps, nodes=draft.nodes, start_text=draft.start_text, answer=draft.answer,
        mp_name=draft.mp_name, vignette=draft.vignette_ctx, findings_rationale=draft.findings_rationale,
    )  # fmt: skip
    stem, tid, rctx = render_stem(ctx.templates, g, ctx.schema, req, rng)
    options, records = options_of(ctx, draft, distractors) if fmt == "mcq" else ([], [])
    answer = draft.answer
    triples = [triple(ctx, e) for e in draft.path_edges]
    sources = {int(g.edge_source[e]) for e in [*draft.path_edges, *facts]}  # the facts shown carry licences too
    # a short item accepts every proven answer, by each of its names (their names travel in entity_aliases)
    accepted = sorted(g.ids[int(x)] for x in draft.layers[-1]) if fmt == "short" else []
    entities = list(dict.fromkeys([t.subject for t in triples] + [t.object for t in triples] + accepted))
    ident = hashlib.blake2b(f"{stem}\x00{g.ids[answer]}\x00{g.version}".encode(), digest_size=12).hexdigest()
    return Item(
        id=ident,
        question=stem,
        options=options,
        answer=Answer(
            letter=LETTERS[draft.gold] if fmt == "mcq" else None,
            curie=g.ids[answer],
            name=g.names[answer],
            aliases=aliases(g, answer),
            accepted=accepted,
        ),
        type=draft.qtype,
        format=fmt,
        hops=len(draft.steps) + (1 if draft.vignette_ctx is not None else 0),
        path=triples,
        constraints=draft.constraints,
        distractors=records,
        rarity=round(float(ctx.scores[draft.start]), 6),
        template_id=tid,
        kg_version=g.version,
        seed=ctx.config.seed,
        rationale=render_rationale(ctx.templates, rctx, g.names[answer]),
        licences=sorted({ctx.licence_of[s] for s in sources}),
        non_commercial=any(not ctx.commercial[s] for s in sources),
        entity_aliases={c: aliases(g, g.index[c]) for c in entities},
        context=[triple(ctx, e) for e in facts],
    )
