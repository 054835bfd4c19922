"""Graph schemas: what a knowledge graph contains, how each relation is spoken, what may be asked.

One YAML file per source and one per assembled KG live in ``graph_schemas/``; an assembled KG's file
``include``s its sources' files and adds the metapaths worth asking.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kgsynth.errors import KgsynthError, UnknownNameError
from kgsynth.resources import schemas_dir

logger = logging.getLogger(__name__)


class CategorySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    noun: str  # "disease"
    plural: str  # "diseases"


class PredicateSpec(BaseModel):
    """A relation and how it is spoken; ``{subject}``/``{object}`` are filled with entity names."""

    model_config = ConfigDict(extra="forbid")

    subject: list[str]
    object: list[str]
    forward: str
    inverse: str
    askable: bool = False
    description: str = ""

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
        """Every metapath step names a declared predicate and the categories chain up."""
        for mp in self.metapaths:
            current = {mp.start}
            for raw in mp.steps:
                pred = raw.lstrip("^")
                if pred not in self.predicates:
                    raise ValueError(f"metapath {mp.name}: unknown predicate {pred}")
                spec = self.predicates[pred]
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


DEFAULT_SCHEMA = "med"  # the schema of the default KG


@cache
def load_schema(name: str) -> GraphSchema:
    """A schema by name, with its ``include``s merged in (the including file wins on conflicts)."""
    path = schemas_dir() / f"{name}.yaml"
    if not path.exists():
        raise UnknownNameError("graph schema", name, available_schemas())
    schema = _read(path)
    if not schema.include:
        return schema
    merged = GraphSchema(name=schema.name, title=schema.title, sources=list(schema.sources))
    for inc in schema.include:
        part = load_schema(inc)
        merged.categories.update(part.categories)
        merged.predicates.update(part.predicates)
        merged.metapaths.extend(part.metapaths)
        if inc not in merged.sources:
            merged.sources.append(inc)
    merged.categories.update(schema.categories)
    merged.predicates.update(schema.predicates)
    merged.metapaths.extend(schema.metapaths)
    try:
        merged.check_metapaths()
    except ValueError as exc:
        raise KgsynthError(f"{path}: {exc}") from None
    return merged
