"""Commands that make and publish datasets: export, push."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kgsynth.cli.base import app, console, err, user_errors
from kgsynth.cli.options import (
    ConfigOpt,
    _print_export,
    check_out_folder,
)
from kgsynth.errors import KgsynthError


@app.command("export")
@user_errors
def export_cmd(
    run: Annotated[Path, typer.Argument(help="A generate run (the --out folder of kgsynth generate).")],
    out: Annotated[Path, typer.Option("--out", help="The dataset folder to write (an earlier export is replaced).")],
    split_by: Annotated[
        str | None,
        typer.Option(
            help="Splits disjoint by: answer (no held-out key/diagnosis is a train key or hidden entity), path, random",
            show_default=False,
        ),
    ] = None,
    validation_size: Annotated[
        float | None, typer.Option(help="Share of items held out for validation.", show_default=False)
    ] = None,
    test_size: Annotated[
        float | None, typer.Option(help="Share of items held out for test.", show_default=False)
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the split.", show_default=False)] = None,
    benchmark: Annotated[
        list[Path] | None,
        typer.Option(
            "--benchmark",
            help="Also decontaminate against this file (JSON, JSONL, CSV, parquet; repeat).",
            show_default=False,
        ),
    ] = None,
    shared_benchmarks: Annotated[
        bool | None,
        typer.Option(help="Decontaminate against every benchmark in the shared benchmarks folder.", show_default=False),
    ] = None,
    sft_chain: Annotated[
        str | None,
        typer.Option(
            help="sft chain of items without a teacher chain: rationale (templated steps) or path (A → B → C).",
            show_default=False,
        ),
    ] = None,
    allow_empty_split: Annotated[
        bool | None,
        typer.Option(help="Write a split that holds no items rather than stop with an error.", show_default=False),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Export a run as a dataset: sft, grpo and items configs, train/validation/test, deduplicated, decontaminated."""
    from kgsynth.config import build_config
    from kgsynth.dataset.export import ExportConfig, export_run

    _check_benchmark_files(benchmark or [])
    flags = {
        "split": {"split_by": split_by, "validation_size": validation_size, "test_size": test_size, "seed": seed},
        "decontam": {"shared": shared_benchmarks,
                     "benchmarks": [str(p.expanduser().absolute()) for p in benchmark] if benchmark else None},
        "sft_chain": sft_chain,
        "allow_empty_split": allow_empty_split,
    }  # fmt: skip
    check_out_folder(out)
    with err.status("exporting") as status:
        summary = export_run(run, out, config=build_config(ExportConfig, config, flags),
                             progress=lambda step: status.update(f"exporting: {step}"))  # fmt: skip
    _print_export(summary, run, out)


@app.command("push")
@user_errors
def push_cmd(
    directory: Annotated[Path, typer.Argument(help="An exported dataset folder (kgsynth export --out DIR).")],
    repo: Annotated[str, typer.Option("--repo", help="Hub dataset repository ORG/NAME (created if missing).")],
    private: Annotated[bool, typer.Option("--private", help="Create the repository private.")] = False,
) -> None:
    """Push every config, the card and the configuration to the Hugging Face Hub in one commit (token: $HF_TOKEN)."""
    from kgsynth.dataset.hub import push_dataset

    result = push_dataset(directory, repo_id=repo, private=private)
    if not result.changed:
        console.print(f"{result.repo_id} already holds these {len(result.files)} files (commit {result.commit})")
        return
    via = "Xet" if result.xet else "LFS"
    console.print(f"pushed {len(result.files)} files to [bold]{result.repo_id}[/] in commit {result.commit} "
                  f"(large files through {via})")  # fmt: skip
    if result.deleted:
        console.print(f"deleted {len(result.deleted)} files the export no longer has: {', '.join(result.deleted)}",
                      highlight=False, soft_wrap=True)  # fmt: skip
    console.print(result.url, highlight=False, soft_wrap=True)


def _check_benchmark_files(paths: list[Path]) -> None:
    """Before any work: a folder or a missing file is named as the option it came from."""
    for path in paths:
        if not path.is_file():
            what = "a folder" if path.is_dir() else "not a file that exists"
            raise KgsynthError(f"--benchmark {path}: {what}",
                               hint="give a JSON, JSONL, CSV or parquet file of questions (repeat the option for "
                               "several), or --shared-benchmarks for the shared folder")  # fmt: skip
