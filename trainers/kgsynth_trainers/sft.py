"""`kgsynth train sft`: TRL's SFTTrainer on an export's `sft` config, LoRA (PEFT) or full.

Top to bottom: recipe -> data (checked) -> seed -> tokenizer -> model -> trainer -> train (resuming
from the last checkpoint) -> save (and merge) -> report. The loss covers the assistant's turn only:
the `messages` rows become TRL's prompt-completion rows, whose prompt TRL masks by default.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kgsynth_trainers.data import check_columns, first_rows, load_split, to_prompt_completion
from kgsynth_trainers.model import check_init_from, load_model, load_tokenizer, lora_config, save_merged
from kgsynth_trainers.recipe import Recipe, SFTSection, load_recipe
from kgsynth_trainers.runlog import MetricsCallback, RunSummary, last_checkpoint, write_config, write_report

logger = logging.getLogger(__name__)

MERGED_DIR = "merged"


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

    import torch
    from transformers import set_seed
    from trl import SFTTrainer

    if section.torch_threads:
        torch.set_num_threads(section.torch_threads)
    set_seed(args.seed)
    output_dir = Path(args.output_dir)
    write_config(output_dir, trainer="sft", recipe=recipe)
    tokenizer = load_tokenizer(section)
    model = load_model(section)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=lora_config(section),
        callbacks=[MetricsCallback(output_dir)],
    )
    resume = last_checkpoint(output_dir)
    start_step = int(resume.rsplit("-", 1)[1]) if resume else 0
    if resume:
        logger.info("resuming from %s", resume)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume)
    runtime = time.perf_counter() - started
    trainer.save_model(str(output_dir))
    tokenizer.save_pretrained(str(output_dir))
    saved = ["adapter" if section.lora else "model"]
    if section.lora and section.merge:
        save_merged(trainer.model, tokenizer, output_dir / MERGED_DIR)
        saved.append(f"{MERGED_DIR}/ (merged model)")
    write_report(
        RunSummary(
            trainer="sft",
            title=f"SFT ({'LoRA' if section.lora else 'full'}) on {Path(section.dataset).name}",
            output_dir=output_dir,
            model=section.init_from or section.model,
            dataset=where,
            train_rows=len(dataset),
            start_step=start_step,
            global_step=trainer.state.global_step,
            train_runtime=runtime,
            saved=saved,
        )
    )
    return output_dir
