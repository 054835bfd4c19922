"""How teacher requests and the student's prompt are worded: Jinja templates in `prompts/teacher/`.

Code holds no wording. The teacher sees the question, its options and, with grounding `path`, the
evidence path the generator proved the answer with; the student (the SFT row) sees only the
question and options, so the chain of thought it learns from never leans on a hint it will not get.
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
from kgsynth.questions.walk import facts_against, path_against
from kgsynth.questions.wording import mid_sentence
from kgsynth.resources import prompts_dir

Grounding = Literal["path", "none"]
FactsWording = Literal["walk", "stored"]  # facts read as the question walks them, or in each edge's stored direction

SYSTEM_TEMPLATE = "teacher/system.j2"
QUESTION_TEMPLATE = "teacher/question.j2"
STUDENT_TEMPLATE = "teacher/student.j2"
TEMPLATES = (SYSTEM_TEMPLATE, QUESTION_TEMPLATE, STUDENT_TEMPLATE)

_CURIE_PREFIX = re.compile(r"^[A-Za-z][\w.-]*:")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja environment over `prompts/`: undefined names are errors, not empty strings."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(prompts_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,
    )


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


@lru_cache(maxsize=8)
def _template(name: str) -> jinja2.Template:
    """A prompt template, its globals frozen into a plain dict (Jinja's ChainMap is copied key by key on
    every render)."""
    template = environment().get_template(name)
    template.globals = dict(template.globals)
    return template


def _render(name: str, **context: object) -> str:
    return _template(name).render(**context).strip()


def teacher_messages(item: Item, *, grounding: Grounding = "path") -> tuple[Message, ...]:
    """The chat messages the teacher receives for `item`."""
    evidence = evidence_lines(item.path, against=path_against(item)) if grounding == "path" else []
    return (
        {"role": "system", "content": _render(SYSTEM_TEMPLATE, item=item)},
        {"role": "user", "content": _render(QUESTION_TEMPLATE, item=item, evidence=evidence)},
    )


def student_messages(item: Item, *, wording: FactsWording = "walk") -> tuple[Message, ...]:
    """The prompt a student model sees for `item` (no evidence path), in TRL's conversational format; an
    open-book item's facts (`Item.context`) as one sentence each, between the question and the options,
    each worded in the direction its chain walks it (`kgsynth.questions.walk.facts_against`; `wording="stored"`: each
    in its edge's stored direction, as before walk order was measured, `docs/evaluation.md`)."""
    facts = []
    if item.context:
        facts = evidence_lines(item.context, against=facts_against(item) if wording == "walk" else None)
    return ({"role": "user", "content": _render(STUDENT_TEMPLATE, item=item, facts=facts)},)


def prompt_hash(messages: tuple[Message, ...]) -> str:
    """A digest of a rendered prompt, recorded per item so that a change of wording is visible."""
    canonical = json.dumps(list(messages), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
