"""`kgsynth train sft`: TRL's SFTTrainer on an export's `sft` config, LoRA (PEFT) or full.

Top to bottom: recipe -> data (checked) -> seed -> tokenizer -> model -> trainer -> train (resuming
from the last checkpoint) -> save (and merge) -> report. The loss covers the assistant's turn only:
the `messages` rows become TRL's prompt-completion rows, whose prompt TRL masks by default.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kgsynth_trainers.data import check_columns, first_rows, load_split, to_prompt_completion
from kgsynth_trainers.model import check_init_from, lora_config
from kgsynth_trainers.recipe import Recipe, SFTSection, load_recipe
from kgsynth_trainers.runlog import MetricsCallback, start_run, train_and_report

logger = logging.getLogger(__name__)


def read_sft_recipe(path: Path, overrides: Sequence[str] = ()) -> Recipe[SFTSection, Any]:
    """The SFT recipe at `path`, checked against `SFTConfig` and `SFTSection`."""
    from trl import SFTConfig

    return load_recipe(path, overrides=overrides, section=SFTSection, config=SFTConfig)


def train(recipe_path: Path, overrides: Sequence[str] = ()) -> Path:
    """Run the SFT recipe at `recipe_path` (with `key=value` overrides); returns its output folder."""
    recipe = read_sft_recipe(Path(recipe_path), overrides)
    section, args = recipe.kgsynth, recipe.trl
    rows = load_split(section, config=section.dataset_config, split=section.dataset_split)
    where = f"{section.dataset} ({section.dataset_config}/{section.dataset_split})"
    check_columns(rows, {"messages": "SFTTrainer"}, recipe=recipe.path, where=where)
    check_init_from(section)
    dataset = to_prompt_completion(first_rows(rows, section.max_train_samples))

    from trl import SFTTrainer

    output_dir, tokenizer, model = start_run(recipe, trainer="sft")
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=lora_config(section),
        callbacks=[MetricsCallback(output_dir)],
    )
    return train_and_report(
        trainer,
        section,
        name="sft",
        title=f"SFT ({'LoRA' if section.lora else 'full'}) on {Path(section.dataset).name}",
        dataset=where,
        rows=len(dataset),
    )
