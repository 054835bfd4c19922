"""Reward functions for GRPO, in TRL's shape: `f(completions, **columns) -> list[float | None]`.

TRL calls each reward with the sampled `completions` (plain strings, or for a conversational
dataset lists of messages whose last one is the assistant's) and every other dataset column as a
keyword argument, one value per completion. `None` means "cannot judge this row". The answer is
parsed by `kgsynth.questions.answers`, the same parser that verified the teacher's chains of thought.

Dataset columns these rewards read:

- `answer_letter` (`str | None`): the proven option letter of a multiple-choice item; None for a
  short-answer item.
- `answer_aliases` (`list[str]`): the proven answer's name and synonyms (short-answer items).
- `path_intermediates` (`list[list[str]]`): the names of each intermediate entity of the evidence
  path (see `kgsynth.questions.faithfulness.intermediate_entities`); path faithfulness is capped at
  `PATH_FAITHFULNESS_CAP` and paid only when the answer is correct.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kgsynth.errors import UnknownNameError
from kgsynth.questions.answers import follows_format, is_correct, reasoning_section
from kgsynth.questions.faithfulness import path_faithfulness

logger = logging.getLogger(__name__)

RewardFunction = Callable[..., list[float | None]]


def completion_text(completion: Any) -> str:
    """The text of one completion, whether TRL passes a string or a list of chat messages."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return _content_text(completion.get("content"))
    if isinstance(completion, Sequence):
        for message in reversed(completion):
            if isinstance(message, Mapping) and message.get("role", "assistant") == "assistant":
                return _content_text(message.get("content"))
    raise TypeError(f"a completion is a string or a list of chat messages, not {type(completion).__name__}")


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    # Multimodal-style content: a list of parts, of which the text parts count.
    return "".join(part.get("text", "") for part in content if isinstance(part, Mapping))


def _column(values: Sequence[Any] | None, size: int) -> Sequence[Any]:
    return values if values is not None else [None] * size


def accuracy_reward(
    completions: Sequence[Any],
    answer_letter: Sequence[str | None] | None = None,
    answer_aliases: Sequence[Sequence[str] | None] | None = None,
    **_: Any,
) -> list[float | None]:
    """1.0 when a completion's final answer is the proven one, 0.0 when not, None without a reference.

    >>> accuracy_reward(["<think>...</think>\\nAnswer: C", "Answer: B"], answer_letter=["C", "C"])
    [1.0, 0.0]
    """
    letters = _column(answer_letter, len(completions))
    aliases = _column(answer_aliases, len(completions))
    rewards: list[float | None] = []
    for completion, letter, names in zip(completions, letters, aliases, strict=True):
        if letter is None and not names:
            rewards.append(None)
            continue
        correct = is_correct(completion_text(completion), letter=letter, aliases=names or ())
        rewards.append(1.0 if correct else 0.0)
    return rewards


def format_reward(completions: Sequence[Any], **_: Any) -> list[float | None]:
    """1.0 when a completion is one `<think>` block then one `Answer:` line, else 0.0.

    >>> format_reward(["<think>FBN1 ...</think>\\nAnswer: C", "C"])
    [1.0, 0.0]
    """
    return [1.0 if follows_format(completion_text(completion)) else 0.0 for completion in completions]


PATH_FAITHFULNESS_CAP = 0.5
"""The most path faithfulness pays: half a correct answer, so naming the path never outweighs answering right."""


def path_faithfulness_reward(
    completions: Sequence[Any],
    path_intermediates: Sequence[Sequence[Sequence[str]] | None] | None = None,
    answer_letter: Sequence[str | None] | None = None,
    answer_aliases: Sequence[Sequence[str] | None] | None = None,
    **_: Any,
) -> list[float | None]:
    """`PATH_FAITHFULNESS_CAP` times the share of the evidence path's intermediate entities the reasoning
    names, paid only when the final answer is correct (0.0 otherwise); None without intermediates or reference.

    Paying faithfulness to a wrong answer would reward reciting the path instead of answering.

    >>> path_faithfulness_reward(["<think>FBN1 causes Marfan syndrome</think>\\nAnswer: A"],
    ...                          path_intermediates=[[["Marfan syndrome"], ["aortic dilatation"]]],
    ...                          answer_letter=["A"])
    [0.25]
    >>> path_faithfulness_reward(["<think>FBN1 causes Marfan syndrome</think>\\nAnswer: B"],
    ...                          path_intermediates=[[["Marfan syndrome"]]], answer_letter=["A"])
    [0.0]
    """
    intermediates = _column(path_intermediates, len(completions))
    correct = accuracy_reward(completions, answer_letter=answer_letter, answer_aliases=answer_aliases)
    rewards: list[float | None] = []
    for completion, groups, right in zip(completions, intermediates, correct, strict=True):
        share = path_faithfulness(reasoning_section(completion_text(completion)), groups or [])
        if share is None or right is None:
            rewards.append(None)
        else:
            rewards.append(PATH_FAITHFULNESS_CAP * share if right == 1.0 else 0.0)
    return rewards


REWARDS: dict[str, RewardFunction] = {
    "accuracy": accuracy_reward,
    "format": format_reward,
    "path_faithfulness": path_faithfulness_reward,
}


def get_reward(name: str) -> RewardFunction:
    """The reward function called `name` in `REWARDS`, or one given by a dotted path.

    A dotted path (`package.module.function` or `package.module:function`) lets a recipe use a
    reward defined outside kgsynth.

    >>> get_reward("accuracy") is accuracy_reward
    True
    >>> get_reward("kgsynth.dataset.rewards.format_reward") is format_reward
    True
    """
    if name in REWARDS:
        return REWARDS[name]
    if "." in name or ":" in name:
        module_name, _, attribute = name.replace(":", ".").rpartition(".")
        try:
            module = importlib.import_module(module_name)
            function = getattr(module, attribute)
        except (ImportError, AttributeError) as error:
            logger.debug("cannot import reward %s: %s", name, error)
        else:
            if callable(function):
                return function
    raise UnknownNameError("reward", name, list(REWARDS))
