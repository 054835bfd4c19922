"""Commands over graphs: sources, config, load, stats, export-graph."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from kgsynth.cli.base import app, console, user_errors
from kgsynth.cli.options import (
    BackendOpt,
    CacheOpt,
    ConfigOpt,
    FromOpt,
    GraphOpt,
    Neo4jDbOpt,
    Neo4jUriOpt,
    Neo4jUserOpt,
    NonCommercialOpt,
    SourcesArg,
    _print_counts,
    graph_flags,
)


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
