"""`kgsynth train grpo`: TRL's GRPOTrainer on an export's `grpo` config with kgsynth's rewards by name.

Stage 1 trains from a base model or an SFT run (`init_from`). Stage 2 (`stage: 2`, `init_from`: the
stage-1 run) first mines the pool with the stage-1 policy (`kgsynth_trainers.mining`), writes every
item's pass rate to `passrates.jsonl`, then trains from the stage-1 checkpoint on the kept items.
A resumed stage 2 reuses its pass rates instead of mining again.

Top to bottom: recipe -> rewards -> data (checked) -> seed -> tokenizer -> model -> (mining) ->
trainer -> train (resuming) -> save (and merge) -> report.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kgsynth.dataset.rewards import RewardFunction, get_reward
from kgsynth.errors import KgsynthError
from kgsynth.run.focus import PASSRATES_FILE, read_pass_rates
from kgsynth_trainers.data import check_columns, first_rows, load_split, reward_columns
from kgsynth_trainers.mining import (
    MiningSettings,
    PassRate,
    accuracy_against_letter_prior,
    item_metadata,
    mine,
    roll_out_transformers,
    roll_out_vllm,
    start_mining_engine,
    vllm_sampling_params,
    write_pass_rates,
)
from kgsynth_trainers.model import check_init_from, lora_config
from kgsynth_trainers.recipe import GRPOSection, Recipe, load_recipe, recipe_error
from kgsynth_trainers.runlog import MERGED_DIR, MetricsCallback, start_run, train_and_report

logger = logging.getLogger(__name__)

MINING_COLUMNS = ("item_id", "type", "hops")


def read_grpo_recipe(path: Path, overrides: Sequence[str] = ()) -> Recipe[GRPOSection, Any]:
    """The GRPO recipe at `path`, checked against `GRPOConfig` and `GRPOSection`."""
    from trl import GRPOConfig

    recipe = load_recipe(path, overrides=overrides, section=GRPOSection, config=GRPOConfig)
    if recipe.kgsynth.stage == 2 and recipe.kgsynth.init_from is None:
        raise recipe_error(recipe.path, "stage 2 trains from the stage-1 run: set init_from (or pass --from DIR)")
    return recipe


def resolve_rewards(recipe: Recipe[GRPOSection, Any]) -> list[RewardFunction]:
    """The recipe's rewards by name (`kgsynth.dataset.rewards`, or a dotted path), as a recipe error when unknown."""
    try:
        return [get_reward(name) for name in recipe.kgsynth.rewards]
    except KgsynthError as error:
        raise recipe_error(recipe.path, f"key 'rewards': {error.message}", hint=error.hint) from None


def mining_settings(recipe: Recipe[GRPOSection, Any]) -> MiningSettings:
    """The recipe's `mining_*` keys (new tokens default to the recipe's `max_completion_length`)."""
    section = recipe.kgsynth
    return MiningSettings(
        k=section.mining_k,
        tau=section.mining_tau,
        confirm_k=section.mining_confirm_k,
        temperature=section.mining_temperature,
        max_new_tokens=section.mining_max_new_tokens or recipe.trl.max_completion_length,
        batch_size=section.mining_batch_size,
        seed=recipe.trl.seed,
    )


def train(recipe_path: Path, overrides: Sequence[str] = ()) -> Path:
    """Run the GRPO recipe at `recipe_path` (with `key=value` overrides); returns its output folder."""
    recipe = read_grpo_recipe(Path(recipe_path), overrides)
    section, args = recipe.kgsynth, recipe.trl
    rewards = resolve_rewards(recipe)
    if section.stage == 2 and section.mining_backend == "vllm":
        vllm_sampling_params(mining_settings(recipe), 1)  # vLLM missing: say so before anything loads
    success = get_reward(section.mining_success_reward) if section.stage == 2 else None
    rows = load_split(section, config=section.dataset_config, split=section.dataset_split)
    where = f"{section.dataset} ({section.dataset_config}/{section.dataset_split})"
    needed = {"prompt": "GRPOTrainer"}
    for name, reward in zip(section.rewards, rewards, strict=True):
        needed |= {column: f"reward {name!r}" for column in reward_columns(reward)}
    if success is not None:
        needed |= {column: f"reward {section.mining_success_reward!r}" for column in reward_columns(success)}
        needed |= {column: "stage-2 mining" for column in MINING_COLUMNS}
    check_columns(rows, needed, recipe=recipe.path, where=where)
    check_init_from(section)
    pool = first_rows(rows, section.mining_max_items if section.stage == 2 else section.max_train_samples)

    from trl import GRPOTrainer

    output_dir, tokenizer, model = start_run(recipe, trainer="grpo")
    extra: dict[str, Any] = {"rewards": ", ".join(section.rewards), "stage": section.stage}
    dataset = pool
    if success is not None:
        rates = _mined(recipe, pool, model=model, tokenizer=tokenizer, reward=success)
        kept = {rate.item_id for rate in rates if rate.kept}
        mean = sum(rate.pass_rate for rate in rates) / len(rates)
        extra["mined"] = (
            f"{len(rates)} items, k={section.mining_k}, tau={section.mining_tau}: {len(kept)} kept "
            f"(mean pass rate {mean:.3f}; `{PASSRATES_FILE}`)"
        )
        against_prior = accuracy_against_letter_prior(rates)
        if against_prior is not None:
            extra["mining accuracy (MCQ rollouts)"] = (
                f"{against_prior[0]:.3f}, letter-prior expectation {against_prior[1]:.3f}"
            )
        if not kept:
            raise KgsynthError(
                f"stage-2 mining kept no item of {len(rates)} (pass rates in {output_dir / PASSRATES_FILE})",
                hint="raise mining_tau, set mining_confirm_k: 0, or mine a larger pool (mining_max_items)",
            )
        dataset = pool.filter(lambda row: row["item_id"] in kept)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=list[Any](rewards),
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=lora_config(section),
        callbacks=[MetricsCallback(output_dir)],
    )
    return train_and_report(
        trainer,
        section,
        name="grpo",
        title=f"GRPO stage {section.stage} ({'LoRA' if section.lora else 'full'}) on {Path(section.dataset).name}",
        dataset=where,
        rows=len(dataset),
        extra=extra,
    )


def _mined(recipe: Recipe[GRPOSection, Any], pool: Any, *, model: Any, tokenizer: Any, reward: Any) -> list[PassRate]:
    """The pool's pass rates: mined with the stage-1 policy, or read back when this run mined them already."""
    section = recipe.kgsynth
    path = Path(recipe.trl.output_dir) / PASSRATES_FILE
    if path.is_file():
        logger.info("reusing the pass rates in %s", path)
        return [PassRate.from_row(row) for row in read_pass_rates(path)]  # the core's reader checks each row
    settings = mining_settings(recipe)
    metadata = {}
    if section.items_config:
        try:
            items = load_split(section, config=section.items_config, split=section.dataset_split)
            metadata = item_metadata(items)
        except KgsynthError as error:
            logger.warning("no item metadata for the pass rates (%s)", error.message)
    if section.mining_backend == "vllm":
        engine = start_mining_engine(_vllm_model_dir(section))
        roll_out = roll_out_vllm(engine, lambda k: vllm_sampling_params(settings, k))
    else:
        roll_out = roll_out_transformers(model, tokenizer, settings)
    rates = mine(list(pool), roll_out=roll_out, reward=reward, settings=settings, metadata=metadata)
    write_pass_rates(path, rates)
    return rates


def _vllm_model_dir(section: GRPOSection) -> str:
    """The plain model vLLM serves for mining: the stage-1 run's model, or its `merged/` copy of an adapter run."""
    folder = Path(section.init_from or section.model)
    if (folder / "config.json").is_file():
        return str(folder)
    if (folder / MERGED_DIR / "config.json").is_file():
        return str(folder / MERGED_DIR)
    raise KgsynthError(
        f"mining_backend: vllm needs a plain model, and {folder} holds a LoRA adapter only",
        hint="run stage 1 with merge: true (it saves merged/), or mine with mining_backend: transformers",
    )
