"""The ``kgsynth`` command line. Heavy imports stay inside commands so that ``--help`` answers instantly."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kgsynth.errors import KgsynthError, foreign_error

app = typer.Typer(
    name="kgsynth",
    help="Turn medical knowledge graphs into verifiable reasoning data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Piped output is not cut at 80 columns: a terminal's width where there is one (or $COLUMNS), else wide enough.
console = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 1000)
err = Console(stderr=True)
logger = logging.getLogger("kgsynth")

F = TypeVar("F", bound=Callable[..., Any])


def report_error(exc: KgsynthError) -> None:
    """One ``error:`` line (and its hint) on stderr."""
    err.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
    if exc.hint:
        err.print(f"[yellow]hint:[/] {escape(exc.hint)}", highlight=False, soft_wrap=True)


def user_errors(fn: F) -> F:
    """Report a :class:`KgsynthError` as a message and a non-zero exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KgsynthError as exc:
            report_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except Exception as exc:
            # A library's error that stands for bad input or an unreachable server (foreign_error); a bug
            # keeps its traceback. -v logs the traceback of what is reported.
            user = foreign_error(exc)
            if user is None:
                raise
            logger.info("reported as a user error", exc_info=True)
            report_error(user)
            raise typer.Exit(user.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted; what was written so far is intact, re-run to continue")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")]


@app.callback()
def main(verbose: VerboseOpt = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def set_verbose(verbose: bool) -> None:
    """``COMMAND -v``: the same as ``kgsynth -v COMMAND``."""
    if verbose:
        logging.getLogger().setLevel(logging.INFO)


def parse_from(values: list[str] | None) -> dict[str, str]:
    """``["hpo=/data/hpo-2026"]`` -> ``{"hpo": "/data/hpo-2026"}`` (made absolute, so a written config replays
    from any folder)."""
    out: dict[str, str] = {}
    for v in values or []:
        name, sep, path = v.partition("=")
        if not sep or not name or not path:
            raise KgsynthError(f"--from {v!r}: expected SOURCE=DIR", hint="e.g. --from hpo=/data/hpo-2026-01")
        out[name] = str(Path(path).expanduser().absolute())
    return out


# Every option defaults to None, meaning "not given": the value then comes from --config, or else from the
# command's config model in kgsynth/config.py, the one place defaults live (`kgsynth config COMMAND` prints them).
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="YAML config (e.g. a run's OUT/config.yaml, or `kgsynth config COMMAND`); flags override it.",
        show_default=False,
    ),
]
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
    bool | None,
    typer.Option(
        "--include-non-commercial/--commercial-only",
        help="Add opt-in non-commercial sources (SIDER) to the default KG.",
        show_default=False,
    ),
]
GraphOpt = Annotated[
    str | None,
    typer.Option(
        "--graph",
        help="A graph stored by `kgsynth load` (its name).",
        show_default=False,
    ),
]
BackendOpt = Annotated[
    str | None,
    typer.Option("--backend", help="Where stored graphs live: embedded or neo4j.",
                 show_default=False),
]  # fmt: skip
CacheOpt = Annotated[
    Path | None, typer.Option("--cache-dir", help="Where graphs are cached and stored (default ~/.cache/kgsynth).")
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


def check_out_folder(out: Path, *, option: str = "--out") -> None:
    """Refuse, before any work, an output folder that is a file (or lies under one)."""
    for path in (out, *out.parents):
        if path.exists():
            if not path.is_dir():
                where = "" if path == out else f" ({path} is a file)"
                raise KgsynthError(f"{option} {out}: not a folder{where}",
                                   hint=f"give {option} a folder (new, or one this command wrote before)")  # fmt: skip
            return


def graph_flags(sources: list[str] | None, from_: list[str] | None, **given: Any) -> dict[str, Any]:
    """The ``graph`` section of a command's config, from its graph options (None: not given)."""
    neo4j = {key: given.pop(f"neo4j_{key}", None) for key in ("uri", "user", "database", "batch_size", "workers")}
    if given.get("cache_dir") is not None:
        given["cache_dir"] = given["cache_dir"].expanduser().absolute()  # a written config replays from anywhere
    return {"sources": list(sources) if sources else None, "from": parse_from(from_), "neo4j": neo4j, **given}


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


@app.command("config")
@user_errors
def config_cmd(
    command: Annotated[str, typer.Argument(help="load, stats, export-graph or generate.")],
    config: ConfigOpt = None,
) -> None:
    """Print the configuration of a command as YAML: its defaults, or a --config file completed with them."""
    from kgsynth.config import COMMAND_CONFIGS, build_config, config_yaml
    from kgsynth.errors import UnknownNameError

    if command not in COMMAND_CONFIGS:
        raise UnknownNameError("command", command, list(COMMAND_CONFIGS))
    console.print(config_yaml(build_config(COMMAND_CONFIGS[command], config, {})), end="", highlight=False,
                  soft_wrap=True)  # fmt: skip


@app.command("load")
@user_errors
def load_cmd(
    sources: SourcesArg = None,
    from_: FromOpt = None,
    include_non_commercial: NonCommercialOpt = None,
    backend: Annotated[str | None, typer.Option(help="Where to store the graph: embedded or neo4j.")] = None,
    name: Annotated[
        str | None,
        typer.Option(help="Name to store it under, for `--graph NAME` (default: med, or the joined source names)."),
    ] = None,
    cache_dir: CacheOpt = None,
    refresh: Annotated[bool | None, typer.Option(help="Rebuild even if the cache is current.")] = None,
    strict: Annotated[
        bool | None,
        typer.Option(
            "--strict/--no-strict",
            help="Refuse a graph whose load gave warnings (some edges dangling, unknown categories).",
            show_default=False,
        ),
    ] = None,
    neo4j_uri: Neo4jUriOpt = None,
    neo4j_user: Neo4jUserOpt = None,
    neo4j_database: Neo4jDbOpt = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Rows per UNWIND transaction.", rich_help_panel="Neo4j")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Parallel write lanes.", rich_help_panel="Neo4j")] = None,
    config: ConfigOpt = None,
) -> None:
    """Load sources into one graph and store it in a backend, where `--graph NAME` finds it."""
    from kgsynth.config import LoadConfig, build_config
    from kgsynth.graph.open import build_graph_from_sources, store_graph

    flags = graph_flags(sources, from_, include_non_commercial=include_non_commercial, backend=backend, name=name,
                        cache_dir=cache_dir, refresh=refresh, strict=strict, neo4j_uri=neo4j_uri,
                        neo4j_user=neo4j_user, neo4j_database=neo4j_database, neo4j_batch_size=batch_size,
                        neo4j_workers=workers)  # fmt: skip
    cfg = build_config(LoadConfig, config, {"graph": flags})
    graph = build_graph_from_sources(cfg.graph, progress=True)
    written = store_graph(graph, cfg.graph)
    console.print(
        f"loaded [bold]{graph.name}[/] (version {graph.version}): {graph.num_nodes:,} nodes, "
        f"{graph.num_edges:,} edges -> {cfg.graph.backend} {written.get('path', '')}"
    )
    again = f"kgsynth generate --graph {graph.name}" + (
        f" --backend {cfg.graph.backend}" if written.get("backend") else ""
    )
    console.print(f"generate from it with: {again}", highlight=False)
    if graph.non_commercial_sources():
        console.print(f"[yellow]non-commercial sources included: {', '.join(graph.non_commercial_sources())}[/]")


@app.command("stats")
@user_errors
def stats_cmd(
    sources: SourcesArg = None,
    from_: FromOpt = None,
    include_non_commercial: NonCommercialOpt = None,
    graph_name: GraphOpt = None,
    backend: BackendOpt = None,
    schema: Annotated[
        str | None, typer.Option(help="Graph schema whose metapaths are counted.", show_default=False)
    ] = None,
    cache_dir: CacheOpt = None,
    neo4j_uri: Neo4jUriOpt = None,
    neo4j_user: Neo4jUserOpt = None,
    neo4j_database: Neo4jDbOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the statistics as JSON.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Counts by category and predicate, degrees, rare diseases, identity joins, cross-source chains."""
    from kgsynth.config import StatsConfig, build_config
    from kgsynth.graph.open import open_graph
    from kgsynth.graph.schema import load_schema
    from kgsynth.graph.stats import graph_stats

    flags = graph_flags(sources, from_, include_non_commercial=include_non_commercial, name=graph_name,
                        backend=backend, cache_dir=cache_dir, neo4j_uri=neo4j_uri, neo4j_user=neo4j_user,
                        neo4j_database=neo4j_database)  # fmt: skip
    cfg = build_config(StatsConfig, config, {"graph": flags, "schema": schema})
    graph = open_graph(cfg.graph, progress=True)
    stats = graph_stats(graph, load_schema(cfg.schema_name))
    if as_json:
        console.print_json(json.dumps(stats))
        return
    _print_stats(stats)


@app.command("export-graph")
@user_errors
def export_graph_cmd(
    out: Annotated[Path, typer.Option("--out", help="Folder for the exported files.")],
    fmt: Annotated[str | None, typer.Option("--format", help="Export format: neo4j-admin.")] = None,
    sources: SourcesArg = None,
    from_: FromOpt = None,
    include_non_commercial: NonCommercialOpt = None,
    graph_name: GraphOpt = None,
    backend: BackendOpt = None,
    cache_dir: CacheOpt = None,
    neo4j_uri: Neo4jUriOpt = None,
    neo4j_user: Neo4jUserOpt = None,
    neo4j_database: Neo4jDbOpt = None,
    database: Annotated[str | None, typer.Option(help="Target database of the import.", show_default=False)] = None,
    config: ConfigOpt = None,
) -> None:
    """Export a graph as the CSV files `neo4j-admin database import` takes (for graphs too large for the driver)."""
    import shlex

    from kgsynth.config import ExportGraphConfig, build_config
    from kgsynth.errors import UnknownNameError
    from kgsynth.graph.open import open_graph

    if fmt is not None and fmt != "neo4j-admin":
        raise UnknownNameError("export format", fmt, ["neo4j-admin"])
    from kgsynth.graph.store.neo4j_admin import export_neo4j_admin

    flags = graph_flags(sources, from_, include_non_commercial=include_non_commercial, name=graph_name,
                        backend=backend, cache_dir=cache_dir, neo4j_uri=neo4j_uri, neo4j_user=neo4j_user,
                        neo4j_database=neo4j_database)  # fmt: skip
    cfg = build_config(ExportGraphConfig, config, {"graph": flags, "format": fmt, "database": database})
    graph = open_graph(cfg.graph, progress=True)
    result = export_neo4j_admin(graph, out, database=cfg.database)
    console.print(f"wrote {', '.join(result['files'].values())}; import with (from {out}):")
    console.print(shlex.join(result["command"]), highlight=False, soft_wrap=True)


def _split_list(values: list[str] | None) -> list[str] | None:
    split = [v.strip() for raw in values or [] for v in raw.split(",") if v.strip()]
    return split or None


def _given(**options: Any) -> dict[str, Any]:
    """The options the user gave (not None): the rest keep their defaults from the config model."""
    return {k: v for k, v in options.items() if v is not None}


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


# TeacherConfig and JudgeConfig fields whose flag is not simply --FIELD.
_TEACHER_FLAG_NAMES = {
    "backend": "--teacher",
    "model": "--teacher-model",
    "base_url": "--teacher-base-url",
    "api_key_env": "--teacher-api-key-env",
    "model_path": "--teacher-model-path",
    "timeout": "--request-timeout",
}
_JUDGE_FLAG_NAMES = {
    "backend": "--judge",
    **{k: f"--judge-{k.replace('_', '-')}" for k in ("model", "base_url", "api_key_env", "model_path", "k", "m")},
    "max_requests": "--judge-max-requests",
}


def with_section(data: dict[str, Any], name: str, flags: dict[str, Any], flag_names: dict[str, str]) -> dict[str, Any]:
    """``data`` with a model-backed step's flags (the teacher's, the judge's) laid over its ``name`` section; the
    model defaults to the model path or the backend's name, the seed to the run's. The step's flags without the
    step (``--teacher``/``--judge`` or a section in ``--config``) are an error, not silently ignored."""
    given = {k: v for k, v in flags.items() if v is not None and k != "seed"}
    section = data.get(name)
    if section is None and flags.get("backend") is None:
        if given:
            names = ", ".join(flag_names.get(k, f"--{k.replace('_', '-')}") for k in given)
            raise KgsynthError(f"{name} options without a {name}: {names}",
                               hint=f"add {flag_names['backend']} openai|local|vllm (or a {name}: section in "
                               "--config)")  # fmt: skip
        return data
    step = {**(section or {}), **given}
    if flags.get("seed") is not None:
        step["seed"] = flags["seed"]
    if "model" not in step:
        step["model"] = step.get("model_path") or step.get("backend") or "openai"
    run_seed = (data.get("generate") or {}).get("seed")
    if run_seed is not None:
        step.setdefault("seed", run_seed)
    return {**data, name: step}


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
    from kgsynth.dataset.export import ExportConfig

    for path in benchmark or []:  # before any work: a folder or a missing file is named as the option it came from
        if not path.is_file():
            what = "a folder" if path.is_dir() else "not a file that exists"
            raise KgsynthError(f"--benchmark {path}: {what}",
                               hint="give a JSON, JSONL, CSV or parquet file of questions (repeat the option for "
                               "several), or --shared-benchmarks for the shared folder")  # fmt: skip

    flags = {
        "split": {"split_by": split_by, "validation_size": validation_size, "test_size": test_size, "seed": seed},
        "decontam": {"shared": shared_benchmarks,
                     "benchmarks": [str(p.expanduser().absolute()) for p in benchmark] if benchmark else None},
        "sft_chain": sft_chain,
        "allow_empty_split": allow_empty_split,
    }  # fmt: skip
    _export(run, out, build_config(ExportConfig, config, flags))


def _export(run: Path, out: Path, config: Any) -> None:
    from kgsynth.dataset.export import export_run

    check_out_folder(out)

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
) -> None:
    """Count the defects code can find in a generated run (raw ids, leaks, synonym distractors, ...)."""
    from kgsynth.run.audit import audit_run, audit_table, exceeded, parse_thresholds, read_run_config, run_sources

    thresholds = parse_thresholds(fail_on or [])
    graph = None
    if use_graph:
        from kgsynth.config import CONFIG_FILE, RunConfig, merge, read_config_file, validate_config
        from kgsynth.graph.open import open_graph

        recorded, non_commercial = run_sources(read_run_config(run))
        written = run / CONFIG_FILE  # the run's own graph description, when it wrote one
        data = read_config_file(written) if written.exists() else {}
        base = merge(
            {}, {"graph": data.get("graph") or {"sources": recorded, "include_non_commercial": non_commercial}}
        )
        flags = {"graph": graph_flags(sources, from_, cache_dir=cache_dir)}
        graph = open_graph(validate_config(RunConfig, base, flags, written if data else None).graph, progress=True)
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
        float | None, typer.Option(help="Pseudo-items smoothing each failure rate (default 4).", show_default=False)
    ] = None,
) -> None:
    """Which relations, metapaths, hops, types and rarity bins the policy fails most, as sampling weights."""
    from pydantic import ValidationError

    from kgsynth.errors import validation_message
    from kgsynth.run.focus import FocusConfig, derive_focus, read_pass_rates, write_focus

    try:
        config = FocusConfig.model_validate({} if prior_items is None else {"prior_items": prior_items})
    except ValidationError as exc:
        raise KgsynthError(validation_message(exc, names={"prior_items": "--prior-items"}),
                           hint="--prior-items is a count of pseudo-items: 0 or more") from None  # fmt: skip
    if out.is_dir():
        raise KgsynthError(f"--out {out} is a folder", hint="give the focus file's path, e.g. --out focus.json")
    focus = derive_focus(read_pass_rates(passrates), config=config)
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
    for c in stats.get("category_conflicts", []):
        (first, other), (kept, lost) = c["sources"], c["categories"]
        console.print(f"category conflict: {c['nodes']:,} ids (e.g. {c['example']}) are {kept} to {first} (kept) "
                      f"but {lost} to {other}", highlight=False)  # fmt: skip
    for warning in stats.get("load_warnings", []):
        console.print(f"[yellow]load warning:[/] {warning}", highlight=False)
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


# -- evaluation (kgsynth eval, kgsynth eval-compare) ----------------------------------------------


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
        int | None, typer.Option(help="Tokens a model may generate per item (default 512).", show_default=False)
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Items per set, drawn balanced over gold letters.")] = None,
    seed: Annotated[
        int | None, typer.Option(help="Which items are drawn when --limit is given (default 0).", show_default=False)
    ] = None,
    backend: Annotated[
        str | None, typer.Option(help="transformers (CPU, the default) or vllm (GPU).", show_default=False)
    ] = None,
    scoring: Annotated[
        str | None,
        typer.Option(
            help="generate (completions, judged; the default) or loglik (candidates by log-likelihood).",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Prompts per generate call (8; vLLM 256).")] = None,
    threads: Annotated[
        int | None, typer.Option(help="torch threads (0, the default: the cores available).", show_default=False)
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
) -> None:
    """Evaluate models on benchmarks and kgsynth sets, scored by the rewards' answer judge."""
    from pydantic import ValidationError
    from rich.progress import Progress

    from kgsynth.errors import validation_message
    from kgsynth.eval.backends import load_backend
    from kgsynth.eval.benchmarks import FieldMap, parse_field_overrides, resolve_set
    from kgsynth.eval.evaluate import EvalConfig, evaluate

    try:
        given = {"backend": backend, "max_new_tokens": max_new_tokens, "limit": limit, "seed": seed,
                 "batch_size": batch_size, "threads": threads, "scoring": scoring}  # fmt: skip
        config = EvalConfig.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        names = {name: f"--{name.replace('_', '-')}" for name in EvalConfig.model_fields}
        raise KgsynthError(validation_message(exc, names=names),
                           hint="see `kgsynth eval --help` for each option's valid values") from None  # fmt: skip
    check_out_folder(out)
    fields = FieldMap(**parse_field_overrides(field or []), answer_index_base=answer_index_base)
    sets = [resolve_set(spec, fields=fields) for spec in benchmark]
    models = [load_backend(m, config) for m in model]
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("evaluating", total=None)

        def show(label: str, name: str, done: int, total: int) -> None:
            bar.update(task, description=f"{label} on {name}", completed=done, total=total)

        summary = evaluate(models, sets, out, config=config, progress=show)
    for t in json.loads((out / "timings.json").read_text(encoding="utf-8")):
        console.print(f"{t['model']} on {t['set']}: {t['items']} items, {t['generated']} generated, "
                      f"{t['from_cache']} from the cache, {t['seconds']} s generating", highlight=False)  # fmt: skip
    if summary.get("scoring") == "loglik":
        _print_loglik(summary, out)
    else:
        _print_eval(summary, out)


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


if __name__ == "__main__":  # pragma: no cover
    app()
