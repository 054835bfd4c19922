"""Reward functions: TRL's calling convention, the registry, and the contract every reward keeps."""

from __future__ import annotations

import inspect

import pytest

from kgsynth.dataset.rewards import (
    REWARDS,
    accuracy_reward,
    completion_text,
    format_reward,
    get_reward,
    path_faithfulness_reward,
)
from kgsynth.errors import UnknownNameError

GOOD = "<think>FBN1 variants cause Marfan syndrome, which dilates the aortic root.</think>\nAnswer: C"
WRONG = "<think>Perhaps Loeys-Dietz.</think>\nAnswer: B"
UNFORMATTED = "C"

# Columns as a dataset built by kgsynth carries them, one value per completion.
COLUMNS = {
    "answer_letter": ["C", "C", "C"],
    "answer_aliases": [["Marfan syndrome"], ["Marfan syndrome"], ["Marfan syndrome"]],
    "path_intermediates": [[["Marfan syndrome", "MFS"]]] * 3,
}


def conversational(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


@pytest.mark.parametrize("name", sorted(REWARDS))
def test_every_reward_keeps_the_trl_contract(name: str) -> None:
    """Called as TRL calls it (prompts, completions, columns, trainer extras): one score per completion."""
    reward = REWARDS[name]
    assert "completions" in inspect.signature(reward).parameters
    completions = [GOOD, WRONG, UNFORMATTED]
    for batch in (completions, [conversational(text) for text in completions]):
        scores = reward(
            prompts=[[{"role": "user", "content": "Q"}]] * 3,
            completions=batch,
            completion_ids=[[1, 2]] * 3,
            trainer_state=None,
            **COLUMNS,
        )
        assert len(scores) == 3
        assert all(score is None or 0.0 <= score <= 1.0 for score in scores)
    assert reward.__doc__


def test_accuracy_reward_mcq_and_short_answer() -> None:
    assert accuracy_reward([GOOD, WRONG, UNFORMATTED], answer_letter=["C"] * 3) == [1.0, 0.0, 0.0]
    short = ["<think>x</think>\nAnswer: MFS", "<think>x</think>\nAnswer: Loeys-Dietz syndrome"]
    aliases = [["Marfan syndrome", "MFS"]] * 2
    scores = accuracy_reward(short, answer_letter=[None, None], answer_aliases=aliases)
    assert scores == [1.0, 0.0]


def test_accuracy_reward_cannot_judge_without_reference() -> None:
    assert accuracy_reward([GOOD]) == [None]
    assert accuracy_reward([GOOD], answer_letter=[None], answer_aliases=[[]]) == [None]


def test_format_reward() -> None:
    assert format_reward([GOOD, WRONG, UNFORMATTED]) == [1.0, 1.0, 0.0]


def test_path_faithfulness_reward_is_capped_and_paid_only_when_correct() -> None:
    from kgsynth.dataset.rewards import PATH_FAITHFULNESS_CAP

    paths = [[["Marfan syndrome"], ["TGFBR2"]], [["Marfan syndrome"]], [], [["Marfan syndrome"]]]
    scores = path_faithfulness_reward([GOOD, WRONG, GOOD, GOOD], path_intermediates=paths, answer_letter=["C"] * 4)
    # GOOD names one of two intermediates and is correct: half the cap; WRONG names it but answers wrong: nothing.
    assert scores == [PATH_FAITHFULNESS_CAP * 0.5, 0.0, None, PATH_FAITHFULNESS_CAP]
    assert PATH_FAITHFULNESS_CAP < 1.0  # never worth more than a correct answer
    # No reference answer: correctness cannot be judged, so neither can the faithfulness pay.
    assert path_faithfulness_reward([GOOD], path_intermediates=[[["Marfan syndrome"]]]) == [None]


def test_completion_text_accepts_trl_shapes() -> None:
    assert completion_text("x") == "x"
    assert completion_text([{"role": "assistant", "content": "x"}]) == "x"
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "x"}]}]) == "x"
    with pytest.raises(TypeError):
        completion_text(3)


def test_get_reward_by_name_and_by_dotted_path() -> None:
    assert get_reward("accuracy") is accuracy_reward
    assert get_reward("kgsynth.dataset.rewards.format_reward") is format_reward
    assert get_reward("kgsynth.dataset.rewards:path_faithfulness_reward") is path_faithfulness_reward


@pytest.mark.parametrize("name", ["acuracy", "kgsynth.dataset.rewards.nothing_here", "no_such_module.reward"])
def test_get_reward_unknown_lists_known_names(name: str) -> None:
    with pytest.raises(UnknownNameError) as error:
        get_reward(name)
    assert "accuracy" in str(error.value)
    assert "format" in str(error.value)
