"""Every teacher template renders for every item format, strictly, and asks for the form the parser reads."""

from __future__ import annotations

import jinja2
import pytest

from kgsynth.questions.answers import parse_answer, parse_short_answer
from kgsynth.questions.prompt import evidence_lines, prompt_hash, speak_predicate, student_messages
from kgsynth.resources import prompts_dir, prompts_environment, schemas_dir
from kgsynth.teacher.prompts import TEMPLATES, teacher_messages
from tests.teacher_items import make_item


def test_every_shipped_teacher_template_is_registered() -> None:
    shipped = {f"teacher/{path.name}" for path in (prompts_dir() / "teacher").glob("*.j2")}
    assert shipped == set(TEMPLATES)


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("format", ["mcq", "short"])
def test_every_template_renders_strictly(template: str, format: str) -> None:
    item = make_item(1, format=format)
    lines = evidence_lines(item.path)  # the student's template also takes an open-book item's facts
    text = prompts_environment().get_template(template).render(item=item, evidence=lines, facts=lines).strip()
    assert text
    assert "{{" not in text and "{%" not in text


def test_undefined_names_are_errors() -> None:
    with pytest.raises(jinja2.UndefinedError):
        prompts_environment().from_string("{{ missing }}").render()


@pytest.mark.parametrize("format", ["mcq", "short"])
def test_prompts_ask_for_what_the_parser_reads(format: str) -> None:
    item = make_item(2, format=format)
    for messages in (teacher_messages(item), student_messages(item)):
        prompt = messages[-1]["content"]
        assert item.question in prompt
        assert "<think>" in prompt and "</think>" in prompt
        assert "Answer: <letter>" in prompt if format == "mcq" else "Answer: <name>" in prompt
    example = f"<think>...</think>\nAnswer: {item.answer.letter or item.answer.name}"
    parsed = parse_answer(example) if format == "mcq" else parse_short_answer(example)
    assert parsed == (item.answer.letter or item.answer.name)


def test_grounding_shows_the_path_to_the_teacher_only() -> None:
    item = make_item(0)
    grounded = teacher_messages(item, grounding="path")[-1]["content"]
    bare = teacher_messages(item, grounding="none")[-1]["content"]
    facts = evidence_lines(item.path)
    assert facts == [
        "FBN1 is a gene associated with Marfan syndrome",
        "Marfan syndrome presents with aortic root aneurysm",  # HPO terms mid-sentence, as stems write them
    ]
    assert all(fact in grounded for fact in facts)
    assert not any(fact in bare for fact in facts)
    assert prompt_hash(teacher_messages(item)) != prompt_hash(teacher_messages(item, grounding="none"))
    assert all(fact not in student_messages(item)[0]["content"] for fact in facts)
    for letter_option in item.options:
        assert f"{letter_option.letter}. {letter_option.text}" in bare


def test_speak_predicate() -> None:
    """The schema words the predicates it declares; any other is spelled out from its CURIE."""
    assert speak_predicate("biolink:has_phenotype") == "has phenotype"
    assert speak_predicate("treats") == "treats"
    path = make_item(0).path
    odd = path[0].model_copy(update={"predicate": "biolink:regulates"})
    assert evidence_lines([odd]) == ["FBN1 regulates Marfan syndrome"]


def test_resource_folders_are_found() -> None:
    assert (prompts_dir() / "teacher" / "question.j2").is_file()
    assert schemas_dir().name == "graph_schemas"
