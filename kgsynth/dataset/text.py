"""Text as dedup and decontamination compare it: normalised words and their n-grams."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterator

logger = logging.getLogger(__name__)

_NON_WORD = re.compile(r"[^\w]+")


def normalise_text(text: str) -> str:
    """`text` with accents, case and punctuation removed and whitespace collapsed.

    >>> normalise_text("  Which of the FOLLOWING is  Ehlers–Danlos syndrome? ")
    'which of the following is ehlers danlos syndrome'
    """
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.casefold()
    return " ".join(_NON_WORD.sub(" ", text).replace("_", " ").split())


def word_ngrams(words: list[str], n: int) -> Iterator[str]:
    """Every run of `n` consecutive words, joined by spaces; the whole text when it is shorter.

    >>> list(word_ngrams("a b c".split(), 2))
    ['a b', 'b c']
    """
    if len(words) < n:
        if words:
            yield " ".join(words)
        return
    for start in range(len(words) - n + 1):
        yield " ".join(words[start : start + n])
