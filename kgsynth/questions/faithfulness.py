"""Path-faithfulness: how much of the evidence path a chain of thought actually walks through.

The intermediate entities of a path are the entities on it other than those the question states (its
start, a vignette's findings and mode of inheritance), the answer, and any other entity the question
names in words: the steps a reasoner has to find on its own (a vignette's hidden diagnosis among them).
A chain of thought is scored by the share of them it names, by name or synonym.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from kgsynth.questions.answers import normalise_answer
from kgsynth.questions.item import Item


def intermediate_entities(item: Item) -> dict[str, list[str]]:
    """The path's intermediate entities of `item`, each CURIE with its names and synonyms, in path order."""
    names: dict[str, list[str]] = {}
    for triple in item.path:
        for curie, name in ((triple.subject, triple.subject_name), (triple.object, triple.object_name)):
            known = names.setdefault(curie, [])
            for alias in [name, *item.entity_aliases.get(curie, [])]:
                if alias and alias not in known:
                    known.append(alias)
    if not item.path:
        return {}
    # What the question states: its start entities and every entity a constraint names (a vignette's
    # findings and mode of inheritance); when it states none, the path's first entity is where it starts.
    # A vignette's hidden diagnosis heads its path but is stated nowhere: it is a step to find.
    stated = {value for constraint in item.constraints for value in constraint.args.values() if value in names}
    given = (stated or {item.path[0].subject}) | {item.answer.curie}
    question = normalise_answer(item.question)
    return {
        curie: aliases
        for curie, aliases in names.items()
        if curie not in given and not any(_mentions(question, alias) for alias in aliases)
    }


@lru_cache(maxsize=65536)
def _alias_words(alias: str) -> str:
    return normalise_answer(alias)


def _mentions(normalised_text: str, alias: str) -> bool:
    """``alias`` appears as whole words in ``normalised_text`` (both normalised: words of word characters
    joined by single spaces, so a padded substring test is the word-boundary match)."""
    words = _alias_words(alias)
    return bool(words) and f" {words} " in f" {normalised_text} "


def path_faithfulness(reasoning: str, intermediates: Iterable[Sequence[str]]) -> float | None:
    """The share of intermediate entities (each given as its names) that `reasoning` names.

    None when there is no intermediate entity to name (a one-hop path).

    >>> path_faithfulness("FBN1 variants cause MFS", [["Marfan syndrome", "MFS"], ["aortic root"]])
    0.5
    """
    groups = [list(aliases) for aliases in intermediates]
    if not groups:
        return None
    text = normalise_answer(reasoning)
    named = sum(1 for aliases in groups if any(_mentions(text, alias) for alias in aliases))
    return named / len(groups)
