"""The exported `sft` and `grpo` configs go into TRL's trainers as they are.

TRL's own checks and data preparation run on the exported folder: `is_conversational`, SFTTrainer's
tokenisation (input ids, and labels masked to the assistant's turn) and GRPOTrainer's prompt tokenisation and reward
call (kgsynth's rewards receive the dataset's columns). The model is a tiny, randomly initialised
Llama built here with SmolLM2's real tokenizer (from the GGUF in `.models/`, see `ensure_smollm2`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl", reason="the TRL checks need the `train` extra")

from tests.test_export import load_export, make_exported_run

MODELS = Path(".models")
# SmolLM2's ChatML, with the `{% generation %}` markers TRL needs to mask everything but the assistant's turns.
CHATML_FOR_TRAINING = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\n' }}{% else %}{{ message['content'] + '<|im_end|>' + '\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported_run(real_graph, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    return make_exported_run(real_graph, tmp_path_factory.mktemp("export-trl"))


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from transformers import AutoTokenizer

    from kgsynth.models.transformers import ensure_smollm2

    gguf = ensure_smollm2(MODELS)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tok.chat_template = CHATML_FOR_TRAINING
    return tok


def tiny_model(tokenizer: Any) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1)  # fmt: skip
    return LlamaForCausalLM(config)


def test_sft_config_prepared_by_sft_trainer(exported_run, tokenizer, tmp_path: Path) -> None:
    from trl import SFTConfig, SFTTrainer
    from trl.data_utils import is_conversational

    _, folder, _ = exported_run
    sft = load_export(folder, "sft")
    assert set(sft) == {"train", "validation", "test"}
    assert all(is_conversational(row) for row in sft["train"].select(range(10)))
    args = SFTConfig(output_dir=str(tmp_path), assistant_only_loss=True, max_length=1024, report_to="none",
                     use_cpu=True)  # fmt: skip
    trainer = SFTTrainer(model=tiny_model(tokenizer), args=args, train_dataset=sft["train"].select(range(16)),
                         eval_dataset=sft["validation"].select(range(4)), processing_class=tokenizer)  # fmt: skip
    prepared = trainer.train_dataset
    # TRL 1.16 folds the assistant mask into `labels` (-100 outside the assistant's turns).
    assert {"input_ids", "labels"} <= set(prepared.column_names)
    for row, source in zip(prepared, sft["train"].select(range(16)), strict=True):
        mask = [label != -100 for label in row["labels"]]
        assert len(mask) == len(row["input_ids"]) and 0 < sum(mask) < len(mask)
        # The trained tokens are the assistant's turn: its think block and final answer line.
        taught = tokenizer.decode([t for t, m in zip(row["input_ids"], mask, strict=True) if m])
        assert taught.startswith("<think>") and source["messages"][-1]["content"].splitlines()[-1] in taught
        assert source["messages"][0]["content"][:40] not in taught
    batch = trainer.data_collator([prepared[0], prepared[1]])
    assert {"input_ids", "labels"} <= set(batch)


def test_grpo_config_prepared_by_grpo_trainer(exported_run, tokenizer, tmp_path: Path) -> None:
    from trl import GRPOConfig, GRPOTrainer
    from trl.data_utils import is_conversational

    from kgsynth.dataset.rewards import REWARDS

    _, folder, _ = exported_run
    grpo = load_export(folder, "grpo")
    sft = load_export(folder, "sft")
    assert all(is_conversational(row) for row in grpo["train"].select(range(10)))
    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=4,
                      max_completion_length=8, report_to="none", use_cpu=True)  # fmt: skip
    trainer = GRPOTrainer(model=tiny_model(tokenizer), reward_funcs=list(REWARDS.values()), args=args,
                          train_dataset=grpo["train"], processing_class=tokenizer)  # fmt: skip
    rows = [grpo["train"][k] for k in range(4)]
    prompt_ids, _, _ = trainer._tokenize_prompts([row["prompt"] for row in rows])
    assert len(prompt_ids) == 4 and all(len(ids) > 10 for ids in prompt_ids)
    # The reference answers of the sft config, scored through the trainer with the grpo columns: all correct.
    answers = {row["item_id"]: row["messages"][-1]["content"] for row in sft["train"]}
    completions = [[{"role": "assistant", "content": answers[row["item_id"]]}] for row in rows]
    rewards = trainer._calculate_rewards(rows, [row["prompt"] for row in rows], completions, [[1]] * 4)
    names = list(REWARDS)
    assert rewards[:, names.index("accuracy")].tolist() == [1.0] * 4
    assert rewards[:, names.index("format")].tolist() == [1.0] * 4


def test_sft_prompt_completion_trains_on_the_answer_only_through_the_stock_template(
    exported_run, tmp_path: Path
) -> None:
    """SmolLM2's own chat template (no `{% generation %}` markers, so no `assistant_only_loss`): the sft
    config's `prompt`/`completion` columns make SFTTrainer mask the prompt and train on the answer."""
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from kgsynth.models.transformers import ensure_smollm2

    gguf = ensure_smollm2(MODELS)
    stock = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    assert stock.chat_template and "{% generation %}" not in stock.chat_template
    _, folder, _ = exported_run
    rows = load_export(folder, "sft")["train"].select(range(8))
    assert all(row["prompt"] + row["completion"] == row["messages"] for row in rows)
    args = SFTConfig(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=2, max_length=1024,
                     report_to="none", use_cpu=True, save_strategy="no")  # fmt: skip
    trainer = SFTTrainer(model=tiny_model(stock), args=args, train_dataset=rows, processing_class=stock)
    assert trainer.completion_only_loss
    prepared = trainer.train_dataset
    for k, source in enumerate(rows):
        batch = trainer.data_collator([prepared[k]])
        ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
        taught = stock.decode([t for t, label in zip(ids, labels, strict=True) if label != -100])
        masked = stock.decode([t for t, label in zip(ids, labels, strict=True) if label == -100])
        assert taught.lstrip().startswith("<think>"), taught[:80]
        assert source["completion"][0]["content"].splitlines()[-1] in taught
        assert source["prompt"][-1]["content"][:60] in masked and source["prompt"][-1]["content"][:60] not in taught
    result = trainer.train()
    assert result.global_step == 2 and result.training_loss == result.training_loss  # ran, and not NaN
