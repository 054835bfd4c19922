"""Graph schemas: what a knowledge graph contains, how each relation is spoken, what may be asked.

One YAML file per source and one per assembled KG live in ``graph_schemas/``; an assembled KG's file
``include``s its sources' files and adds the metapaths worth asking. A user's own graph brings its own
file (``kgsynth generate --schema PATH``), which may ``include`` shipped schemas by name or other files
by path (relative to the including file).

The schema is the one home of how a predicate is spoken: ``forward``/``inverse`` state one edge as a
sentence (rationales, teacher evidence), ``phrases.forward``/``phrases.inverse`` name the entity a hop
reaches as a noun phrase (question stems), several phrasings each so that stems do not repeat.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kgsynth.errors import KgsynthError, UnknownNameError
from kgsynth.resources import schemas_dir

logger = logging.getLogger(__name__)

DEFAULT_SCHEMA = "med"  # the default medical KG's schema (graph_schemas/med.yaml)
PHENOTYPE_ROOT = "phenotypic_abnormality"  # the `roots` entry under which a graph's organ systems hang


class CategorySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    noun: str  # "disease"
    plural: str  # "diseases"


class PhraseSpec(BaseModel):
    """Noun phrases naming the entity one hop reaches, from the entity it starts at.

    ``forward`` phrases walk subject -> object and name the object, so they hold ``{subject}`` (the
    start: a name or, in a chain, the phrase of the hops before); ``inverse`` phrases walk object ->
    subject and hold ``{object}``. Each must read well whether the slot holds a name ("imatinib") or a
    noun phrase ("a drug indicated for asthma"), except a phrase that names its slot ("a drug of the
    class {object}"), which reads well only with a name: its step may only start a metapath.
    """

    model_config = ConfigDict(extra="forbid")

    forward: list[str] = Field(default_factory=list)
    inverse: list[str] = Field(default_factory=list)

    @field_validator("forward")
    @classmethod
    def _forward_slot(cls, v: list[str]) -> list[str]:
        return _check_slots(v, "{subject}", "{object}")

    @field_validator("inverse")
    @classmethod
    def _inverse_slot(cls, v: list[str]) -> list[str]:
        return _check_slots(v, "{object}", "{subject}")


_NAMES_ITS_SLOT = re.compile(r"\bthe (?:[a-z]+ )?(?!(?:of|by|for|in|with|to|from) )[a-z]+ \{(?:subject|object)\}")


def names_its_slot(phrase: str) -> bool:
    """Whether ``phrase`` puts a noun before its slot ("the class {object}"): it takes names only.

    >>> [names_its_slot(p) for p in ("a drug of the class {object}", "a member of the drug class {object}",
    ...  "a drug that targets the product of {object}", "a drug indicated for {object}")]
    [True, True, False, False]
    """
    return bool(_NAMES_ITS_SLOT.search(phrase))


def _check_slots(phrases: list[str], need: str, forbid: str) -> list[str]:
    for p in phrases:
        if p.count(need) != 1 or forbid in p:
            raise ValueError(f"phrase {p!r} must contain {need} once and no {forbid}")
        if p != p.strip() or "  " in p or not p[:1].islower():
            raise ValueError(f"phrase {p!r} must start lower-case, without doubled or edge spaces")
    return phrases


class PredicateSpec(BaseModel):
    """A relation and how it is spoken; ``{subject}``/``{object}`` are filled with entity names."""

    model_config = ConfigDict(extra="forbid")

    subject: list[str]
    object: list[str]
    forward: str
    inverse: str
    phrases: PhraseSpec = Field(default_factory=PhraseSpec)
    askable: bool = False
    description: str = ""

    def phrasings(self, *, inverse: bool) -> list[str]:
        """The noun phrases of one direction of this predicate (see `PhraseSpec`)."""
        return self.phrases.inverse if inverse else self.phrases.forward

    @field_validator("subject", "object", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("forward", "inverse")
    @classmethod
    def _placeholders(cls, v: str) -> str:
        if "{subject}" not in v or "{object}" not in v:
            raise ValueError("must contain both {subject} and {object}")
        return v


class MetapathSpec(BaseModel):
    """A chain of relations worth asking about; ``^`` before a predicate walks it object -> subject."""

    model_config = ConfigDict(extra="forbid")

    name: str
    start: str
    steps: list[str] = Field(min_length=1, max_length=4)
    description: str = ""


class GraphSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    title: str
    include: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    categories: dict[str, CategorySpec] = Field(default_factory=dict)
    predicates: dict[str, PredicateSpec] = Field(default_factory=dict)
    metapaths: list[MetapathSpec] = Field(default_factory=list)
    roots: dict[str, str] = Field(
        default_factory=dict,
        description="named entities the questions reason from, by CURIE (phenotypic_abnormality: the HPO term "
        "whose children are the organ systems)",
    )

    @property
    def phenotype_root(self) -> str | None:
        """The CURIE of the phenotypic-abnormality root (``roots.phenotypic_abnormality``), None if not named."""
        return self.roots.get(PHENOTYPE_ROOT)

    @model_validator(mode="after")
    def _consistent(self) -> GraphSchema:
        for pred, spec in self.predicates.items():
            if not pred.startswith("biolink:"):
                raise ValueError(f"predicate {pred!r} must be a biolink: CURIE")
            for c in (*spec.subject, *spec.object):
                if self.categories and c not in self.categories and not self.include:
                    raise ValueError(f"predicate {pred} uses category {c}, which the schema does not declare")
        return self

    def check_metapaths(self) -> None:
        """Every metapath step names a declared predicate with phrases for its direction, and the
        categories chain up."""
        for mp in self.metapaths:
            current = {mp.start}
            for i, raw in enumerate(mp.steps):
                pred = raw.lstrip("^")
                if pred not in self.predicates:
                    raise ValueError(f"metapath {mp.name}: unknown predicate {pred}")
                spec = self.predicates[pred]
                direction = "inverse" if raw.startswith("^") else "forward"
                if not spec.phrasings(inverse=raw.startswith("^")):
                    raise ValueError(
                        f"metapath {mp.name}: step {raw} has no phrases; give predicates.{pred}.phrases.{direction}"
                    )
                if i > 0 and any(names_its_slot(p) for p in spec.phrasings(inverse=raw.startswith("^"))):
                    raise ValueError(
                        f"metapath {mp.name}: step {raw} follows another step, but a phrase of "
                        f"predicates.{pred}.phrases.{direction} names its slot ('the class {{...}}') and reads "
                        "well only with a name"
                    )
                frm, to = (spec.object, spec.subject) if raw.startswith("^") else (spec.subject, spec.object)
                if not current & set(frm):
                    raise ValueError(f"metapath {mp.name}: step {raw} does not start from {sorted(current)}")
                current = set(to)


def available_schemas() -> list[str]:
    return sorted(p.stem for p in schemas_dir().glob("*.yaml"))


def _read(path: Path) -> GraphSchema:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return GraphSchema.model_validate(data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise KgsynthError(f"{path}{line}: not valid YAML ({exc})") from None
    except ValidationError as exc:
        raise KgsynthError(f"{path}: not a valid graph schema:\n{exc}") from None


def is_schema_path(ref: str) -> bool:
    """Whether a schema reference is a file path (``my.yaml``, ``dir/x``) rather than a shipped name."""
    return ref.endswith((".yaml", ".yml")) or "/" in ref or "\\" in ref


def _locate(ref: str, base: Path | None) -> Path:
    if not is_schema_path(ref):
        path = schemas_dir() / f"{ref}.yaml"
        if not path.exists():
            raise UnknownNameError("graph schema", ref, available_schemas())
        return path
    path = Path(ref).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    if not path.is_file():
        raise KgsynthError(
            f"graph schema file {path} does not exist",
            hint=f"give a YAML file like those in {schemas_dir()}, or a shipped name: {', '.join(available_schemas())}",
        )
    return path


@cache
def known_predicates() -> frozenset[str]:
    """Every predicate a shipped schema speaks (what a question can reach without a schema of one's own)."""
    return frozenset(p for name in available_schemas() for p in load_schema(name).predicates)


@cache
def load_schema(name: str) -> GraphSchema:
    """A schema by shipped name (``med``) or by path to a YAML file (a user's own graph), with its
    ``include``s merged in (the including file wins on conflicts) and its metapaths checked."""
    return _load(name, None)


def _load(ref: str, base: Path | None) -> GraphSchema:
    path = _locate(ref, base)
    schema = _read(path)
    if not schema.include:
        try:
            schema.check_metapaths()
        except ValueError as exc:
            raise KgsynthError(f"{path}: {exc}") from None
        return schema
    merged = GraphSchema(name=schema.name, title=schema.title, sources=list(schema.sources))
    for inc in schema.include:
        part = load_schema(inc) if not is_schema_path(inc) else _load(inc, path.parent)
        merged.categories.update(part.categories)
        merged.predicates.update(part.predicates)
        merged.metapaths.extend(part.metapaths)
        merged.roots.update(part.roots)
        if inc not in merged.sources:
            merged.sources.append(inc)
    merged.categories.update(schema.categories)
    merged.predicates.update(schema.predicates)
    merged.metapaths.extend(schema.metapaths)
    merged.roots.update(schema.roots)
    try:
        merged.check_metapaths()
    except ValueError as exc:
        raise KgsynthError(f"{path}: {exc}") from None
    return merged
