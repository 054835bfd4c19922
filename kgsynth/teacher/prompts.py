"""How teacher requests are worded: Jinja templates in `prompts/teacher/`.

Code holds no wording. The teacher sees the question, its options and, with grounding `path`, the
evidence path the generator proved the answer with, each edge worded by the schema that wrote the
item; the student's prompt (`kgsynth.questions.prompt`) shows neither.
"""

from __future__ import annotations

from typing import Literal

from kgsynth.models.base import Message
from kgsynth.questions.item import Item
from kgsynth.questions.prompt import STUDENT_TEMPLATE, evidence_lines, item_schema, render
from kgsynth.questions.walk import path_against

Grounding = Literal["path", "none"]

SYSTEM_TEMPLATE = "teacher/system.j2"
QUESTION_TEMPLATE = "teacher/question.j2"
TEMPLATES = (SYSTEM_TEMPLATE, QUESTION_TEMPLATE, STUDENT_TEMPLATE)


def teacher_messages(item: Item, *, grounding: Grounding = "path") -> tuple[Message, ...]:
    """The chat messages the teacher receives for `item`."""
    evidence = (
        evidence_lines(item.path, against=path_against(item), schema=item_schema(item)) if grounding == "path" else []
    )
    return (
        {"role": "system", "content": render(SYSTEM_TEMPLATE, item=item)},
        {"role": "user", "content": render(QUESTION_TEMPLATE, item=item, evidence=evidence)},
    )
