"""Benchmark: step time of kgsynth's SFT trainer over a bare TRL script, same tiny model and data, one run.

    python bench/bench_trainers.py [--steps 10] [--repeats 2] [--dataset EXPORT_DIR]

The model is a tiny randomly initialised Llama (2 layers, hidden 64) with SmolLM2's tokenizer (from the
GGUF in `.models/`); the data is an export of 60 items of the default KG (made in a temporary folder
unless --dataset names one). Both sides train LoRA for `--steps` steps with the same SFTConfig:

1. kgsynth: `kgsynth_trainers.sft.train` from `trainers/recipes/smollm2-135m/sft_lora.yaml` with overrides
   (recipe check, data check, metrics callback, resolved config, report and curves included);
2. bare TRL: the same rows as prompt-completion, `SFTTrainer(...).train()`, nothing else.

Runs alternate (bare, kgsynth, bare, kgsynth, ...) after a warm-up, on one torch thread. Prints the
step time of each (the Trainer's own `train_runtime` / steps, the best of the repeats), the end-to-end
wall time of each call, and the overhead ratios. Target: step-time overhead <= 5%.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def make_tiny_model(folder: Path) -> Path:
    from kgsynth_trainers.testing import save_tiny_llama

    return save_tiny_llama(folder, models=REPO / ".models")


def make_dataset(root: Path) -> Path:
    from kgsynth.dataset.decontam import DecontamConfig
    from kgsynth.dataset.export import ExportConfig, export_run
    from kgsynth.graph.assemble import load_graph
    from kgsynth.run.generate import GenerateConfig, generate

    config = GenerateConfig(n=60, hops=2, seed=5, types=["chain", "vignette"], formats=["mcq", "short"])
    generate(load_graph(), config, root / "run", compare_uniform=False)
    export_run(root / "run", root / "export", config=ExportConfig(decontam=DecontamConfig(shared=False)))
    return root / "export"


def overrides(model: Path, data: Path, out: Path, steps: int) -> list[str]:
    return [f"model={model}", "gguf_file=null", f"dataset={data}", f"output_dir={out}", f"max_steps={steps}",
            "torch_threads=1", "logging_steps=1", f"save_steps={steps}", "per_device_train_batch_size=2",
            "max_length=1024"]  # fmt: skip


def run_kgsynth(model: Path, data: Path, out: Path, steps: int) -> tuple[float, float]:
    """(step time from the Trainer's train_runtime, wall time of the whole call)."""
    from kgsynth_trainers.sft import train

    started = time.perf_counter()
    train(REPO / "trainers/recipes/smollm2-135m/sft_lora.yaml", overrides(model, data, out, steps))
    wall = time.perf_counter() - started
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    return last["train_runtime"] / steps, wall


def run_bare(model: Path, data: Path, out: Path, steps: int) -> tuple[float, float]:
    """The same training as a plain TRL script: rows, tokenizer, model, LoRA, SFTTrainer, train, save."""
    import datasets
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from trl import SFTConfig, SFTTrainer

    started = time.perf_counter()
    torch.set_num_threads(1)
    set_seed(0)
    files = sorted(str(p) for p in (data / "data" / "sft").glob("train-*.parquet"))
    rows = datasets.load_dataset("parquet", data_files={"train": files}, split="train")
    rows = rows.map(lambda r: {"prompt": r["messages"][:-1], "completion": r["messages"][-1:]},
                    remove_columns=["messages"])  # fmt: skip
    tokenizer = AutoTokenizer.from_pretrained(str(model))
    tokenizer.padding_side = "left"
    args = SFTConfig(output_dir=str(out), max_steps=steps, per_device_train_batch_size=2, learning_rate=2e-4,
                     lr_scheduler_type="cosine", warmup_steps=2, max_length=1024, logging_steps=1, save_steps=steps,
                     save_total_limit=2, use_cpu=True, report_to="none", seed=0)  # fmt: skip
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(str(model)), args=args, train_dataset=rows,
                         processing_class=tokenizer, peft_config=lora)  # fmt: skip
    result = trainer.train()
    trainer.save_model(str(out))
    return result.metrics["train_runtime"] / steps, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--dataset", type=Path, default=None)
    options = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = make_tiny_model(root / "tiny")
        data = options.dataset or make_dataset(root)
        run_bare(model, data, root / "warm-up", 2)
        bare: list[tuple[float, float]] = []
        ours: list[tuple[float, float]] = []
        for repeat in range(options.repeats):
            bare.append(run_bare(model, data, root / f"bare-{repeat}", options.steps))
            ours.append(run_kgsynth(model, data, root / f"kgsynth-{repeat}", options.steps))
    best_bare, best_ours = min(s for s, _ in bare), min(s for s, _ in ours)
    wall_bare, wall_ours = statistics.median(w for _, w in bare), statistics.median(w for _, w in ours)
    print(f"steps per run: {options.steps}, repeats: {options.repeats} (alternating), one torch thread")
    print(f"bare TRL      step {best_bare:.3f} s   (runs: {', '.join(f'{s:.3f}' for s, _ in bare)})"
          f"   wall per call {wall_bare:.1f} s")  # fmt: skip
    print(f"kgsynth sft   step {best_ours:.3f} s   (runs: {', '.join(f'{s:.3f}' for s, _ in ours)})"
          f"   wall per call {wall_ours:.1f} s")  # fmt: skip
    ratio = best_ours / best_bare
    print(f"step-time ratio kgsynth/bare: {ratio:.3f} (overhead {100 * (ratio - 1):+.1f}%; target <= +5%)")
    print(f"wall-time ratio kgsynth/bare: {wall_ours / wall_bare:.3f} (recipe, checks, config, report and curves)")


if __name__ == "__main__":
    main()
