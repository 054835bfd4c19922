"""The ``kgsynth`` command line. Heavy imports stay inside commands so that ``--help`` answers instantly."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from kgsynth.errors import KgsynthError

if TYPE_CHECKING:
    from kgsynth.model import Graph

app = typer.Typer(
    name="kgsynth",
    help="Turn medical knowledge graphs into verifiable reasoning data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)
logger = logging.getLogger("kgsynth")

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(fn: F) -> F:
    """Report a :class:`KgsynthError` as a message and a non-zero exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KgsynthError as exc:
            err.print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
            if exc.hint:
                err.print(f"[yellow]hint:[/] {exc.hint}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted; what was written so far is intact, re-run to continue")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def parse_from(values: list[str] | None) -> dict[str, Path]:
    """``["hpo=/data/hpo-2026"]`` -> ``{"hpo": Path("/data/hpo-2026")}``."""
    out: dict[str, Path] = {}
    for v in values or []:
        name, sep, path = v.partition("=")
        if not sep or not name or not path:
            raise KgsynthError(f"--from {v!r}: expected SOURCE=DIR", hint="e.g. --from hpo=/data/hpo-2026-01")
        out[name] = Path(path)
    return out


def graph_from_sources(
    sources: list[str] | None,
    from_: list[str] | None,
    include_non_commercial: bool,
    cache_dir: Path | None,
    **options: Any,
) -> Graph:
    """The graph the source options name (the default KG if none), from the cache when current."""
    from kgsynth.assemble import load_graph

    return load_graph(
        sources,
        directories=parse_from(from_),
        include_non_commercial=include_non_commercial,
        cache_dir=cache_dir,
        progress=True,
        **options,
    )


SourcesArg = Annotated[
    list[str] | None,
    typer.Argument(help="Sources to load (default: the default KG 'med').", show_default=False),
]
FromOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--from",
        help="SOURCE=DIR: read a source's files from DIR (e.g. a newer release).",
        show_default=False,
    ),
]
NonCommercialOpt = Annotated[
    bool,
    typer.Option("--include-non-commercial", help="Add opt-in non-commercial sources (SIDER) to the default KG."),
]
CacheOpt = Annotated[
    Path | None, typer.Option("--cache-dir", help="Where graphs are cached (default ~/.cache/kgsynth).")
]
Neo4jUriOpt = Annotated[
    str | None,
    typer.Option("--neo4j-uri", help="Bolt URI (default $NEO4J_URI); the password comes from $NEO4J_PASSWORD only.",
                 rich_help_panel="Neo4j"),
]  # fmt: skip
Neo4jUserOpt = Annotated[str | None, typer.Option("--neo4j-user", help="Default $NEO4J_USER.", rich_help_panel="Neo4j")]
Neo4jDbOpt = Annotated[
    str | None, typer.Option("--neo4j-database", help="Default $NEO4J_DATABASE.", rich_help_panel="Neo4j")
]


def open_store(backend: str, cache_dir: Path | None, uri: str | None, user: str | None, database: str | None,
               **options: Any) -> Any:  # fmt: skip
    """The backend with the options that apply to it."""
    from kgsynth.store import get_store

    if backend == "embedded":
        return get_store(backend, **({"root": cache_dir} if cache_dir else {}))
    if backend == "neo4j":
        return get_store(backend, uri=uri, user=user, database=database, **options)
    return get_store(backend)


@app.command("sources")
@user_errors
def sources_cmd() -> None:
    """List the sources that can be loaded, with their licences."""
    from kgsynth.loaders import DEFAULT_SOURCES, available_loaders

    table = Table(title="kgsynth sources")
    for col in ("name", "title", "licence", "in default KG", "default files"):
        table.add_column(col)
    for name, cls in available_loaders().items():
        directory = cls.default_directory()
        where = str(directory) if directory else "(give --from NAME=DIR)"
        if not cls.commercial_use:
            default = "no (opt-in: --include-non-commercial)"
        else:
            default = "yes" if name in DEFAULT_SOURCES else "no"
        table.add_row(name, cls.title, cls.licence, default, where)
    console.print(table)


@app.command("load")
@user_errors
def load_cmd(
    sources: SourcesArg = None,
    from_: FromOpt = None,
    include_non_commercial: NonCommercialOpt = False,
    backend: Annotated[str, typer.Option(help="Where to write the graph: embedded or neo4j.")] = "embedded",
    name: Annotated[str | None, typer.Option(help="Graph name (default: med, or the joined source names).")] = None,
    cache_dir: CacheOpt = None,
    refresh: Annotated[bool, typer.Option(help="Rebuild even if the cache is current.")] = False,
    neo4j_uri: Neo4jUriOpt = None,
    neo4j_user: Neo4jUserOpt = None,
    neo4j_database: Neo4jDbOpt = None,
    batch_size: Annotated[int, typer.Option(help="Rows per UNWIND transaction.", rich_help_panel="Neo4j")] = 10000,
    workers: Annotated[int, typer.Option(help="Parallel write lanes.", rich_help_panel="Neo4j")] = 3,
) -> None:
    """Load sources into one graph and store it in a backend."""

    graph = graph_from_sources(sources, from_, include_non_commercial, cache_dir, name=name, refresh=refresh)
    extra = {"batch_size": batch_size, "workers": workers} if backend == "neo4j" else {}
    store = open_store(backend, cache_dir, neo4j_uri, neo4j_user, neo4j_database, **extra)
    written = store.write(graph)
    console.print(
        f"loaded [bold]{graph.name}[/] (version {graph.version}): {graph.num_nodes:,} nodes, "
        f"{graph.num_edges:,} edges -> {backend} {written.get('path', '')}"
    )
    if graph.non_commercial_sources():
        console.print(f"[yellow]non-commercial sources included: {', '.join(graph.non_commercial_sources())}[/]")


@app.command("stats")
@user_errors
def stats_cmd(
    sources: SourcesArg = None,
    from_: FromOpt = None,
    include_non_commercial: NonCommercialOpt = False,
    schema: Annotated[str, typer.Option(help="Graph schema whose metapaths are counted.")] = "med",
    cache_dir: CacheOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the statistics as JSON.")] = False,
) -> None:
    """Counts by category and predicate, degrees, rare diseases, identity joins, cross-source chains."""
    from kgsynth.schema import load_schema
    from kgsynth.stats import graph_stats

    graph = graph_from_sources(sources, from_, include_non_commercial, cache_dir)
    stats = graph_stats(graph, load_schema(schema))
    if as_json:
        console.print_json(json.dumps(stats))
        return
    _print_stats(stats)


@app.command("export-graph")
@user_errors
def export_graph_cmd(
    out: Annotated[Path, typer.Option("--out", help="Folder for the exported files.")],
    fmt: Annotated[str, typer.Option("--format", help="Export format: neo4j-admin.")] = "neo4j-admin",
    sources: SourcesArg = None,
    from_: FromOpt = None,
    include_non_commercial: NonCommercialOpt = False,
    cache_dir: CacheOpt = None,
    database: Annotated[str, typer.Option(help="Target database of the import.")] = "neo4j",
) -> None:
    """Export a graph as the CSV files `neo4j-admin database import` takes (for graphs too large for the driver)."""
    import shlex

    from kgsynth.errors import UnknownNameError

    if fmt != "neo4j-admin":
        raise UnknownNameError("export format", fmt, ["neo4j-admin"])
    from kgsynth.store.neo4j_admin import export_neo4j_admin

    graph = graph_from_sources(sources, from_, include_non_commercial, cache_dir)
    result = export_neo4j_admin(graph, out, database=database)
    console.print(f"wrote {', '.join(result['files'].values())}; import with (from {out}):")
    console.print(shlex.join(result["command"]), highlight=False, soft_wrap=True)


def _split_list(values: list[str] | None) -> list[str]:
    return [v.strip() for raw in values or [] for v in raw.split(",") if v.strip()]


@app.command("generate")
@user_errors
def generate_cmd(
    out: Annotated[Path, typer.Option("--out", help="Output folder (JSONL shards, HF dataset, card).")] = Path(
        "out/kgsynth"
    ),
    n: Annotated[int, typer.Option("--n", help="Number of items.", min=1)] = 1000,
    hops: Annotated[int, typer.Option(help="Hops per question (1-4).", min=1, max=4)] = 3,
    types: Annotated[
        list[str] | None, typer.Option("--type", help="Question types: chain, vignette (repeat or comma-separate).")
    ] = None,
    formats: Annotated[
        list[str] | None, typer.Option("--format", help="Answer formats: mcq, short (repeat or comma-separate).")
    ] = None,
    options: Annotated[int, typer.Option(help="Options per multiple-choice item.", min=3, max=8)] = 4,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same KG -> byte-identical output.")] = 0,
    layperson: Annotated[float, typer.Option(help="Share of vignette findings worded in layperson terms.")] = 0.25,
    rarity_alpha: Annotated[float, typer.Option(help="Rarity bias of start entities (0 = uniform).")] = 3.0,
    hub_cap: Annotated[int, typer.Option(help="Walks avoid intermediate nodes of higher degree.")] = 200,
    backend: Annotated[str, typer.Option(help="Graph backend: embedded or neo4j.")] = "embedded",
    graph_name: Annotated[str, typer.Option("--graph", help="Graph name in the backend (neo4j).")] = "med",
    neo4j_uri: Neo4jUriOpt = None,
    neo4j_user: Neo4jUserOpt = None,
    neo4j_database: Neo4jDbOpt = None,
    sources: Annotated[
        list[str] | None, typer.Option("--source", help="Sources of the graph (default: the default KG).")
    ] = None,
    from_: FromOpt = None,
    include_non_commercial: NonCommercialOpt = False,
    cache_dir: CacheOpt = None,
    compare_uniform: Annotated[
        bool, typer.Option(help="Also count rare coverage under uniform start sampling (for the summary).")
    ] = True,
    teacher: Annotated[
        str | None,
        typer.Option(
            help="Distil chains of thought: openai (any OpenAI-compatible server), local or vllm.",
            rich_help_panel="Teacher",
        ),
    ] = None,
    teacher_model: Annotated[str, typer.Option(help="Model name sent to the server.", rich_help_panel="Teacher")] = "",
    teacher_base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible endpoint (default: OpenAI).", rich_help_panel="Teacher")
    ] = None,
    teacher_api_key_env: Annotated[
        str, typer.Option(help="Environment variable holding the API key.", rich_help_panel="Teacher")
    ] = "OPENAI_API_KEY",
    teacher_model_path: Annotated[
        str | None,
        typer.Option(help="local: model folder or .gguf file; vllm: model id/path.", rich_help_panel="Teacher"),
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Requests in flight at most.", rich_help_panel="Teacher")] = 16,
    samples: Annotated[int, typer.Option(help="Completions drawn per item at most.", rich_help_panel="Teacher")] = 1,
    keep: Annotated[str, typer.Option(help="first or all verified chains.", rich_help_panel="Teacher")] = "first",
    grounding: Annotated[
        str, typer.Option(help="path: show the teacher the evidence path; none.", rich_help_panel="Teacher")
    ] = "path",
    temperature: Annotated[float, typer.Option(rich_help_panel="Teacher")] = 0.7,
    max_tokens: Annotated[int, typer.Option(help="Completion tokens per request.", rich_help_panel="Teacher")] = 2048,
    request_timeout: Annotated[float, typer.Option(help="Seconds per request.", rich_help_panel="Teacher")] = 120.0,
    max_retries: Annotated[int, typer.Option(rich_help_panel="Teacher")] = 6,
    max_requests: Annotated[
        int | None, typer.Option(help="Budget: requests this run may send.", rich_help_panel="Teacher")
    ] = None,
    max_total_tokens: Annotated[
        int | None, typer.Option(help="Budget: tokens this run may use.", rich_help_panel="Teacher")
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option("--export", help="Then export the run with default options (see `kgsynth export`) here."),
    ] = None,
) -> None:
    """Generate verifiable multi-hop questions, each with its proof and evidence path."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from kgsynth.generate import generate
    from kgsynth.question import GenerateConfig
    from kgsynth.sample import RarityConfig

    try:
        config = GenerateConfig(
            n=n,
            hops=hops,
            types=_split_list(types) or ["chain", "vignette"],  # type: ignore[arg-type]
            formats=_split_list(formats) or ["mcq"],  # type: ignore[arg-type]
            options=options,
            seed=seed,
            layperson=layperson,
            hub_cap=hub_cap,
            rarity=RarityConfig(alpha=rarity_alpha),
        )
    except ValueError as exc:
        raise KgsynthError(f"invalid generate options: {exc}") from None
    if backend == "embedded":
        graph = graph_from_sources(sources, from_, include_non_commercial, cache_dir)
    else:
        graph = open_store(backend, cache_dir, neo4j_uri, neo4j_user, neo4j_database).read(graph_name)
    with Progress(
        TextColumn("[bold]generating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err
    ) as bar:
        task = bar.add_task("items", total=config.n)
        summary = generate(
            graph,
            config,
            out,
            progress=lambda done, total: bar.update(task, completed=done),
            compare_uniform=compare_uniform,
        )
    _print_summary(summary, out)
    if teacher is not None:
        _distil(out, teacher, dict(
            model=teacher_model or (teacher_model_path or teacher), base_url=teacher_base_url,
            api_key_env=teacher_api_key_env, model_path=teacher_model_path, concurrency=concurrency, samples=samples,
            keep=keep, grounding=grounding, temperature=temperature, max_tokens=max_tokens, seed=seed,
            timeout=request_timeout, max_retries=max_retries, max_requests=max_requests,
            max_total_tokens=max_total_tokens,
        ))  # fmt: skip
    if export is not None:
        from kgsynth.export import ExportConfig

        _export(out, export, ExportConfig())


def _distil(out: Path, backend: str, options: dict[str, Any]) -> None:
    """The teacher step over the run in `out`."""
    from kgsynth.generate import read_items
    from kgsynth.teacher.run import TeacherConfig, distil

    try:
        tconfig = TeacherConfig(backend=backend, **options)  # type: ignore[arg-type]
    except ValueError as exc:
        raise KgsynthError(f"invalid teacher options: {exc}") from None
    result = distil(read_items(out), tconfig, out, progress=True)
    console.print(
        f"teacher {tconfig.model}: {result.verified:,} verified, {result.rejected:,} rejected, "
        f"{result.incomplete:,} incomplete (re-run to continue); {result.requests_sent:,} requests sent, "
        f"{result.cache_hits:,} answered from the cache; reasons: {result.failure_reasons}"
    )


@app.command("export")
@user_errors
def export_cmd(
    run: Annotated[Path, typer.Argument(help="A generate run (the --out folder of kgsynth generate).")],
    out: Annotated[Path, typer.Option("--out", help="The dataset folder to write (replaced if it is an export).")],
    split_by: Annotated[
        str, typer.Option(help="Splits disjoint by: answer (key and hidden entities), path (every entity), random.")
    ] = "answer",
    validation_size: Annotated[float, typer.Option(help="Share of items held out for validation.")] = 0.1,
    test_size: Annotated[float, typer.Option(help="Share of items held out for test.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the split.")] = 0,
    benchmark: Annotated[
        list[Path] | None,
        typer.Option("--benchmark", help="Also decontaminate against this file (JSON, JSONL, CSV, parquet; repeat)."),
    ] = None,
    shared_benchmarks: Annotated[
        bool, typer.Option(help="Decontaminate against every benchmark in the shared benchmarks folder.")
    ] = True,
) -> None:
    """Export a run as a dataset: sft, grpo and items configs, train/validation/test, deduplicated, decontaminated."""
    from kgsynth.decontam import DecontamConfig
    from kgsynth.export import ExportConfig
    from kgsynth.split import SplitConfig

    try:
        config = ExportConfig(
            split=SplitConfig(split_by=split_by, validation_size=validation_size, test_size=test_size, seed=seed),  # type: ignore[arg-type]
            decontam=DecontamConfig(shared=shared_benchmarks, benchmarks=[str(p) for p in benchmark or []]),
        )
    except ValueError as exc:
        raise KgsynthError(f"invalid export options: {exc}") from None
    _export(run, out, config)


def _export(run: Path, out: Path, config: Any) -> None:
    from kgsynth.export import export_run

    with err.status("exporting") as status:
        summary = export_run(run, out, config=config, progress=lambda step: status.update(f"exporting: {step}"))
    console.print(f"[bold]exported[/] {run} -> {out}")
    _print_counts("rows per config and split", "config/split", "rows",
                  {f"{c}/{s}": n for c, splits in summary["rows"].items() for s, n in splits.items()})  # fmt: skip
    _print_counts("dropped", "reason", "items", {
        **{f"dedup: {r}": n for r, n in summary["dedup"]["dropped"].items()},
        **{f"benchmark: {b}": v["dropped"] for b, v in summary["decontamination"]["benchmarks"].items()},
        "split: entity overlap with held-out splits": summary["split"]["dropped_for_overlap"],
    })  # fmt: skip


@app.command("push")
@user_errors
def push_cmd(
    directory: Annotated[Path, typer.Argument(help="An exported dataset folder (kgsynth export --out DIR).")],
    repo: Annotated[str, typer.Option("--repo", help="Hub dataset repository ORG/NAME (created if missing).")],
    private: Annotated[bool, typer.Option("--private", help="Create the repository private.")] = False,
) -> None:
    """Push every config, the card and the configuration to the Hugging Face Hub in one commit (token: $HF_TOKEN)."""
    from kgsynth.hub import push_dataset

    result = push_dataset(directory, repo_id=repo, private=private)
    if not result.changed:
        console.print(f"{result.repo_id} already holds these {len(result.files)} files (commit {result.commit})")
        return
    console.print(f"pushed {len(result.files)} files to [bold]{result.repo_id}[/] in commit {result.commit}")
    console.print(result.url, highlight=False, soft_wrap=True)


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
    prior_items: Annotated[float, typer.Option(help="Pseudo-items smoothing each failure rate.")] = 4.0,
) -> None:
    """Which relations, metapaths, hops, types and rarity bins the policy fails most, as sampling weights."""
    from kgsynth.focus import FocusConfig, derive_focus, read_pass_rates, write_focus

    focus = derive_focus(read_pass_rates(passrates), config=FocusConfig(prior_items=prior_items))
    write_focus(focus, out)
    console.print(f"{focus['items']} items, overall failure rate {focus['overall_failure_rate']:.3f} -> {out}")
    for dimension in ("relation", "hops", "rarity_bin"):
        top = ", ".join(f"{g['value']} x{g['weight']:.2f}" for g in focus["groups"][dimension][:3])
        console.print(f"  most failed {dimension}: {top or '-'}", highlight=False, soft_wrap=True)


def _print_counts(title: str, key: str, value: str, counts: dict[str, int]) -> None:
    t = Table(title=title)
    t.add_column(key)
    t.add_column(value, justify="right")
    for k, v in counts.items():
        t.add_row(k, f"{v:,}")
    console.print(t)


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    console.print(f"[bold]{summary['items']:,} items[/] in {out} ({summary['attempts']:,} attempts)")
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


def _print_stats(stats: dict[str, Any]) -> None:
    console.print(
        f"[bold]{stats['name']}[/] version {stats['version']}: {stats['nodes']:,} nodes, {stats['edges']:,} edges"
    )
    _print_counts("nodes by category", "category", "nodes", stats["nodes_by_category"])
    _print_counts("edges by predicate (NOT = negative evidence)", "predicate", "edges", stats["edges_by_predicate"])
    t = Table(title="edges by source")
    for col in ("source", "edges", "licence", "commercial use"):
        t.add_column(col)
    for k, v in stats["edges_by_source"].items():
        t.add_row(k, f"{v['edges']:,}", v["licence"], "yes" if v["commercial_use"] else "[red]NO[/]")
    console.print(t)
    t = Table(title="input accounting: every record read is kept or dropped for a reason")
    for col in ("source", "stream", "read", "kept", "dropped (reason: count)"):
        t.add_column(col)
    for s in stats["streams"]:
        dropped = "; ".join(f"{r}: {n:,}" for r, n in s["dropped"].items()) or "-"
        t.add_row(s["source"], s["stream"], f"{s['read']:,}", f"{s['kept']:,}", dropped)
    console.print(t)
    d = stats["degree"]
    console.print(
        f"degree: mean {d['mean']}, median {d['median']}, p90 {d['p90']}, p99 {d['p99']}, max {d['max']}, "
        f"isolated {d['isolated']}; hubs: " + ", ".join(f"{h['name']} ({h['degree']})" for h in d["hubs"])
    )
    dis = stats["diseases"]
    ns = dis["by_namespace"]
    console.print(
        f"diseases: {dis['total']:,}; rare (Orphanet/DECIPHER or DO rare slim): {dis['rare']:,}; "
        f"with an ORPHA id: {ns.get('ORPHA', 0):,}; OMIM: {ns.get('OMIM', 0):,}; DOID: {ns.get('DOID', 0):,}; "
        f"MONDO: {ns.get('MONDO', 0):,}"
    )
    dr = stats["drugs"]
    console.print(
        f"drugs: {dr['total']:,}; with an indication (treats): {dr['with_indication (treats)']:,}; with a target gene: "
        f"{dr['with_target_gene (interacts_with)']:,}; by source: {dr['by_source']}"
    )
    j = stats["identity_join"]
    console.print(
        f"identity join: {j.get('nodes_joined_into_one', 0):,} nodes joined from several ids "
        f"({j.get('joined_across_sources', 0):,} across sources); mappings used {j.get('mappings_used', 0):,}, "
        f"skipped as ambiguous {j.get('mappings_ambiguous_skipped', 0):,}, "
        f"skipped as conflicting {j.get('mappings_conflicting_skipped', 0):,}"
    )
    if "metapaths" in stats:
        t = Table(title="metapath walks (cross-source: edges from more than one source)")
        for col in ("metapath", "hops", "walks", "sources"):
            t.add_column(col)
        for m in stats["metapaths"]:
            t.add_row(m["metapath"], str(m["hops"]), f"{m['walks']:,}", ", ".join(m["sources"]))
        console.print(t)
        c = stats["cross_source_chains"]
        console.print(f"cross-source chains: {c['3-hop']:,} 3-hop, {c['2-hop']:,} 2-hop")
    console.print(f"CSR index: {stats['index_bytes_per_edge']} bytes per edge")
    if stats["non_commercial_sources"]:
        console.print(f"[red]NON-COMMERCIAL sources in this graph: {', '.join(stats['non_commercial_sources'])}[/]")


if __name__ == "__main__":  # pragma: no cover
    app()
