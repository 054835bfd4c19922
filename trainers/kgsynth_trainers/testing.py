"""A tiny randomly initialised model for the trainers' tests and bench (`bench/bench_trainers.py`), so both
train the same model: a 2-layer Llama (hidden 64) with SmolLM2-135M-Instruct's tokenizer."""

from __future__ import annotations

from pathlib import Path


def save_tiny_llama(folder: Path, *, models: Path) -> Path:
    """Save the tiny Llama (seeded, so the same weights every time) and SmolLM2's tokenizer (fetched into
    `models` by `kgsynth.models.transformers.ensure_smollm2`) into `folder`; returns `folder`."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from kgsynth.models.transformers import ensure_smollm2

    gguf = ensure_smollm2(models)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder
