"""The training data: one config and split of a kgsynth export (a folder or a Hub dataset), checked.

A local export is read straight from its parquet files (`data/<config>/<split>-*.parquet`, the layout
`kgsynth export` writes), so no cache keyed by folder name can serve another folder's rows.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgsynth.errors import KgsynthError
from kgsynth.run.layout import DATA
from kgsynth_trainers.recipe import ModelSection, recipe_error

if TYPE_CHECKING:
    import datasets

logger = logging.getLogger(__name__)

# What TRL passes every reward besides the dataset's columns.
TRL_REWARD_ARGUMENTS = frozenset(
    {"prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric"}
)


def load_split(section: ModelSection, *, config: str, split: str) -> datasets.Dataset:
    """Rows of `config`/`split` of the recipe's dataset (an export folder or a Hub id)."""
    import datasets

    folder = Path(section.dataset)
    if folder.is_dir():
        files = sorted((folder / DATA / config).glob(f"{split}-*.parquet"))
        if not files:
            found = sorted(f"{p.parent.name}/{p.name.split('-')[0]}" for p in folder.glob("data/*/*.parquet"))
            raise KgsynthError(
                f"dataset {folder} has no config/split {config}/{split}",
                hint=f"found: {', '.join(found) or 'no data/<config>/<split>-*.parquet files'}; "
                "point `dataset` at a `kgsynth export --out` folder",
            )
        return datasets.load_dataset("parquet", data_files={split: [str(f) for f in files]}, split=split)
    if not _looks_like_hub_id(section.dataset):
        what = "is a file, not a folder" if Path(section.dataset).is_file() else "does not exist"
        raise KgsynthError(f"dataset {section.dataset} {what}", hint="an export folder or a Hub id ORG/NAME")
    try:
        return datasets.load_dataset(section.dataset, config, split=split)
    except Exception as error:  # datasets raises many kinds (not found, offline, bad config)
        raise KgsynthError(f"dataset {section.dataset} ({config}/{split}) cannot be loaded: {error}") from None


def _looks_like_hub_id(name: str) -> bool:
    return name.count("/") == 1 and not name.startswith((".", "/"))


def reward_columns(reward: Callable[..., Any]) -> list[str]:
    """The dataset columns a TRL-style reward reads: its named parameters besides TRL's own arguments.

    >>> from kgsynth.dataset.rewards import accuracy_reward
    >>> reward_columns(accuracy_reward)
    ['answer_letter', 'answer_aliases']
    """
    parameters = inspect.signature(reward).parameters.values()
    return [
        p.name
        for p in parameters
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in TRL_REWARD_ARGUMENTS
    ]


def check_columns(dataset: datasets.Dataset, needed: Mapping[str, str], *, recipe: Path, where: str) -> None:
    """A clear error naming each column in `needed` (column -> who needs it) that `dataset` lacks."""
    missing = [f"{column!r} (read by {reader})" for column, reader in needed.items()
               if column not in dataset.column_names]  # fmt: skip
    if missing:
        raise recipe_error(
            recipe,
            f"dataset {where} lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            f"it has {', '.join(dataset.column_names)}",
            hint="export the run with `kgsynth export` (its configs carry these columns), or change the recipe",
        )


def to_prompt_completion(dataset: datasets.Dataset) -> datasets.Dataset:
    """The `messages` rows as TRL's conversational prompt-completion rows (the last, assistant, turn apart).

    TRL then computes the loss on the completion only, whatever the chat template: SmolLM2's has no
    `{% generation %}` markers, which `assistant_only_loss` would need.
    """

    def split_turns(row: dict[str, Any]) -> dict[str, Any]:
        messages = row["messages"]
        if not messages or messages[-1]["role"] != "assistant":
            raise KgsynthError(f"sft row {row.get('item_id')!r}: the last message is not the assistant's")
        return {"prompt": messages[:-1], "completion": [messages[-1]]}

    return dataset.map(split_turns, remove_columns=["messages"], desc="prompt-completion")


def first_rows(dataset: datasets.Dataset, count: int | None) -> datasets.Dataset:
    """The first `count` rows (all when None)."""
    return dataset if count is None or count >= len(dataset) else dataset.select(range(count))
