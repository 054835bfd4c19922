"""`kgsynth generate`: parse the flags, run the pipeline (`kgsynth.pipeline.make_run`), print what it did."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from kgsynth.cli.base import VerboseOpt, app, console, err, set_verbose, user_errors
from kgsynth.cli.options import (
    _JUDGE_FLAG_NAMES,
    _TEACHER_FLAG_NAMES,
    BackendOpt,
    CacheOpt,
    ConfigOpt,
    FromOpt,
    GraphOpt,
    Neo4jDbOpt,
    Neo4jUriOpt,
    Neo4jUserOpt,
    NonCommercialOpt,
    _export,
    _print_counts,
    _split_list,
    graph_flags,
    with_section,
)


@app.command("generate")
@user_errors
def generate_cmd(
    out: Annotated[Path, typer.Option("--out", help="Output folder (JSONL shards, HF dataset, card).")] = Path(
        "out/kgsynth"
    ),
    n: Annotated[int | None, typer.Option("--n", help="Number of items.", show_default=False)] = None,
    hops: Annotated[int | None, typer.Option(help="Hops per question.", show_default=False)] = None,
    types: Annotated[
        list[str] | None,
        typer.Option(
            "--type",
            help="Question types: chain, vignette (repeat or comma-separate).",
            show_default=False,
        ),
    ] = None,
    formats: Annotated[
        list[str] | None,
        typer.Option("--format", help="Answer formats: mcq, short (repeat or comma-separate).", show_default=False),
    ] = None,
    options: Annotated[int | None, typer.Option(help="Options per multiple-choice item.", show_default=False)] = None,
    context: Annotated[
        str | None,
        typer.Option(
            "--context",
            help="none (closed-book) or facts: the prompt lists the evidence path's edges and one decoy chain per "
            "distractor (chain items only; see docs/generate.md).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="Random seed: same seed, same KG -> byte-identical output.", show_default=False),
    ] = None,
    layperson: Annotated[
        float | None,
        typer.Option(help="Share of vignette findings worded in layperson terms.", show_default=False),
    ] = None,
    rarity_alpha: Annotated[
        float | None, typer.Option(help="Rarity bias of start entities, 0 = uniform.", show_default=False)
    ] = None,
    hub_cap: Annotated[
        int | None,
        typer.Option(help="Walks avoid intermediate nodes of higher degree.", show_default=False),
    ] = None,
    graph_name: GraphOpt = None,
    backend: BackendOpt = None,
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema",
            help="Graph schema: a shipped name or the path of your own YAML for your own graph "
            "(categories, predicates with their phrases, metapaths; see graph_schemas/).",
            show_default=False,
        ),
    ] = None,
    symptomatic_indications: Annotated[
        bool | None,
        typer.Option(
            "--symptomatic-indications/--no-symptomatic-indications",
            help="Also walk symptomatic indications as 'treats' (default: disease-modifying only).",
            show_default=False,
        ),
    ] = None,
    max_diagnosis_share: Annotated[
        float | None, typer.Option(help="Cap: one diagnosis's share of the vignettes.", show_default=False)
    ] = None,
    max_key_share: Annotated[
        float | None, typer.Option(help="Cap: one key's share of the items.", show_default=False)
    ] = None,
    focus: Annotated[
        Path | None,
        typer.Option(
            "--focus",
            help="Weight sampling toward what a policy fails: a focus file written by `kgsynth focus`.",
            show_default=False,
        ),
    ] = None,
    neo4j_uri: Neo4jUriOpt = None,
    neo4j_user: Neo4jUserOpt = None,
    neo4j_database: Neo4jDbOpt = None,
    sources: Annotated[
        list[str] | None,
        typer.Option("--source", help="Sources of the graph (default: the default KG).", show_default=False),
    ] = None,
    from_: FromOpt = None,
    include_non_commercial: NonCommercialOpt = None,
    cache_dir: CacheOpt = None,
    compare_uniform: Annotated[
        bool | None,
        typer.Option(
            help="Also count rare coverage under uniform start sampling (for the summary).",
            show_default=False,
        ),
    ] = None,
    teacher: Annotated[
        str | None,
        typer.Option(
            help="Distil chains of thought: openai (any OpenAI-compatible server), local or vllm.",
            rich_help_panel="Teacher",
        ),
    ] = None,
    teacher_model: Annotated[
        str | None,
        typer.Option(
            help="Model name sent to the server (default: the model path, or the backend's name).",
            rich_help_panel="Teacher",
        ),
    ] = None,
    teacher_base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible endpoint (default: OpenAI).", rich_help_panel="Teacher")
    ] = None,
    teacher_api_key_env: Annotated[
        str | None,
        typer.Option(help="Environment variable holding the API key.", rich_help_panel="Teacher"),
    ] = None,
    teacher_model_path: Annotated[
        str | None,
        typer.Option(help="local: model folder or .gguf file; vllm: model id/path.", rich_help_panel="Teacher"),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Requests in flight at most.", rich_help_panel="Teacher")
    ] = None,
    samples: Annotated[
        int | None, typer.Option(help="Completions drawn per item at most.", rich_help_panel="Teacher")
    ] = None,
    keep: Annotated[str | None, typer.Option(help="first or all verified chains.", rich_help_panel="Teacher")] = None,
    grounding: Annotated[
        str | None,
        typer.Option(help="path: show the teacher the evidence path; none.", rich_help_panel="Teacher"),
    ] = None,
    temperature: Annotated[float | None, typer.Option(rich_help_panel="Teacher")] = None,
    max_tokens: Annotated[
        int | None, typer.Option(help="Completion tokens per request.", rich_help_panel="Teacher")
    ] = None,
    request_timeout: Annotated[
        float | None, typer.Option(help="Seconds per request.", rich_help_panel="Teacher")
    ] = None,
    max_retries: Annotated[int | None, typer.Option(rich_help_panel="Teacher")] = None,
    max_requests: Annotated[
        int | None, typer.Option(help="Budget: requests this run may send.", rich_help_panel="Teacher")
    ] = None,
    max_total_tokens: Annotated[
        int | None, typer.Option(help="Budget: tokens this run may use.", rich_help_panel="Teacher")
    ] = None,
    judge: Annotated[
        str | None,
        typer.Option(
            help="Drop items a model finds a distractor correct in: openai, local or vllm (see docs/generate.md).",
            rich_help_panel="Judge",
            show_default=False,
        ),
    ] = None,
    judge_model: Annotated[
        str | None, typer.Option(help="Model name sent to the server.", rich_help_panel="Judge", show_default=False)
    ] = None,
    judge_base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible endpoint (default: OpenAI).", rich_help_panel="Judge")
    ] = None,
    judge_api_key_env: Annotated[
        str | None,
        typer.Option(help="Environment variable holding the API key.", rich_help_panel="Judge", show_default=False),
    ] = None,
    judge_model_path: Annotated[
        str | None,
        typer.Option(help="local: model folder or .gguf file; vllm: model id/path.", rich_help_panel="Judge"),
    ] = None,
    judge_k: Annotated[int | None, typer.Option(help="Samples per item at most.", rich_help_panel="Judge")] = None,
    judge_m: Annotated[
        int | None,
        typer.Option(
            help="Drop an item whose distractors are accepted in at least M samples.", rich_help_panel="Judge"
        ),
    ] = None,
    judge_max_requests: Annotated[
        int | None, typer.Option(help="Budget: judge requests this run may send.", rich_help_panel="Judge")
    ] = None,
    allow_incomplete: Annotated[
        bool,
        typer.Option(
            "--allow-incomplete",
            help="Exit 0 even if some items are left incomplete (retries or budget spent).",
            rich_help_panel="Teacher",
        ),
    ] = False,
    export: Annotated[
        Path | None,
        typer.Option("--export", help="Then export the run with default options (see `kgsynth export`) here."),
    ] = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Generate verifiable multi-hop questions, each with its proof and evidence path.

    The run's configuration is written to OUT/config.yaml: `kgsynth generate --config OUT/config.yaml --out NEW`
    replays it byte for byte.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from kgsynth.config import CONFIG_FILE, RunConfig, read_config_file, validate_config, write_config
    from kgsynth.dataset.export import export_hf
    from kgsynth.graph.open import open_graph
    from kgsynth.graph.schema import load_schema
    from kgsynth.run.generate import generate
    from kgsynth.run.journal import lock_run_dir, read_run_items

    # Connection options serve whichever model-backed steps run (the judge's and the teacher's).
    connection = {"concurrency": concurrency, "timeout": request_timeout, "max_retries": max_retries}
    teacher_flags = {
        "backend": teacher, "model": teacher_model, "base_url": teacher_base_url, "api_key_env": teacher_api_key_env,
        "model_path": teacher_model_path, "samples": samples, "keep": keep, "grounding": grounding,
        "temperature": temperature, "max_tokens": max_tokens, "max_requests": max_requests,
        "max_total_tokens": max_total_tokens, "seed": seed,
    }  # fmt: skip
    judge_flags = {
        "backend": judge, "model": judge_model, "base_url": judge_base_url, "api_key_env": judge_api_key_env,
        "model_path": judge_model_path, "k": judge_k, "m": judge_m, "max_requests": judge_max_requests, "seed": seed,
    }  # fmt: skip
    flags = {
        "graph": graph_flags(sources, from_, include_non_commercial=include_non_commercial, name=graph_name,
                             backend=backend, cache_dir=cache_dir, neo4j_uri=neo4j_uri, neo4j_user=neo4j_user,
                             neo4j_database=neo4j_database),
        "generate": {"n": n, "hops": hops, "types": _split_list(types), "formats": _split_list(formats),
                     "options": options, "context": context, "seed": seed, "layperson": layperson,
                     "hub_cap": hub_cap,
                     "rarity": {"alpha": rarity_alpha}, "schema_name": schema,
                     "symptomatic_indications": symptomatic_indications,
                     "max_diagnosis_share": max_diagnosis_share, "max_key_share": max_key_share,
                     "focus": focus},
        "compare_uniform": compare_uniform,
    }  # fmt: skip
    data = read_config_file(config) if config is not None else {}
    judging = judge is not None or data.get("judge") is not None
    teaching = teacher is not None or data.get("teacher") is not None
    data = with_section(data, "teacher", teacher_flags | (connection if teaching or not judging else {}),
                        _TEACHER_FLAG_NAMES)  # fmt: skip
    data = with_section(data, "judge", judge_flags | (connection if judging else {}), _JUDGE_FLAG_NAMES)
    cfg = validate_config(RunConfig, data, flags, config)
    set_verbose(verbose)
    load_schema(cfg.generate.schema_name)  # a bad schema file is reported before the graph is loaded
    if cfg.generate.focus is not None:
        from kgsynth.run.focus import read_focus

        read_focus(cfg.generate.focus)  # and a bad focus file
    if cfg.teacher is not None or cfg.judge is not None:
        from kgsynth.models.config import check_model

        for flag, step in (("--judge", cfg.judge), ("--teacher", cfg.teacher)):
            if step is not None:
                check_model(step, flag=flag)  # extras, key and server, before any work
    with lock_run_dir(out):  # held through the teacher step: a second run into OUT is refused
        graph = open_graph(cfg.graph, progress=True)
        with Progress(
            TextColumn("[bold]generating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err
        ) as bar:
            task = bar.add_task("items", total=cfg.generate.n)
            summary = generate(
                graph,
                cfg.generate,
                out,
                progress=lambda done, total: bar.update(task, completed=done),
                compare_uniform=cfg.compare_uniform,
            )
        export_hf(read_run_items(out), out / "hf")  # the run's flat dataset view
        write_config(cfg, out / CONFIG_FILE)
        _print_summary(summary, out)
        taught = out if cfg.judge is None else _run_judge(out, cfg.judge)
        if cfg.teacher is not None:
            _run_teacher(cfg.teacher, out, taught, allow_incomplete=allow_incomplete)
    if export is not None:
        from kgsynth.dataset.export import ExportConfig

        _export(out, export, ExportConfig())


def _run_teacher(tconfig: Any, out: Path, items_from: Path, *, allow_incomplete: bool) -> None:
    """The teacher step: chains of thought for the items in ``items_from`` (the run, or its judged subset),
    written into ``out``."""
    from kgsynth.run.generate import read_items
    from kgsynth.teacher.run import TRANSIENT_REASONS, TeacherIncomplete, distil

    result = distil(read_items(items_from), tconfig, out, progress=True)
    console.print(
        f"teacher {tconfig.model}: {result.verified:,} verified, {result.rejected:,} rejected, "
        f"{result.incomplete:,} incomplete; {result.requests_sent:,} requests sent, "
        f"{result.cache_hits:,} answered from the cache; reasons: {result.failure_reasons}"
    )
    if result.incomplete and not allow_incomplete:
        raise TeacherIncomplete(
            f"{result.incomplete:,} of {result.items:,} items are incomplete ("
            + ", ".join(f"{r}: {c}" for r, c in result.failure_reasons.items() if r in TRANSIENT_REASONS)
            + ")",
            hint="run the same command again to continue (answered requests are cached), "
            "or pass --allow-incomplete to accept a partial teacher run",
        )


def _run_judge(out: Path, config: Any) -> Path:
    """Judge the run in ``out`` (kgsynth/teacher/judge.py); return the folder of the kept items."""
    from kgsynth.teacher.judge import judge_run

    result = judge_run(out, config)
    console.print(
        f"judge {config.model}: {result.kept:,} kept, {result.dropped:,} dropped, {result.incomplete:,} incomplete "
        f"(re-run to continue); {result.requests_sent:,} requests sent, {result.cache_hits:,} answered from the "
        f"cache; distractor rules accepted: {result.distractor_rules_accepted}; kept items in {out / 'judge'}"
    )
    return out / "judge"


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    console.print(f"[bold]{summary['items']:,} items[/] in {out} ({summary['attempts']:,} attempts)")
    if "focus" in summary:
        console.print(f"sampling focused by {summary['focus']['file']} (sha256 {summary['focus']['sha256'][:12]})")
    _print_counts("items by type / format / hops", "kind", "items", summary["by_type_format_hops"])
    _print_counts("dropped attempts by reason", "reason", "attempts", summary["drop_reasons"])
    console.print("gold letters: " + ", ".join(f"{k} {v}" for k, v in summary["gold_letter_counts"].items()))
    console.print("distractor rules: " + ", ".join(f"{k} {v}" for k, v in summary["distractor_rules"].items()))
    console.print("rarity histogram: " + ", ".join(f"{k}: {v}" for k, v in summary["rarity_histogram"].items()))
    rc = summary["rare_coverage"]
    line = f"rare coverage: {rc['orpha_diseases_covered']:,} distinct ORPHA diseases on evidence paths"
    if "uniform_start_sampling" in rc:
        line += f" (uniform start sampling, same N: {rc['uniform_start_sampling']:,})"
    console.print(line + f"; rare diseases in the KG: {rc['rare_diseases_in_kg']:,}")
    if summary["non_commercial_items"]:
        console.print(f"[red]{summary['non_commercial_items']} items use non-commercial sources[/]")
