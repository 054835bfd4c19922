"""The options of `kgsynth generate`, as a table: each a typer option named after the config field it sets.

Every option defaults to None, "not given": the value then comes from ``--config``, else from the config
models in kgsynth/config.py (the one home of defaults; `kgsynth config generate` prints them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kgsynth.cli.base import VerboseOpt
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
    option,
)

PARAMETERS = [
    option(
        "out",
        Annotated[Path, typer.Option("--out", help="Output folder of the run (JSONL shards, summary, card).")],
        Path("out/kgsynth"),
    ),
    option("n", Annotated[int | None, typer.Option("--n", help="Number of items.", show_default=False)]),
    option("hops", Annotated[int | None, typer.Option(help="Hops per question.", show_default=False)]),
    option(
        "types",
        Annotated[
            list[str] | None,
            typer.Option(
                "--type",
                help="Question types: chain, vignette (repeat or comma-separate).",
                show_default=False,
            ),
        ],
    ),
    option(
        "formats",
        Annotated[
            list[str] | None,
            typer.Option("--format", help="Answer formats: mcq, short (repeat or comma-separate).", show_default=False),
        ],
    ),
    option(
        "options", Annotated[int | None, typer.Option(help="Options per multiple-choice item.", show_default=False)]
    ),
    option(
        "context",
        Annotated[
            str | None,
            typer.Option(
                "--context",
                help="none (closed-book) or facts: the prompt lists the evidence path's edges and one decoy chain per "
                "distractor (chain items only; see docs/generate.md).",
                show_default=False,
            ),
        ],
    ),
    option(
        "seed",
        Annotated[
            int | None,
            typer.Option(help="Random seed: same seed, same KG -> byte-identical output.", show_default=False),
        ],
    ),
    option(
        "layperson",
        Annotated[
            float | None,
            typer.Option(help="Share of vignette findings worded in layperson terms.", show_default=False),
        ],
    ),
    option(
        "rarity_alpha",
        Annotated[float | None, typer.Option(help="Rarity bias of start entities, 0 = uniform.", show_default=False)],
    ),
    option(
        "hub_cap",
        Annotated[
            int | None,
            typer.Option(help="Walks avoid intermediate nodes of higher degree.", show_default=False),
        ],
    ),
    option("graph_name", GraphOpt),
    option("backend", BackendOpt),
    option(
        "schema",
        Annotated[
            str | None,
            typer.Option(
                "--schema",
                help="Graph schema: a shipped name or the path of your own YAML for your own graph "
                "(categories, predicates with their phrases, metapaths; see graph_schemas/).",
                show_default=False,
            ),
        ],
    ),
    option(
        "symptomatic_indications",
        Annotated[
            bool | None,
            typer.Option(
                "--symptomatic-indications/--no-symptomatic-indications",
                help="Also walk symptomatic indications as 'treats' (default: disease-modifying only).",
                show_default=False,
            ),
        ],
    ),
    option(
        "max_diagnosis_share",
        Annotated[float | None, typer.Option(help="Cap: one diagnosis's share of the vignettes.", show_default=False)],
    ),
    option(
        "max_key_share",
        Annotated[float | None, typer.Option(help="Cap: one key's share of the items.", show_default=False)],
    ),
    option(
        "focus",
        Annotated[
            Path | None,
            typer.Option(
                "--focus",
                help="Weight sampling toward what a policy fails: a focus file written by `kgsynth focus`.",
                show_default=False,
            ),
        ],
    ),
    option("neo4j_uri", Neo4jUriOpt),
    option("neo4j_user", Neo4jUserOpt),
    option("neo4j_database", Neo4jDbOpt),
    option(
        "sources",
        Annotated[
            list[str] | None,
            typer.Option("--source", help="Sources of the graph (default: the default KG).", show_default=False),
        ],
    ),
    option("from_", FromOpt),
    option("include_non_commercial", NonCommercialOpt),
    option("cache_dir", CacheOpt),
    option(
        "compare_uniform",
        Annotated[
            bool | None,
            typer.Option(
                help="Also count rare coverage under uniform start sampling (for the summary).",
                show_default=False,
            ),
        ],
    ),
    option(
        "teacher",
        Annotated[
            str | None,
            typer.Option(
                help="Distil chains of thought: openai (any OpenAI-compatible server), local or vllm.",
                rich_help_panel="Teacher",
            ),
        ],
    ),
    option(
        "teacher_model",
        Annotated[
            str | None,
            typer.Option(
                help="Model name sent to the server (default: the model path, or the backend's name).",
                rich_help_panel="Teacher",
            ),
        ],
    ),
    option(
        "teacher_base_url",
        Annotated[
            str | None, typer.Option(help="OpenAI-compatible endpoint (default: OpenAI).", rich_help_panel="Teacher")
        ],
    ),
    option(
        "teacher_api_key_env",
        Annotated[
            str | None,
            typer.Option(help="Environment variable holding the API key.", rich_help_panel="Teacher"),
        ],
    ),
    option(
        "teacher_model_path",
        Annotated[
            str | None,
            typer.Option(help="local: model folder or .gguf file; vllm: model id/path.", rich_help_panel="Teacher"),
        ],
    ),
    option(
        "concurrency",
        Annotated[int | None, typer.Option(help="Requests in flight at most.", rich_help_panel="Teacher")],
    ),
    option(
        "samples",
        Annotated[int | None, typer.Option(help="Completions drawn per item at most.", rich_help_panel="Teacher")],
    ),
    option(
        "keep", Annotated[str | None, typer.Option(help="first or all verified chains.", rich_help_panel="Teacher")]
    ),
    option(
        "grounding",
        Annotated[
            str | None,
            typer.Option(help="path: show the teacher the evidence path; none.", rich_help_panel="Teacher"),
        ],
    ),
    option("temperature", Annotated[float | None, typer.Option(rich_help_panel="Teacher")]),
    option(
        "max_tokens",
        Annotated[int | None, typer.Option(help="Completion tokens per request.", rich_help_panel="Teacher")],
    ),
    option(
        "request_timeout", Annotated[float | None, typer.Option(help="Seconds per request.", rich_help_panel="Teacher")]
    ),
    option("max_retries", Annotated[int | None, typer.Option(rich_help_panel="Teacher")]),
    option(
        "max_requests",
        Annotated[int | None, typer.Option(help="Budget: requests this run may send.", rich_help_panel="Teacher")],
    ),
    option(
        "max_total_tokens",
        Annotated[int | None, typer.Option(help="Budget: tokens this run may use.", rich_help_panel="Teacher")],
    ),
    option(
        "judge",
        Annotated[
            str | None,
            typer.Option(
                help="Drop items a model finds a distractor correct in: openai, local or vllm (see docs/generate.md).",
                rich_help_panel="Judge",
                show_default=False,
            ),
        ],
    ),
    option(
        "judge_model",
        Annotated[
            str | None, typer.Option(help="Model name sent to the server.", rich_help_panel="Judge", show_default=False)
        ],
    ),
    option(
        "judge_base_url",
        Annotated[
            str | None, typer.Option(help="OpenAI-compatible endpoint (default: OpenAI).", rich_help_panel="Judge")
        ],
    ),
    option(
        "judge_api_key_env",
        Annotated[
            str | None,
            typer.Option(help="Environment variable holding the API key.", rich_help_panel="Judge", show_default=False),
        ],
    ),
    option(
        "judge_model_path",
        Annotated[
            str | None,
            typer.Option(help="local: model folder or .gguf file; vllm: model id/path.", rich_help_panel="Judge"),
        ],
    ),
    option("judge_k", Annotated[int | None, typer.Option(help="Samples per item at most.", rich_help_panel="Judge")]),
    option(
        "judge_m",
        Annotated[
            int | None,
            typer.Option(
                help="Drop an item whose distractors are accepted in at least M samples.", rich_help_panel="Judge"
            ),
        ],
    ),
    option(
        "judge_max_requests",
        Annotated[int | None, typer.Option(help="Budget: judge requests this run may send.", rich_help_panel="Judge")],
    ),
    option(
        "allow_incomplete",
        Annotated[
            bool,
            typer.Option(
                "--allow-incomplete",
                help="Exit 0 even if some items are left incomplete (retries or budget spent).",
                rich_help_panel="Teacher",
            ),
        ],
        False,
    ),
    option(
        "export",
        Annotated[
            Path | None,
            typer.Option("--export", help="Then export the run with default options (see `kgsynth export`) here."),
        ],
    ),
    option("config", ConfigOpt),
    option("verbose", VerboseOpt, False),
]
