"""The dataset row: the contract between the generator, the teacher and the trainers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

LETTERS = "ABCDEFGH"


class Triple(BaseModel):
    """One edge of an evidence path, with names and provenance."""

    subject: str
    subject_name: str
    predicate: str
    object: str
    object_name: str
    source: str
    licence: str


class Option(BaseModel):
    letter: str
    curie: str
    text: str


class Answer(BaseModel):
    letter: str | None = None  # None for short-answer items
    curie: str
    name: str
    aliases: list[str] = Field(default_factory=list)
    # A short-answer item: every proven answer (the whole candidate set, the key among them); each is graded right
    # by any of its names (`Item.entity_aliases`). Empty for multiple choice, and then left out of its JSON.
    accepted: list[str] = Field(default_factory=list)

    @model_serializer(mode="wrap")
    def _without_empty_accepted(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not self.accepted:
            data.pop("accepted", None)
        return data


class Constraint(BaseModel):
    """One constraint the question states, and how many candidates survive once it is applied."""

    description: str
    kind: str  # "start", "chain_step", "has_phenotype", "has_mode_of_inheritance"
    candidates_after: int
    # What the constraint is, machine-readable, so a proof can be re-checked without the wording:
    # {"entity": CURIE} for start, {"step": "^biolink:treats"} for a chain step, {"phenotype": CURIE}, ...
    args: dict[str, str] = Field(default_factory=dict)


class Distractor(BaseModel):
    curie: str
    name: str
    letter: str
    failed_constraint: int  # index into Item.constraints
    rule: str  # which rule chose it (negative_evidence, near_association, unannotated_organ_system, ...)
    # Its association with what the stem states (kgsynth.questions.association) and its rank among the options (1: most
    # associated), beside the key's: a distractor far below the key is one a reader eliminates by association.
    association: float | None = None
    association_rank: int | None = None
    key_association: float | None = None
    key_association_rank: int | None = None


class Item(BaseModel):
    """A verifiable question, its proven answer, and the evidence the graph gives for it."""

    id: str
    question: str
    options: list[Option] = Field(default_factory=list)
    answer: Answer
    type: Literal["chain", "vignette"]
    format: Literal["mcq", "short"]
    hops: int
    path: list[Triple]
    constraints: list[Constraint]
    distractors: list[Distractor] = Field(default_factory=list)
    rarity: float
    template_id: str
    kg_version: str
    seed: int
    rationale: str
    licences: list[str]
    non_commercial: bool = False
    # Names and synonyms of every entity on the path (for path-faithfulness of chains of thought).
    entity_aliases: dict[str, list[str]] = Field(default_factory=dict)
    # Open-book items (`generate --context facts`): the facts the student prompt shows, shuffled -- the evidence
    # path's edges and one decoy chain per distractor. Empty for a closed-book item, and then left out of its
    # JSON, so closed-book runs keep their bytes.
    context: list[Triple] = Field(default_factory=list)
    # The graph schema that wrote the item (`generate --schema`: a shipped name or a YAML path), so the teacher's
    # evidence and the open-book facts are worded by it (`kgsynth.questions.prompt.item_schema`). None for the
    # default schema, and then left out of its JSON, so default runs keep their bytes.
    schema_name: str | None = None

    @model_serializer(mode="wrap")
    def _without_empty_context(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not self.context:
            data.pop("context", None)
        if self.schema_name is None:
            data.pop("schema_name", None)
        return data


def without_context(item: Item) -> Item:
    """The same item closed-book: a copy with no facts (same id, question, options and answer)."""
    return item.model_copy(update={"context": []})
