"""The model and tokenizer a run starts from: a base model (Hub id, folder or GGUF file) or an earlier run.

`init_from` names an earlier run's folder: a saved model is loaded as it is, and so is a LoRA run's
`merged/` copy; a LoRA adapter without one is merged onto the model *its* run started from (read from
its `config.yaml`, down to the recipe's base model), so a chain of LoRA stages (SFT -> GRPO stage 1 ->
stage 2) keeps every earlier stage's weights. The new run trains (a new adapter on) those weights.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kgsynth.errors import KgsynthError
from kgsynth_trainers.recipe import ModelSection

logger = logging.getLogger(__name__)

ADAPTER_CONFIG = "adapter_config.json"
MERGED_DIR = "merged"  # where a LoRA run saves its merged plain model (`merge: true`)
CONFIG_FILE = "config.yaml"  # a run's resolved configuration (kgsynth_trainers.runlog writes it)


def check_init_from(section: ModelSection) -> None:
    """A clear error when `init_from` names no saved model or adapter (checked before anything loads)."""
    if section.init_from is None:
        return
    folder = Path(section.init_from)
    if not ((folder / ADAPTER_CONFIG).is_file() or (folder / "config.json").is_file()):
        raise KgsynthError(
            f"init_from {folder} holds no saved model (config.json) or LoRA adapter ({ADAPTER_CONFIG})",
            hint="point it at the output_dir of a finished kgsynth train run",
        )


def load_tokenizer(section: ModelSection) -> Any:
    """The tokenizer of `init_from` when that run saved one, else the base model's; padding on the left."""
    from transformers import AutoTokenizer

    source = Path(section.init_from) if section.init_from else None
    if source is not None and (source / "tokenizer_config.json").is_file():
        tokenizer = AutoTokenizer.from_pretrained(str(source))
    else:
        tokenizer = AutoTokenizer.from_pretrained(section.model, **_gguf(section))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def _recorded_init_from(run: Path) -> Path | None:
    """What the run in `run` started from, as its `config.yaml` records it (None: the base model)."""
    import yaml

    path = run / CONFIG_FILE
    if not path.is_file():
        return None
    recorded = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("kgsynth", {}).get("init_from")
    return Path(recorded) if recorded else None


def lineage(folder: Path) -> tuple[Path | None, list[Path]]:
    """The saved model a run starting from `folder` loads (None: the recipe's base model), and the LoRA
    adapters to merge onto it, oldest first: an adapter run without `merged/` brings the runs it started
    from along, so no earlier stage's weights are lost."""
    adapters: list[Path] = []
    current: Path | None = folder
    while current is not None:
        if (current / MERGED_DIR / "config.json").is_file():
            return current / MERGED_DIR, adapters[::-1]
        if not (current / ADAPTER_CONFIG).is_file():
            return current, adapters[::-1]
        adapters.append(current)
        current = _recorded_init_from(current)
    return None, adapters[::-1]


def load_model(section: ModelSection) -> Any:
    """The causal LM to train: what `init_from` holds (`lineage`: a saved or merged model, or the base
    model with the run's adapters merged in order) or the base model."""
    from transformers import AutoModelForCausalLM

    dtype = _dtype(section.dtype)
    start, adapters = lineage(Path(section.init_from)) if section.init_from else (None, [])
    if start is not None:
        logger.info("starting from the saved model %s", start)
        model = AutoModelForCausalLM.from_pretrained(str(start), dtype=dtype)
    else:
        model = AutoModelForCausalLM.from_pretrained(section.model, dtype=dtype, **_gguf(section))
        if section.gguf_file:
            model = detach_gguf_quantizer(model)
    if adapters:
        from peft import PeftModel

        for adapter in adapters:
            logger.info("merging the adapter of %s", adapter)
            model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    return model


def detach_gguf_quantizer(model: Any) -> Any:
    """The GGUF-loaded `model` as a plain model: its weights were dequantised on load, but it keeps the GGUF
    quantizer, with which transformers' Trainer refuses to train and `save_pretrained` to save."""
    if getattr(model, "hf_quantizer", None) is None:
        return model
    if any(not parameter.dtype.is_floating_point for parameter in model.parameters()):
        raise KgsynthError(
            "the GGUF model kept quantized weights, which cannot be trained",
            hint="convert it to a transformers folder (or use the Hub model) and set model to it",
        )
    model.hf_quantizer = None
    if getattr(model, "is_quantized", False):
        model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model


def lora_config(section: ModelSection) -> Any:
    """PEFT's LoRA configuration from the recipe, or None for full fine-tuning."""
    if not section.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=section.lora_r,
        lora_alpha=section.lora_alpha,
        lora_dropout=section.lora_dropout,
        target_modules=section.lora_target_modules,
        task_type="CAUSAL_LM",
    )


def save_merged(model: Any, tokenizer: Any, folder: Path) -> Path:
    """Merge a PEFT model's adapter into its weights and save a plain model (and tokenizer) in `folder`."""
    merged = model.merge_and_unload() if hasattr(model, "merge_and_unload") else model
    merged.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def _gguf(section: ModelSection) -> dict[str, str]:
    return {"gguf_file": section.gguf_file} if section.gguf_file else {}


def _dtype(name: str) -> Any:
    if name == "auto":
        return "auto"
    import torch

    return getattr(torch, name)
