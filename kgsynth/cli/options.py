"""Options several commands share, and how flags become a config section (None: not given, so --config or
the config model in kgsynth/config.py -- the one home of defaults -- decides)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel
from rich.table import Table

from kgsynth.cli.base import F, console
from kgsynth.errors import KgsynthError

M = TypeVar("M", bound=BaseModel)


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


def _split_list(values: list[str] | None) -> list[str] | None:
    split = [v.strip() for raw in values or [] for v in raw.split(",") if v.strip()]
    return split or None


def _given(**options: Any) -> dict[str, Any]:
    """The options the user gave (not None): the rest keep their defaults from the config model."""
    return {k: v for k, v in options.items() if v is not None}


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


def _print_export(summary: dict[str, Any], run: Path, out: Path) -> None:
    """What `kgsynth export` (or `generate --export`) wrote into ``out``: rows per config and split, drops."""
    console.print(f"[bold]exported[/] {run} -> {out}")
    _print_counts("rows per config and split", "config/split", "rows",
                  {f"{c}/{s}": n for c, splits in summary["rows"].items() for s, n in splits.items()})  # fmt: skip
    _print_counts("dropped", "reason", "items", {
        **{f"dedup: {r}": n for r, n in summary["dedup"]["dropped"].items()},
        **{f"benchmark: {b}": v["dropped"] for b, v in summary["decontamination"]["benchmarks"].items()},
        "split: entity overlap with held-out splits": summary["split"]["dropped_for_overlap"],
    })  # fmt: skip


def option(name: str, annotation: Any, default: Any = None) -> inspect.Parameter:
    """One command-line option of a command whose options are a table (`with_parameters`): typer reads
    ``annotation`` (``Annotated[type, typer.Option(...)]``) as it would a function parameter's."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def with_parameters(parameters: list[inspect.Parameter]) -> Callable[[F], F]:
    """Give a ``def command(**given)`` the options of ``parameters``: typer builds them from the signature and
    calls the command with every option by name (None where not given)."""

    def decorate(command: F) -> F:
        command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        return command

    return decorate


def _print_counts(title: str, key: str, value: str, counts: dict[str, int]) -> None:
    t = Table(title=title)
    t.add_column(key)
    t.add_column(value, justify="right")
    for k, v in counts.items():
        t.add_row(k, f"{v:,}")
    console.print(t)


def config_over_file(model: type[M], path: Path | None, given: dict[str, Any], *, hint: str) -> M:
    """A command's ``model`` config: the ``--config`` file at ``path`` (if any) with the ``given`` flags over it
    (None: not given); an invalid value is reported by its flag (``max_new_tokens`` -> ``--max-new-tokens``)."""
    from pydantic import ValidationError

    from kgsynth.config import merge, read_config_file
    from kgsynth.errors import validation_message

    data = read_config_file(path) if path is not None else {}
    try:
        return model.model_validate(merge(data, {k: v for k, v in given.items() if v is not None}))
    except ValidationError as exc:
        names = {name: f"--{name.replace('_', '-')}" for name in model.model_fields}
        source = f"{path}: " if path is not None else ""
        raise KgsynthError(source + validation_message(exc, names=names), hint=hint) from None
