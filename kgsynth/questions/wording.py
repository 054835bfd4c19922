"""Every piece of text the question generator writes: graph facts turned into words.

The templates live in ``prompts/questions`` (Jinja); predicate sentences come from the graph schema.
These small functions are the only place the generator renders text, so wording can change without
touching the sampling, proof or distractor code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import jinja2
import numpy as np

from kgsynth.graph.index import Step
from kgsynth.graph.model import Graph
from kgsynth.graph.schema import GraphSchema
from kgsynth.resources import prompts_dir

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Templates:
    """The question templates, loaded once: the schema's noun phrases per metapath step (keyed by the step,
    ``^`` for the inverse walk), and the three renderers."""

    phrases: dict[str, list[str]]
    chain: jinja2.Template
    vignette: jinja2.Template
    rationale: jinja2.Template


@dataclass(frozen=True)
class StemRequest:
    """What a stem is rendered from: the (hidden) path, how it starts, and the vignette context if any."""

    mcq: bool
    steps: list[Step]
    nodes: list[int]
    start_text: str
    answer: int
    mp_name: str
    vignette: dict[str, Any] | None
    findings_rationale: dict[str, Any] | None


def load_templates(schema: GraphSchema) -> Templates:
    """The templates in ``prompts/questions`` (strict: an undefined variable is an error) and the
    schema's predicate phrases, the one home of how a hop is spoken."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(prompts_dir() / "questions")),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
    )
    return Templates(
        phrases=step_phrases(schema),
        chain=_plain_globals(env.get_template("chain.j2")),
        vignette=_plain_globals(env.get_template("vignette.j2")),
        rationale=_plain_globals(env.get_template("rationale.j2")),
    )


def _plain_globals(template: jinja2.Template) -> jinja2.Template:
    """``template`` with its globals frozen into a plain dict: Jinja keeps them in a ChainMap over the
    environment's, which every render copies key by key (a third of a render's cost, measured)."""
    template.globals = dict(template.globals)
    return template


def step_phrases(schema: GraphSchema) -> dict[str, list[str]]:
    """The schema's noun phrases for every predicate direction that has some, keyed like a metapath step
    (``biolink:treats``, ``^biolink:treats``)."""
    out: dict[str, list[str]] = {}
    for pred, spec in schema.predicates.items():
        for inverse in (False, True):
            if spec.phrasings(inverse=inverse):
                out[str(Step(pred, inverse=inverse))] = list(spec.phrasings(inverse=inverse))
    return out


# Sources whose labels capitalise a common noun (HPO: "Seizure"; drug names: "Rosiglitazone"); other
# labels (MONDO "long QT syndrome 1", eponyms, MeSH class titles) are kept as written.
_SENTENCE_CASE_PREFIXES = ("HP:", "DRUGBANK:")
_SENTENCE_CASE_CATEGORIES = frozenset({"biolink:Drug"})


def as_phrase(name: str) -> str:
    """A name as it reads inside a sentence: ``Seizure`` -> ``seizure``; ``EEG abnormality``,
    ``X-linked inheritance``, ``L-DOPA`` and ``5-HT`` unchanged (only a capital followed by a lower-case
    letter is lowered)."""
    if len(name) > 1 and name[0].isupper() and name[1].islower():
        return name[0].lower() + name[1:]
    return name


def mid_sentence(curie: str, name: str, *, category: str | None = None) -> str:
    """A label as it reads mid-sentence: lowered (see `as_phrase`) for HPO terms and drugs (by CURIE
    prefix, or by category when it is known), whose labels start with a capital only by convention; as
    written for every other source. Stems, open-book facts and path chains all name entities this way,
    so a name reads the same wherever a student meets it."""
    if curie.startswith(_SENTENCE_CASE_PREFIXES) or category in _SENTENCE_CASE_CATEGORIES:
        return as_phrase(name)
    return name


def name_in_sentence(graph: Graph, node: int) -> str:
    """``node``'s label as it reads mid-sentence (`mid_sentence`)."""
    cat = graph.categories[int(graph.category[node])]
    return mid_sentence(graph.ids[node], graph.names[node], category=cat)


def noun(graph: Graph, schema: GraphSchema, node: int) -> str:
    """The schema's noun for the category of ``node`` ("disease", "gene", ...)."""
    cat = graph.categories[int(graph.category[node])]
    spec = schema.categories.get(cat)
    return spec.noun if spec else "entity"


def step_sentence(graph: Graph, schema: GraphSchema, step: Step, frm: int, to: int) -> str:
    """One hop as a sentence, in the schema's phrasing of its predicate."""
    spec = schema.predicates[step.relation]
    if step.inverse:
        return spec.inverse.format(subject=graph.names[to], object=graph.names[frm])
    return spec.forward.format(subject=graph.names[frm], object=graph.names[to])


def compose_phrase(templates: Templates, start_text: str, steps: list[Step], variants: list[int]) -> str:
    """The whole chain as one noun phrase with the given phrasing per step: each step's phrase (from the
    schema) takes the phrase so far in its ``{subject}`` (forward) or ``{object}`` (inverse) slot."""
    phrase = start_text
    for step, v in zip(steps, variants, strict=True):
        phrase = templates.phrases[str(step)][v].replace("{object}" if step.inverse else "{subject}", phrase)
    return phrase


def chain_phrase(
    templates: Templates, start_text: str, steps: list[Step], rng: np.random.Generator
) -> tuple[str, list[int]]:
    """The whole chain as one noun phrase, and the phrasing variant drawn for each step."""
    variants = [int(rng.integers(len(templates.phrases[str(step)]))) for step in steps]
    return compose_phrase(templates, start_text, steps, variants), variants


def finding_text(graph: Graph, phenotype: int, rng: np.random.Generator, layperson: float) -> str:
    """A finding as stated in a vignette: its layperson form with probability ``layperson``."""
    lay = graph.layperson[phenotype]
    use_lay = bool(lay) and rng.random() < layperson
    return as_phrase(lay[0] if use_lay else graph.names[phenotype])


def vignette_context(*, sex: str, onset: str, findings: list[str], inheritance: str) -> dict[str, Any]:
    """The variables of a vignette's patient description."""
    return {"sex": sex, "onset": onset, "findings": findings, "inheritance": inheritance}


def findings_rationale(graph: Graph, findings: list[int], diagnosis: int, inheritance: str) -> dict[str, Any]:
    """The variables of the rationale's diagnosis paragraph."""
    return {"findings": [name_in_sentence(graph, p) for p in findings], "diagnosis": graph.names[diagnosis],
            "inheritance": inheritance}  # fmt: skip


def render_stem(
    templates: Templates, graph: Graph, schema: GraphSchema, req: StemRequest, rng: np.random.Generator
) -> tuple[str, str, dict[str, Any]]:
    """The question stem, its template id, and the rationale's context (with one sentence per hop)."""
    steps = req.steps
    start_text = req.start_text
    if req.nodes and start_text == graph.names[req.nodes[0]]:
        start_text = name_in_sentence(graph, req.nodes[0])
    phrase, variants = chain_phrase(templates, start_text, steps, rng) if steps else ("", [])
    sentences = [step_sentence(graph, schema, s, req.nodes[i], req.nodes[i + 1]) for i, s in enumerate(steps)]
    answer_noun = noun(graph, schema, req.answer)
    if req.vignette is None:
        variant = int(rng.integers(4))
        ctx: dict[str, Any] = {
            "variant": variant, "phrase": phrase, "answer_noun": answer_noun, "start_name": start_text,
            "mcq": req.mcq,
        }  # fmt: skip
        render, tid = templates.chain, f"chain/v{variant}/{req.mp_name}/" + ".".join(map(str, variants))
        rctx: dict[str, Any] = {"findings": [], "diagnosis": "", "inheritance": "", "steps": sentences}
    else:
        variant = int(rng.integers(3))
        ctx = {**req.vignette, "variant": variant, "continuation": phrase, "answer_noun": answer_noun,
               "mcq": req.mcq}  # fmt: skip
        render = templates.vignette
        tid = f"vignette/v{variant}/{req.mp_name or 'diagnosis'}/" + ".".join(map(str, variants))
        rctx = {**(req.findings_rationale or {}), "steps": sentences}
    return render.render(**ctx).strip(), tid, rctx


def render_rationale(templates: Templates, rctx: dict[str, Any], answer_name: str) -> str:
    """The reference rationale, rendered from the evidence path without any model."""
    return templates.rationale.render(**rctx, answer=answer_name).strip()


def aliases(graph: Graph, node: int) -> list[str]:
    """Every name of ``node``: its label, synonyms and layperson forms, without repeats."""
    return list(dict.fromkeys([graph.names[node], *graph.synonyms[node], *graph.layperson[node]]))
