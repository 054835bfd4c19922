"""The dataset row: the contract between the core and the trainers, one function per view of an item.

- `grpo_row`: TRL's conversational `prompt` plus the columns kgsynth's rewards read
  (`answer_letter`, `answer_aliases`, `path_intermediates`) and the item's ids;
- `sft_row`: TRL's conversational `messages` -- the student's prompt, then the assistant's
  `<think>chain</think>` and the final answer line -- with the chain's origin in `chain_source`; and
  the same turns as TRL's conversational prompt-completion pair (`prompt`, `completion`), which
  SFTTrainer prefers when both are there: it then trains on the completion only, whatever the chat
  template (`assistant_only_loss` needs `{% generation %}` markers, which SmolLM2's template lacks);
- `eval_row`: what an evaluation needs to ask a model and judge its answer (`kgsynth.questions.answers.judge`);
- `item_row`: every field of the item (free-form mappings as JSON strings, so one schema fits all rows;
  `context`, an open-book item's facts, is an empty list on a closed-book row).

Each view has its `datasets.Features` (`FEATURES[view]()`), so every split of a config has one
schema whatever rows it happens to hold. `datasets` is imported only when the features are asked for.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from kgsynth.questions.answers import THINK_CLOSE, THINK_OPEN, reasoning_section, reference_aliases
from kgsynth.questions.faithfulness import intermediate_entities
from kgsynth.questions.item import Item
from kgsynth.questions.prompt import student_messages
from kgsynth.questions.wording import mid_sentence

if TYPE_CHECKING:
    import datasets

logger = logging.getLogger(__name__)

ChainSource = Literal["teacher", "rationale", "path"]
SftChain = Literal["rationale", "path"]
PATH_ARROW = " → "


def _ids(item: Item) -> dict[str, Any]:
    return {"item_id": item.id, "type": item.type, "format": item.format, "hops": item.hops}


def answer_line(item: Item) -> str:
    """The final answer line a completion for `item` ends with: `Answer: C`, or `Answer: <name>`."""
    return f"Answer: {item.answer.letter if item.answer.letter is not None else item.answer.name}"


def assistant_text(item: Item, chain: str) -> str:
    """The assistant turn an SFT row teaches: the chain inside one think block, then the answer line.

    >>> from kgsynth.questions.item import Answer
    >>> item = Item.model_construct(answer=Answer(letter="C", curie="X:1", name="Marfan syndrome"))
    >>> assistant_text(item, "<think>FBN1 -> Marfan syndrome</think>\\nAnswer: C")
    '<think>\\nFBN1 -> Marfan syndrome\\n</think>\\nAnswer: C'
    """
    reasoning = reasoning_section(chain).replace(THINK_OPEN, "").replace(THINK_CLOSE, "").strip()
    return f"{THINK_OPEN}\n{reasoning}\n{THINK_CLOSE}\n{answer_line(item)}"


def path_chain(item: Item) -> str:
    """The item's evidence as a terse chain of names, start first: `A → B → C` (a short scratchpad).

    The entities are named hop by hop from the question's given entities (its start, or a vignette's
    findings), as stems and open-book facts write them (`kgsynth.questions.wording.mid_sentence`); entities the
    same number of hops away are joined by "; ".

    >>> from kgsynth.questions.item import Answer, Constraint, Triple
    >>> t = [Triple(subject="DRUGBANK:1", subject_name="Metformin", predicate="treats", object="M:1",
    ...             object_name="metabolic syndrome X", source="s", licence="l"),
    ...      Triple(subject="DRUGBANK:1", subject_name="Metformin", predicate="targets", object="G:1",
    ...             object_name="NDUFAF3", source="s", licence="l")]
    >>> start = Constraint(description="start", kind="start", candidates_after=1, args={"entity": "M:1"})
    >>> item = Item.model_construct(path=t, constraints=[start], answer=Answer(letter="A", curie="G:1", name="NDUFAF3"))
    >>> path_chain(item)
    'metabolic syndrome X → metformin → NDUFAF3'
    """
    names: dict[str, str] = {}
    for triple in item.path:
        names.setdefault(triple.subject, mid_sentence(triple.subject, triple.subject_name))
        names.setdefault(triple.object, mid_sentence(triple.object, triple.object_name))
    # The question's given entities: its start, or a vignette's findings.
    starts = [
        curie
        for constraint in item.constraints
        if (curie := (constraint.args or {}).get("entity" if constraint.kind == "start" else "phenotype")) in names
    ]
    if not starts and item.path:
        starts = [item.path[0].subject]
    levels: list[list[str]] = []
    seen: set[str] = set()
    frontier = set(starts)
    while frontier:
        levels.append([curie for curie in names if curie in frontier])
        seen |= frontier
        frontier = {
            there
            for triple in item.path
            for here, there in ((triple.subject, triple.object), (triple.object, triple.subject))
            if here in frontier and there not in seen
        }
    return PATH_ARROW.join("; ".join(names[curie] for curie in level) for level in levels if level)


def grpo_row(item: Item) -> dict[str, Any]:
    """The GRPO view of `item`: a conversational `prompt` and the reference columns the rewards read."""
    return {
        **_ids(item),
        "prompt": [dict(message) for message in student_messages(item)],
        "answer_letter": item.answer.letter,
        "answer_aliases": reference_aliases(item),
        "path_intermediates": list(intermediate_entities(item).values()),
    }


def sft_row(
    item: Item, *, chain: str | None = None, sample: int = 0, fallback: SftChain = "rationale"
) -> dict[str, Any]:
    """The SFT view of `item`: the student's prompt and an assistant answer reasoning through `chain`.

    `chain` is a verified teacher completion; without one the chain is the item's templated rationale
    (`fallback="rationale"`) or its evidence as a terse chain of names (`fallback="path"`, `path_chain`).
    """
    source: ChainSource = "teacher" if chain is not None else fallback
    if chain is None:
        chain = item.rationale if fallback == "rationale" else path_chain(item)
    prompt = [dict(message) for message in student_messages(item)]
    completion = [{"role": "assistant", "content": assistant_text(item, chain)}]
    return {
        **_ids(item),
        "messages": prompt + completion,
        "prompt": prompt,
        "completion": completion,
        "chain_source": source,
        "sample": sample,
        "answer_letter": item.answer.letter,
        "answer_aliases": reference_aliases(item),
    }


def eval_row(item: Item) -> dict[str, Any]:
    """The evaluation view of `item`: the prompt, the reference answer, and what results are grouped by."""
    return {
        **_ids(item),
        "prompt": [dict(message) for message in student_messages(item)],
        "answer_letter": item.answer.letter,
        "answer_aliases": reference_aliases(item),
        "option_letters": "".join(option.letter for option in item.options),
        "rarity": item.rarity,
        "non_commercial": item.non_commercial,
    }


def item_row(item: Item) -> dict[str, Any]:
    """Every field of `item`; `entity_aliases` and each constraint's `args` as JSON strings."""
    row = item.model_dump()
    # the rows' columns are fixed (`item_features`); the schema has worded the prompt columns already
    row.pop("schema_name", None)
    row["context"] = [t.model_dump() for t in item.context]  # a closed-book item's JSON leaves it out; rows keep it
    row["answer"]["accepted"] = list(item.answer.accepted)  # likewise a multiple-choice answer's empty list
    row["entity_aliases"] = json.dumps(row["entity_aliases"], ensure_ascii=False, sort_keys=True)
    for constraint in row["constraints"]:
        constraint["args"] = json.dumps(constraint["args"], sort_keys=True)
    return row


def item_from_row(row: dict[str, Any]) -> Item:
    """The item an `item_row` was made from (its JSON-string fields decoded again)."""
    row = dict(row)
    row["entity_aliases"] = json.loads(row["entity_aliases"] or "{}")
    row["constraints"] = [{**c, "args": json.loads(c["args"] or "{}")} for c in row["constraints"]]
    return Item.model_validate(row)


# -- features -------------------------------------------------------------------------------------


def _string() -> datasets.Value:
    import datasets

    return datasets.Value("string")


def _messages() -> datasets.List:
    import datasets

    return datasets.List({"role": _string(), "content": _string()})


def _ids_features() -> dict[str, Any]:
    import datasets

    return {"item_id": _string(), "type": _string(), "format": _string(), "hops": datasets.Value("int32")}


@lru_cache(maxsize=1)
def grpo_features() -> datasets.Features:
    """The schema of `grpo_row`."""
    import datasets

    return datasets.Features(
        {
            **_ids_features(),
            "prompt": _messages(),
            "answer_letter": _string(),
            "answer_aliases": datasets.List(_string()),
            "path_intermediates": datasets.List(datasets.List(_string())),
        }
    )


@lru_cache(maxsize=1)
def sft_features() -> datasets.Features:
    """The schema of `sft_row`."""
    import datasets

    return datasets.Features(
        {
            **_ids_features(),
            "messages": _messages(),
            "prompt": _messages(),
            "completion": _messages(),
            "chain_source": _string(),
            "sample": datasets.Value("int32"),
            "answer_letter": _string(),
            "answer_aliases": datasets.List(_string()),
        }
    )


@lru_cache(maxsize=1)
def eval_features() -> datasets.Features:
    """The schema of `eval_row`."""
    import datasets

    return datasets.Features(
        {
            **_ids_features(),
            "prompt": _messages(),
            "answer_letter": _string(),
            "answer_aliases": datasets.List(_string()),
            "option_letters": _string(),
            "rarity": datasets.Value("float64"),
            "non_commercial": datasets.Value("bool"),
        }
    )


@lru_cache(maxsize=1)
def item_features() -> datasets.Features:
    """The schema of `item_row`: `kgsynth.questions.item.Item` field by field."""
    import datasets

    s, i32, f64 = _string(), datasets.Value("int32"), datasets.Value("float64")
    triple = {k: s for k in ("subject", "subject_name", "predicate", "object", "object_name", "source", "licence")}
    distractor = {"curie": s, "name": s, "letter": s, "failed_constraint": i32, "rule": s, "association": f64,
                  "association_rank": i32, "key_association": f64, "key_association_rank": i32}  # fmt: skip
    return datasets.Features(
        {
            "id": s,
            "question": s,
            "options": datasets.List({"letter": s, "curie": s, "text": s}),
            "answer": {"letter": s, "curie": s, "name": s, "aliases": datasets.List(s), "accepted": datasets.List(s)},
            "type": s,
            "format": s,
            "hops": i32,
            "path": datasets.List(triple),
            "constraints": datasets.List({"description": s, "kind": s, "candidates_after": i32, "args": s}),
            "distractors": datasets.List(distractor),
            "rarity": datasets.Value("float64"),
            "template_id": s,
            "kg_version": s,
            "seed": datasets.Value("int64"),
            "rationale": s,
            "licences": datasets.List(s),
            "non_commercial": datasets.Value("bool"),
            "entity_aliases": s,
            "context": datasets.List(triple),
        }
    )


FEATURES: dict[str, Callable[[], datasets.Features]] = {
    "grpo": grpo_features,
    "sft": sft_features,
    "eval": eval_features,
    "items": item_features,
}
