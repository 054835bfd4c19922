"""The one answer judge: parses final answers for the teacher's verifier, the GRPO rewards and evaluation.

A completion reasons inside `<think>...</think>` and then states its final answer on a line of its own::

    <think>
    Marfan syndrome is caused by FBN1 ...
    </think>
    Answer: C

Only the text after the last `</think>` is searched, so a letter the model weighs while reasoning
never counts as its answer; the last `Answer:` line there wins. Short-answer items are judged by
normalising the stated answer and comparing it with the proven answer's names and synonyms.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from kgsynth.questions.item import LETTERS, Item

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

# "Answer: C", "**Answer:** (C)", "Final answer: C." -- at the start of a line, the letter standing alone.
_ANSWER_LINE = re.compile(
    r"^[ \t]*(?:\*\*)?[ \t]*(?:final[ \t]+)?answer[ \t]*(?:\*\*)?[ \t]*[:：]"
    r"[ \t]*(?:\*\*)?[ \t]*(?P<rest>.*)$",
    re.IGNORECASE | re.MULTILINE,
)
_LETTER = re.compile(r"^\(?(?P<letter>[A-Za-z])\)?(?:[ \t]*[.):]|[ \t]*\*\*|[ \t]*$|[ \t]+\S)")
# Whole-answer format the format reward asks for: one think block, then the answer line, nothing else.
_STRICT_FORMAT = re.compile(
    r"^\s*<think>(?P<reasoning>.+?)</think>\s*Answer:[ \t]*(?P<answer>[^\n]+?)[ \t]*\.?\s*$",
    re.DOTALL,
)
_ARTICLES = re.compile(r"^(?:the|a|an)\s+")
_NON_WORD = re.compile(r"[^\w]+")


def final_section(text: str) -> str | None:
    """The part of `text` after its reasoning: after the last `</think>`, or all of it if it has none.

    None when a `<think>` block was opened but never closed (the completion was cut off while
    reasoning), since then no final answer was given.

    >>> final_section("<think>B or C?</think>\\nAnswer: C")
    '\\nAnswer: C'
    >>> final_section("<think>B or C? Answer: B") is None
    True
    """
    close = text.rfind(THINK_CLOSE)
    if close >= 0:
        return text[close + len(THINK_CLOSE) :]
    if THINK_OPEN in text:
        return None
    return text


def reasoning_section(text: str) -> str:
    """The reasoning of a completion: inside its think block if it has one, else all of it."""
    start = text.find(THINK_OPEN)
    close = text.rfind(THINK_CLOSE)
    if start >= 0:
        return text[start + len(THINK_OPEN) : close if close > start else len(text)]
    return text[:close] if close >= 0 else text


def _answer_lines(text: str) -> list[str]:
    final = final_section(text)
    if final is None:
        return []
    return [match.group("rest").strip() for match in _ANSWER_LINE.finditer(final)]


def parse_answer(text: str, *, letters: str = LETTERS) -> str | None:
    """The option letter a completion gives as its final answer, or None if it gives none.

    >>> parse_answer("<think>FBN1 points to Marfan syndrome.</think>\\nAnswer: C")
    'C'
    >>> parse_answer("**Answer:** (b)")
    'B'
    >>> parse_answer("I think it is C") is None
    True
    """
    for rest in reversed(_answer_lines(text)):
        match = _LETTER.match(rest)
        if match:
            letter = match.group("letter").upper()
            return letter if letter in letters else None
    return None


def parse_short_answer(text: str) -> str | None:
    """The free-text final answer of a completion (the rest of its last `Answer:` line), or None.

    >>> parse_short_answer("<think>...</think>\\nAnswer: **Marfan syndrome**.")
    'Marfan syndrome'
    """
    for rest in reversed(_answer_lines(text)):
        cleaned = rest.strip().strip("*").strip().rstrip(".").strip().strip("*").strip()
        if cleaned:
            return cleaned
    return None


def normalise_answer(text: str) -> str:
    """A short answer reduced to what identifies it: case, accents, punctuation, articles removed.

    >>> normalise_answer("The Ehlers–Danlos syndrome, type IV")
    'ehlers danlos syndrome type iv'
    """
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = _NON_WORD.sub(" ", text).replace("_", " ").strip()
    text = " ".join(text.split())
    return _ARTICLES.sub("", text)


def answer_matches(candidate: str, aliases: Iterable[str]) -> bool:
    """Whether a short answer names the proven answer by one of its names or synonyms."""
    wanted = normalise_answer(candidate)
    return bool(wanted) and any(wanted == normalise_answer(alias) for alias in aliases)


@dataclass(frozen=True)
class Verdict:
    """What a completion answered (a letter, or the stated short answer; None if none) and whether it is right."""

    answer: str | None
    correct: bool


def judge(text: str, *, letter: str | None, aliases: Iterable[str] = (), letters: str = LETTERS) -> Verdict:
    """Judge a completion's final answer against the proven one.

    Multiple-choice items (`letter` given) are judged by the letter alone, among `letters`;
    short-answer items (`letter` None) by matching the stated answer against the proven answer's
    names (`aliases`).

    >>> judge("<think>B?</think>\\nAnswer: C", letter="C")
    Verdict(answer='C', correct=True)
    >>> judge("<think>...</think>\\nAnswer: MFS", letter=None, aliases=["Marfan syndrome"])
    Verdict(answer='MFS', correct=False)
    """
    if letter is not None:
        chosen = parse_answer(text, letters=letters)
        return Verdict(chosen, chosen is not None and chosen == letter.upper())
    stated = parse_short_answer(text)
    return Verdict(stated, stated is not None and answer_matches(stated, aliases))


def reference_aliases(item: Item) -> list[str]:
    """Every name the proven answer of `item` may be given by: its name, aliases and synonyms, then (a short item)
    every name of each other proven answer, in order."""
    names: list[str] = []
    for name in (item.answer.name, *item.answer.aliases, *item.entity_aliases.get(item.answer.curie, [])):
        if name and name not in names:
            names.append(name)
    for curie in item.answer.accepted:  # a short item: every proven answer, by every name
        for name in item.entity_aliases.get(curie, []):
            if name and name not in names:
                names.append(name)
    return names


def judge_item(text: str, item: Item) -> Verdict:
    """Judge a completion against `item`'s proven answer (its option letters, or its answer's names)."""
    letters = "".join(option.letter for option in item.options) or LETTERS
    return judge(text, letter=item.answer.letter, aliases=reference_aliases(item), letters=letters)


def is_correct(text: str, *, letter: str | None, aliases: Iterable[str] = ()) -> bool:
    """Whether a completion's final answer is the proven one (see `judge`).

    >>> is_correct("<think>...</think>\\nAnswer: C", letter="C")
    True
    >>> is_correct("<think>...</think>\\nAnswer: marfan syndrome", letter=None, aliases=["Marfan syndrome"])
    True
    """
    return judge(text, letter=letter, aliases=aliases).correct


def follows_format(text: str) -> bool:
    """Whether a completion is exactly one think block followed by one `Answer:` line.

    >>> follows_format("<think>FBN1 causes Marfan syndrome.</think>\\nAnswer: C")
    True
    >>> follows_format("Answer: C")
    False
    """
    match = _STRICT_FORMAT.match(text)
    if match is None:
        return False
    reasoning = match.group("reasoning")
    return THINK_OPEN not in reasoning and bool(reasoning.strip())
