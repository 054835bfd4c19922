"""Questions from sampled paths: one attempt turns one random draw into an item or a drop reason.

The steps live in their own modules: start sampling (:mod:`kgsynth.questions.starts`), one module per question
type returning a draft (:mod:`kgsynth.questions.chain`, :mod:`kgsynth.questions.vignette`), distractor rules
(:mod:`kgsynth.questions.distractors`), item assembly (:mod:`kgsynth.questions.itemize`) and every piece of wording
(:mod:`kgsynth.questions.wording`). Options and their defaults: :class:`~kgsynth.questions.genconfig.GenerateConfig`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from kgsynth.questions.chain import chain_draft
from kgsynth.questions.draft import Context, Draft, Drop, build_context
from kgsynth.questions.genconfig import AnswerFormat, GenerateConfig, QuestionType
from kgsynth.questions.item import Item
from kgsynth.questions.itemize import assemble
from kgsynth.questions.vignette import vignette_draft

logger = logging.getLogger(__name__)

__all__ = ["AnswerFormat", "Context", "Drop", "GenerateConfig", "QuestionType", "build_context", "make_question"]


def make_question(
    ctx: Context,
    qtype: QuestionType,
    rng: np.random.Generator,
    fmt: AnswerFormat,
    gold: int,
    *,
    admit: Callable[[Draft], str | None] | None = None,
) -> Item | Drop:
    """One attempt: a draft of the given type, then the assembled item (or why there is none). ``admit``
    may refuse a draft before the costly assembly (a duplicate or capped key), with the reason to record."""
    draft = chain_draft(ctx, rng, fmt, gold) if qtype == "chain" else vignette_draft(ctx, rng, fmt, gold)
    if isinstance(draft, Drop):
        return draft
    if admit is not None and (reason := admit(draft)) is not None:
        return Drop(reason)
    return assemble(ctx, draft, rng)
