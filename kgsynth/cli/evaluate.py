"""Commands after training: audit, train, focus, eval, eval-compare."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from kgsynth.cli.base import app, console, err, user_errors
from kgsynth.cli.options import (
    CacheOpt,
    ConfigOpt,
    FromOpt,
    check_out_folder,
    config_over_file,
    graph_flags,
)
from kgsynth.errors import KgsynthError


@app.command("audit")
@user_errors
def audit_cmd(
    run: Annotated[Path, typer.Argument(help="A generate --out folder.", show_default=False)],
    fail_on: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-on", help="KEY=THRESHOLD: exit 1 when the metric exceeds it (repeatable).", show_default=False
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the audit as JSON.")] = False,
    use_graph: Annotated[
        bool, typer.Option("--graph/--no-graph", help="Open the run's KG for the checks that need it.")
    ] = True,
    write: Annotated[bool, typer.Option(help="Record the audit in the run's summary.json and card.")] = True,
    sources: Annotated[
        list[str] | None, typer.Option("--source", help="Sources of the graph (default: those the run records).")
    ] = None,
    from_: FromOpt = None,
    cache_dir: CacheOpt = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="A YAML config whose graph: section describes the run's graph (default: the run's own config.yaml).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Count the defects code can find in a generated run (raw ids, leaks, synonym distractors, ...)."""
    from kgsynth.run.audit import audit_run, audit_table, exceeded, parse_thresholds

    thresholds = parse_thresholds(fail_on or [])
    graph = _run_graph(run, config, graph_flags(sources, from_, cache_dir=cache_dir)) if use_graph else None
    audit = audit_run(run, graph=graph)
    if write:
        from kgsynth.run.audit import write_audit

        write_audit(run, audit)
    if as_json:
        console.print_json(json.dumps(audit))
    else:
        table = Table(title=f"audit of {run} ({audit['metrics']['items']:,} items)")
        table.add_column("check")
        table.add_column("value", justify="right")
        for key, value in audit_table(audit):
            table.add_row(key, value)
        console.print(table)
        for key, why in audit["skipped"].items():
            console.print(f"[yellow]not checked:[/] {key} ({why})")
    failures = exceeded(audit, thresholds)
    for line in failures:
        err.print(f"[bold red]audit failed:[/] {line}", highlight=False)
    if failures:
        raise typer.Exit(1)


@app.command("train", context_settings={"allow_interspersed_args": True})
@user_errors
def train_cmd(
    name: Annotated[str, typer.Argument(help="Trainer: sft, grpo, or any registered in kgsynth.trainers.")],
    config: Annotated[Path, typer.Option("--config", help="Recipe YAML (trainers/recipes/<model>/<stage>.yaml).")],
    overrides: Annotated[
        list[str] | None, typer.Argument(help="Recipe keys to override, as key=value (e.g. max_steps=10).")
    ] = None,
    stage: Annotated[int | None, typer.Option("--stage", help="grpo: 1, or 2 (mine hard items, then train).")] = None,
    from_: Annotated[
        Path | None, typer.Option("--from", help="Checkpoint to start from (grpo stage 2: the stage-1 run).")
    ] = None,
    merge: Annotated[
        bool | None, typer.Option("--merge/--no-merge", help="Merge a LoRA adapter and save a plain model too.")
    ] = None,
) -> None:
    """Train a model on an exported dataset with a recipe (needs the trainers package: pip install -e trainers/)."""
    from kgsynth.train import get_trainer, recipe_overrides

    trainer = get_trainer(name)
    run = trainer(config, recipe_overrides(overrides or [], stage=stage, init_from=from_, merge=merge))
    console.print(f"[bold]trained[/] {name} -> {run} (report: {run / 'report.md'})")


@app.command("focus")
@user_errors
def focus_cmd(
    passrates: Annotated[Path, typer.Argument(help="passrates.jsonl of a stage-2 run (kgsynth train grpo --stage 2).")],
    out: Annotated[Path, typer.Option("--out", help="The focus file to write (JSON).")] = Path("focus.json"),
    prior_items: Annotated[
        float | None, typer.Option(help="Pseudo-items smoothing each failure rate.", show_default=False)
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Which relations, metapaths, hops, types and rarity bins the policy fails most, as sampling weights."""
    from kgsynth.run.focus import FocusConfig, derive_focus, read_pass_rates, write_focus

    focus_config = config_over_file(FocusConfig, config, {"prior_items": prior_items},
                                    hint="--prior-items is a count of pseudo-items: 0 or more")  # fmt: skip
    if out.is_dir():
        raise KgsynthError(f"--out {out} is a folder", hint="give the focus file's path, e.g. --out focus.json")
    focus = derive_focus(read_pass_rates(passrates), config=focus_config)
    write_focus(focus, out)
    console.print(f"{focus['items']} items, overall failure rate {focus['overall_failure_rate']:.3f} -> {out}")
    for dimension in ("relation", "hops", "rarity_bin"):
        top = ", ".join(f"{g['value']} x{g['weight']:.2f}" for g in focus["groups"][dimension][:3])
        console.print(f"  most failed {dimension}: {top or '-'}", highlight=False, soft_wrap=True)


@app.command("eval")
@user_errors
def eval_cmd(
    model: Annotated[list[str], typer.Option("--model", help="A model folder or .gguf file (repeat to compare).")],
    benchmark: Annotated[
        list[str],
        typer.Option(
            "--benchmark",
            help="medqa, medmcqa, mmlu_medical, pubmedqa; a JSON/JSONL/CSV/parquet file; a generate run; "
            "an export folder DIR[:split] (repeat).",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="The evaluation folder (a rerun resumes from its cache).")],
    max_new_tokens: Annotated[
        int | None, typer.Option(help="Tokens a model may generate per item.", show_default=False)
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Items per set, drawn balanced over gold letters.")] = None,
    seed: Annotated[
        int | None, typer.Option(help="Which items are drawn when --limit is given.", show_default=False)
    ] = None,
    backend: Annotated[str | None, typer.Option(help="transformers (CPU) or vllm (GPU).", show_default=False)] = None,
    scoring: Annotated[
        str | None,
        typer.Option(
            help="generate (completions, judged) or loglik (candidates by log-likelihood).",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Prompts per generate call (unset: 8, vLLM 256).", show_default=False)
    ] = None,
    threads: Annotated[
        int | None, typer.Option(help="torch threads (0: the cores available).", show_default=False)
    ] = None,
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field", help="Where a user file keeps a part: question|options|answer|aliases|id=COLUMN[,...]."
        ),
    ] = None,
    answer_index_base: Annotated[
        int | None, typer.Option(help="Read a numeric answer in a user file as an option index from 0 or 1.")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Evaluate models on benchmarks and kgsynth sets, scored by the rewards' answer judge."""
    from kgsynth.eval.backends import evaluate_models
    from kgsynth.eval.benchmarks import FieldMap, parse_field_overrides
    from kgsynth.eval.evaluate import EvalConfig

    given = {"backend": backend, "max_new_tokens": max_new_tokens, "limit": limit, "seed": seed,
             "batch_size": batch_size, "threads": threads, "scoring": scoring}  # fmt: skip
    eval_config = config_over_file(EvalConfig, config, given,
                                   hint="see `kgsynth eval --help` for each option's valid values")  # fmt: skip
    check_out_folder(out)
    fields = FieldMap(**parse_field_overrides(field or []), answer_index_base=answer_index_base)
    with _evaluating() as show:
        summary = evaluate_models(model, benchmark, out, config=eval_config, fields=fields, progress=show)
    _print_results(summary, out)


@app.command("eval-compare")
@user_errors
def eval_compare_cmd(
    directories: Annotated[list[Path], typer.Argument(help="kgsynth eval --out folders.")],
    out: Annotated[Path, typer.Option("--out", help="Where the merged table, summary and figure go.")],
    bootstrap: Annotated[int | None, typer.Option(help="Paired bootstrap resamples (default 2000).")] = None,
    seed: Annotated[int | None, typer.Option(help="The paired bootstrap's seed (default 0).")] = None,
) -> None:
    """Put the results of several evaluations (models, checkpoints) in one table, and compare each later folder's
    results with the first's on the same items (paired.json, paired.md)."""
    from kgsynth.eval.evaluate import compare
    from kgsynth.eval.paired import CompareConfig, write_paired

    check_out_folder(out)
    try:
        config = CompareConfig(**{k: v for k, v in {"bootstrap": bootstrap, "seed": seed}.items() if v is not None})
    except ValueError as exc:
        raise KgsynthError(f"invalid eval-compare options: {exc}") from None
    summary = compare(directories, out)
    rows = write_paired(directories, out, config=config)
    if summary.get("scoring") == "loglik":
        _print_loglik(summary, out)
    else:
        _print_eval(summary, out)
    if rows:
        _print_paired(rows, out)


def _print_eval(summary: dict[str, Any], out: Path) -> None:
    t = Table(title="accuracy (95% Wilson interval) and the letter-prior expectation")
    for col in ("model", "set", "n", "accuracy %", "95% CI", "letter prior %", "strict format %", "predicted"):
        t.add_column(col)
    for r in summary["results"]:
        low, high = r["ci95"]
        prior = "-" if r["letter_prior"] is None else f"{100 * r['letter_prior']:.1f}"
        predicted = " ".join(f"{k}{v}" for k, v in r["predicted"].items()) or "-"
        t.add_row(r["model"], r["set"], str(r["n"]), f"{100 * (r['accuracy'] or 0):.1f}",
                  f"{100 * low:.1f}-{100 * high:.1f}", prior, f"{100 * (r['strict_format'] or 0):.1f}",
                  predicted)  # fmt: skip
    console.print(t)
    console.print(f"results in {out} (summary.json, results.md, results.png)", highlight=False, soft_wrap=True)


def _print_loglik(summary: dict[str, Any], out: Path) -> None:
    from kgsynth.eval.loglik import COLUMNS, table_rows

    t = Table(title="log-likelihood scoring: acc and acc_norm (95% Wilson intervals)")
    for col in COLUMNS:
        t.add_column(col)
    for row in table_rows(summary):
        t.add_row(*row)
    console.print(t)
    console.print(f"results in {out} (summary.json, results.md, items/)", highlight=False, soft_wrap=True)


def _print_paired(rows: list[dict[str, Any]], out: Path) -> None:
    t = Table(title="paired: B against A on the same items")
    for col in ("set", "query", "A", "B", "n", "B - A points [95% CI]", "wins/losses", "McNemar p", "margin B - A"):
        t.add_column(col)
    for r in rows:
        low, high = r["diff_ci95"]
        margin = f"{r['margin_diff']:+.3f}" if "margin_diff" in r else "-"
        t.add_row(r["set"], r["query"], r["a"], r["b"], str(r["n"]),
                  f"{100 * r['diff']:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]", f"{r['wins']}/{r['losses']}",
                  f"{r['mcnemar_p']:.3g}", margin)  # fmt: skip
    console.print(t)
    console.print(f"paired statistics in {out} (paired.json, paired.md)", highlight=False, soft_wrap=True)


def _run_graph(run: Path, config: Path | None, flags: dict[str, Any]) -> Any:
    """The graph a run was generated on: the graph section of ``config`` (default: the run's own config.yaml,
    else the sources its config.json records), with the graph flags over it."""
    from kgsynth.config import RunConfig, merge, read_config_file, validate_config
    from kgsynth.graph.open import open_graph
    from kgsynth.run.audit import read_run_config, run_sources
    from kgsynth.run.layout import RUN_CONFIG

    recorded, non_commercial = run_sources(read_run_config(run))
    written = config or run / RUN_CONFIG  # the graph's description: given, or the run's own
    data = read_config_file(written) if written.exists() else {}
    base = merge({}, {"graph": data.get("graph") or {"sources": recorded, "include_non_commercial": non_commercial}})
    return open_graph(validate_config(RunConfig, base, {"graph": flags}, written if data else None).graph,
                      progress=True)  # fmt: skip


def _print_results(summary: dict[str, Any], out: Path) -> None:
    for t in json.loads((out / "timings.json").read_text(encoding="utf-8")):
        console.print(f"{t['model']} on {t['set']}: {t['items']} items, {t['generated']} generated, "
                      f"{t['from_cache']} from the cache, {t['seconds']} s generating", highlight=False)  # fmt: skip
    if summary.get("scoring") == "loglik":
        _print_loglik(summary, out)
    else:
        _print_eval(summary, out)


@contextmanager
def _evaluating() -> Iterator[Callable[[str, str, int, int], None]]:
    """A transient progress bar over the items each model answers, per set."""
    from rich.progress import Progress

    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("evaluating", total=None)

        def show(label: str, name: str, done: int, total: int) -> None:
            bar.update(task, description=f"{label} on {name}", completed=done, total=total)

        yield show
