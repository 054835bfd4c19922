"""The answer parser shared by the teacher's verifier and the GRPO rewards."""

from __future__ import annotations

import pytest

from kgsynth.questions.answers import (
    answer_matches,
    final_section,
    follows_format,
    is_correct,
    normalise_answer,
    parse_answer,
    parse_short_answer,
    reasoning_section,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>FBN1 -> Marfan syndrome</think>\nAnswer: C", "C"),
        ("<think>x</think>\n\nAnswer: c", "C"),
        ("<think>x</think>\n**Answer:** (B)", "B"),
        ("<think>x</think>\nAnswer: D. Marfan syndrome", "D"),
        ("<think>x</think>\nAnswer: (A) Marfan syndrome", "A"),
        ("<think>x</think>\nFinal answer: E", "E"),
        ("Answer: A", "A"),
        # The last answer line after the reasoning wins; letters weighed while reasoning never count.
        ("<think>Answer: A looks tempting</think>\nAnswer: B", "B"),
        ("<think>x</think>\nAnswer: A\nAnswer: D", "D"),
        # No final answer.
        ("<think>Answer: A, surely", None),
        ("<think>x</think>\nThe answer is C", None),
        ("<think>x</think>\nAnswer: Marfan syndrome", None),
        ("<think>x</think>\nAnswer:", None),
        ("", None),
        ("<think>x</think>\nAnswer: Z", None),
    ],
)
def test_parse_answer(text: str, expected: str | None) -> None:
    assert parse_answer(text) == expected


def test_parse_answer_respects_the_item_letters() -> None:
    assert parse_answer("Answer: E", letters="ABCD") is None
    assert parse_answer("Answer: D", letters="ABCD") == "D"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>x</think>\nAnswer: Marfan syndrome", "Marfan syndrome"),
        ("<think>x</think>\nAnswer: **Marfan syndrome**.", "Marfan syndrome"),
        ("<think>Answer: Loeys-Dietz</think>\nAnswer: Marfan syndrome", "Marfan syndrome"),
        ("<think>unfinished", None),
        ("no answer line", None),
    ],
)
def test_parse_short_answer(text: str, expected: str | None) -> None:
    assert parse_short_answer(text) == expected


def test_normalise_answer_ignores_case_accents_punctuation_and_articles() -> None:
    assert normalise_answer("The  Ehlers–Danlos syndrome, type IV.") == "ehlers danlos syndrome type iv"
    assert normalise_answer("Sjögren syndrome") == normalise_answer("sjogren SYNDROME")
    assert normalise_answer("") == ""


def test_answer_matches_any_alias() -> None:
    assert answer_matches("marfan's syndrome", ["Marfan syndrome", "Marfan's syndrome"])
    assert not answer_matches("Loeys-Dietz syndrome", ["Marfan syndrome"])
    assert not answer_matches("", [""])


def test_is_correct_for_both_formats() -> None:
    assert is_correct("<think>x</think>\nAnswer: c", letter="C")
    assert not is_correct("<think>x</think>\nAnswer: B", letter="C")
    assert is_correct("<think>x</think>\nAnswer: MFS", letter=None, aliases=["Marfan syndrome", "MFS"])
    assert not is_correct("<think>x</think>\nAnswer: MFS", letter=None, aliases=[])


def test_sections() -> None:
    text = "<think>FBN1 causes it</think>\nAnswer: C"
    assert reasoning_section(text) == "FBN1 causes it"
    assert final_section(text) == "\nAnswer: C"
    assert reasoning_section("plain reasoning\nAnswer: C") == "plain reasoning\nAnswer: C"
    assert reasoning_section("<think>cut off") == "cut off"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>FBN1 causes it</think>\nAnswer: C", True),
        ("  <think>\nstep 1\nstep 2\n</think>\n\nAnswer: Marfan syndrome.\n", True),
        ("Answer: C", False),
        ("<think></think>\nAnswer: C", False),
        ("<think>x</think>\nAnswer: C\nbecause ...", False),
        ("<think>x</think><think>y</think>\nAnswer: C", False),
        ("<think>x</think>", False),
    ],
)
def test_follows_format(text: str, expected: bool) -> None:
    assert follows_format(text) is expected
