"""The files every run writes beside its checkpoint, and where a killed run resumes.

- `config.yaml`: the resolved configuration (the recipe's keys, the kgsynth section and every TRL field);
- `metrics.jsonl`: one line per logging step (`MetricsCallback`), kept consistent across a resume;
- `report.md`: what ran, how long a step took, the last loss/reward, and the curves;
- `curves.png`: loss and reward against the step (matplotlib, Agg; the same metrics give the same bytes).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from transformers import TrainerCallback

from kgsynth_trainers.model import CONFIG_FILE, MERGED_DIR, load_model, load_tokenizer, save_merged
from kgsynth_trainers.recipe import ModelSection

logger = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
REPORT_FILE = "report.md"
CURVES_FILE = "curves.png"


def last_checkpoint(output_dir: Path) -> str | None:
    """The newest `checkpoint-N` folder of `output_dir`, or None: where a killed run resumes."""
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None


def start_run(recipe: Any, *, trainer: str) -> tuple[Path, Any, Any]:
    """What every trainer does before it builds its TRL trainer: torch threads and the seed from the recipe,
    the resolved configuration written into `output_dir`, then the tokenizer and the model loaded.
    Returns (output_dir, tokenizer, model)."""
    import torch
    from transformers import set_seed

    section = recipe.kgsynth
    if section.torch_threads:
        torch.set_num_threads(section.torch_threads)
    set_seed(recipe.trl.seed)
    output_dir = Path(recipe.trl.output_dir)
    write_config(output_dir, trainer=trainer, recipe=recipe)
    return output_dir, load_tokenizer(section), load_model(section)


def write_config(output_dir: Path, *, trainer: str, recipe: Any) -> Path:
    """The resolved configuration as YAML: recipe file and keys, the kgsynth section, every TRL field."""
    output_dir.mkdir(parents=True, exist_ok=True)
    resolved = {
        "trainer": trainer,
        "recipe": str(recipe.path),
        "recipe_keys": recipe.values,
        "kgsynth": recipe.kgsynth.model_dump(mode="json"),
        "trl": {"class": type(recipe.trl).__name__, **json.loads(recipe.trl.to_json_string())},
    }
    path = output_dir / CONFIG_FILE
    path.write_text(yaml.safe_dump(resolved, sort_keys=True, allow_unicode=True), encoding="utf-8")
    return path


class MetricsCallback(TrainerCallback):
    """Appends each logging step's metrics to `metrics.jsonl` as one JSON line `{"step": N, ...}`.

    On (re)start the file keeps only the lines up to the step the run resumes from, so a resumed
    run's file reads as one run.
    """

    def __init__(self, output_dir: Path) -> None:
        self.path = output_dir / METRICS_FILE

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        kept = [row for row in read_metrics(self.path) if row.get("step", 0) <= state.global_step]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("".join(json.dumps(row, sort_keys=True) + "\n" for row in kept), encoding="utf-8")

    def on_log(self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        row = {"step": state.global_step, "epoch": state.epoch, **{k: _plain(v) for k, v in logs.items()}}
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row, sort_keys=True) + "\n")


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The rows of a `metrics.jsonl` (none when the file does not exist)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def plot_curves(metrics: Sequence[Mapping[str, Any]], path: Path, *, title: str) -> Path | None:
    """Loss and (for GRPO) reward against the step, as a PNG; None when nothing was logged."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {name: [(row["step"], row[name]) for row in metrics if isinstance(row.get(name), (int, float))]
              for name in ("loss", "reward")}  # fmt: skip
    series = {name: points for name, points in series.items() if points}
    if not series:
        return None
    figure, axes = plt.subplots(1, len(series), figsize=(5 * len(series), 3.2), squeeze=False)
    for axis, (name, points) in zip(axes[0], series.items(), strict=True):
        axis.plot([s for s, _ in points], [v for _, v in points], marker="o", markersize=3)
        axis.set_xlabel("step")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(figure)
    return path


@dataclass
class RunSummary:
    """What `write_report` says about a run."""

    trainer: str
    title: str
    output_dir: Path
    model: str
    dataset: str
    train_rows: int
    start_step: int
    global_step: int
    train_runtime: float
    saved: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def write_report(summary: RunSummary) -> Path:
    """`report.md` and `curves.png` beside the checkpoint, from the run's `metrics.jsonl`."""
    metrics = read_metrics(summary.output_dir / METRICS_FILE)
    curves = plot_curves(metrics, summary.output_dir / CURVES_FILE, title=summary.title)
    steps = summary.global_step - summary.start_step
    per_step = summary.train_runtime / steps if steps else float("nan")
    last = {name: next((row[name] for row in reversed(metrics) if name in row), None)
            for name in ("loss", "reward", "reward_std")}  # fmt: skip
    lines = [
        f"# {summary.title}",
        "",
        f"- trainer: `{summary.trainer}`; model: `{summary.model}`; dataset: `{summary.dataset}` "
        f"({summary.train_rows} training rows)",
        f"- steps: {summary.global_step}"
        + (f" (resumed at step {summary.start_step})" if summary.start_step else "")
        + f"; this session {steps} steps in {summary.train_runtime:.1f} s ({per_step:.2f} s/step)",
        *(f"- last {name}: {value:.4f}" for name, value in last.items() if isinstance(value, (int, float))),
        *(f"- {key}: {value}" for key, value in summary.extra.items()),
        f"- saved: {', '.join(f'`{name}`' for name in summary.saved) or 'nothing'}",
        f"- files: `{CONFIG_FILE}` (resolved configuration), `{METRICS_FILE}` ({len(metrics)} logging steps)",
    ]
    if curves is not None:
        lines += ["", f"![curves]({CURVES_FILE})"]
    path = summary.output_dir / REPORT_FILE
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def train_and_report(
    trainer: Any,
    section: ModelSection,
    *,
    name: str,
    title: str,
    dataset: str,
    rows: int,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Train (from the last checkpoint when there is one), save the model or adapter and the tokenizer, merge
    the adapter on request, and write the report; return the run's folder. Shared by every trainer."""
    output_dir = Path(trainer.args.output_dir)
    tokenizer = trainer.processing_class
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
            trainer=name,
            title=title,
            output_dir=output_dir,
            model=section.init_from or section.model,
            dataset=dataset,
            train_rows=rows,
            start_step=start_step,
            global_step=trainer.state.global_step,
            train_runtime=runtime,
            saved=saved,
            extra=extra or {},
        )
    )
    return output_dir
