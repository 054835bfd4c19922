"""How an item is put to a model: the student's prompt, and each evidence edge as a sentence of the schema.

The student's prompt is part of the dataset row (`kgsynth.dataset.rows` puts it in the SFT and GRPO
rows, evaluation asks it, the teacher's SFT rows pair it with a verified chain of thought), so it lives
here, beside the item, where every step can read it. The student sees only the question, its options
and, for an open-book item, its facts -- never the evidence path -- so a chain of thought learnt from
it never leans on a hint it will not get. Every edge is worded by the schema that wrote the item
(`item_schema`: the item's ``schema_name``, else the default schema). Wording lives in Jinja templates
under `prompts/`; code holds none.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from typing import Literal

import jinja2

from kgsynth.graph.schema import DEFAULT_SCHEMA, GraphSchema, load_schema
from kgsynth.models.base import Message
from kgsynth.questions.item import Item, Triple
from kgsynth.questions.walk import facts_against
from kgsynth.questions.wording import mid_sentence
from kgsynth.resources import prompts_environment

FactsWording = Literal["walk", "stored"]  # facts read as the question walks them, or in each edge's stored direction

STUDENT_TEMPLATE = "teacher/student.j2"

_CURIE_PREFIX = re.compile(r"^[A-Za-z][\w.-]*:")


def speak_predicate(predicate: str) -> str:
    """A relation the schema does not word, spelled out mechanically: `biolink:has_phenotype` ->
    `has phenotype` (wording itself lives in the schema; see `evidence_line`)."""
    return _CURIE_PREFIX.sub("", predicate).replace("_", " ").strip()


def evidence_line(triple: Triple, schema: GraphSchema, *, against: bool = False) -> str:
    """One edge as the schema's ``forward`` sentence (``imatinib targets the product of KIT``), or, where the
    question walks it object -> subject (`against`), its ``inverse`` sentence (``the product of KIT is
    targeted by imatinib``); each name as the question stems write it (`kgsynth.questions.wording.mid_sentence`)."""
    subject = mid_sentence(triple.subject, triple.subject_name)
    obj = mid_sentence(triple.object, triple.object_name)
    spec = schema.predicates.get(triple.predicate)
    if spec is None:
        return f"{subject} {speak_predicate(triple.predicate)} {obj}"
    sentence = spec.inverse if against else spec.forward
    return sentence.replace("{subject}", subject).replace("{object}", obj)


def evidence_lines(
    path: list[Triple], *, against: list[bool] | None = None, schema: GraphSchema | None = None
) -> list[str]:
    """The edges as one plain sentence each, in order, worded by ``schema`` (default: the shipped default
    schema): per edge its ``inverse`` sentence where ``against`` says the walk crosses it object -> subject
    (`kgsynth.questions.walk.path_against`, `facts_against`), else its ``forward`` sentence."""
    schema = schema if schema is not None else load_schema(DEFAULT_SCHEMA)
    flags = against if against is not None else [False] * len(path)
    return [evidence_line(t, schema, against=a) for t, a in zip(path, flags, strict=True)]


def item_schema(item: Item) -> GraphSchema:
    """The schema that wrote ``item`` (its ``schema_name``; items of the default schema record none)."""
    return load_schema(item.schema_name or DEFAULT_SCHEMA)


@lru_cache(maxsize=8)
def template(name: str) -> jinja2.Template:
    """A prompt template, its globals frozen into a plain dict (Jinja's ChainMap is copied key by key on
    every render)."""
    loaded = prompts_environment().get_template(name)
    loaded.globals = dict(loaded.globals)
    return loaded


def render(name: str, **context: object) -> str:
    return template(name).render(**context).strip()


def student_messages(item: Item, *, wording: FactsWording = "walk") -> tuple[Message, ...]:
    """The prompt a student model sees for `item` (no evidence path), in TRL's conversational format; an
    open-book item's facts (`Item.context`) as one sentence each, between the question and the options,
    each worded in the direction its chain walks it (`kgsynth.questions.walk.facts_against`; `wording="stored"`: each
    in its edge's stored direction, as before walk order was measured, `docs/evaluation.md`)."""
    facts = []
    if item.context:
        against = facts_against(item) if wording == "walk" else None
        facts = evidence_lines(item.context, against=against, schema=item_schema(item))
    return ({"role": "user", "content": render(STUDENT_TEMPLATE, item=item, facts=facts)},)


def prompt_hash(messages: tuple[Message, ...]) -> str:
    """A digest of a rendered prompt, recorded per item so that a change of wording is visible."""
    canonical = json.dumps(list(messages), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
