"""The configuration of every command, as pydantic models: the one place their defaults live.

A command builds its config from ``--config FILE.yaml`` (if given) with its flags laid over it
(:func:`build_config`); a flag left out takes the file's value, or else the model's default. ``generate``
writes its config back into the run (``config.yaml``, :func:`write_config`), so that
``kgsynth generate --config OUT/config.yaml --out OTHER`` replays the run byte for byte.

>>> cfg = build_config(StatsConfig, None, {"graph": {"sources": ["hpo"]}, "schema": None})
>>> cfg.graph.sources, cfg.schema_name
(['hpo'], 'med')
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kgsynth.dataset.export import ExportConfig
from kgsynth.errors import KgsynthError
from kgsynth.eval.common import EvalConfig
from kgsynth.files import atomic_write
from kgsynth.graph.open import GraphSpec
from kgsynth.graph.schema import DEFAULT_SCHEMA
from kgsynth.questions.question import GenerateConfig
from kgsynth.run.focus import FocusConfig
from kgsynth.teacher.judge import JudgeConfig
from kgsynth.teacher.run import TeacherConfig

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


class LoadConfig(BaseModel):
    """``kgsynth load``: the graph to build from its sources, and the store to write it to."""

    model_config = ConfigDict(extra="forbid")

    graph: GraphSpec = Field(default_factory=GraphSpec)


class StatsConfig(BaseModel):
    """``kgsynth stats``: the graph, and the schema whose metapaths are counted."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    graph: GraphSpec = Field(default_factory=GraphSpec)
    schema_name: str = Field(
        default=DEFAULT_SCHEMA, alias="schema", description="graph schema whose metapaths are counted"
    )


class ExportGraphConfig(BaseModel):
    """``kgsynth export-graph``: the graph, and how to export it."""

    model_config = ConfigDict(extra="forbid")

    graph: GraphSpec = Field(default_factory=GraphSpec)
    format: Literal["neo4j-admin"] = Field(default="neo4j-admin", description="export format")
    database: str = Field(default="neo4j", description="target database of the import")


class RunConfig(BaseModel):
    """``kgsynth generate``: the graph, the generation, and the optional teacher step (everything but ``--out``,
    which is where a run goes, not what it is)."""

    model_config = ConfigDict(extra="forbid")

    graph: GraphSpec = Field(default_factory=GraphSpec)
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    compare_uniform: bool = Field(default=True, description="also count rare coverage under uniform start sampling")
    judge: JudgeConfig | None = Field(default=None, description="drop items a model contests (None: no judge)")
    teacher: TeacherConfig | None = Field(default=None, description="distil chains of thought (None: no teacher)")


def read_config_file(path: Path) -> dict[str, Any]:
    """The mapping in a YAML config file, or an error naming the file (and line) and what was expected."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise KgsynthError(f"cannot read the config file {path}: {reason}", hint="give a readable YAML file") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise KgsynthError(
            f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})",
            hint="fix the file, or start from one a run wrote (OUT/config.yaml)",
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise KgsynthError(f"{path}: expected a mapping of options, found {type(data).__name__}")
    return data


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` laid on it, section by section; ``None`` in ``over`` means "not given".

    >>> merge({"generate": {"n": 5, "seed": 1}}, {"generate": {"n": 10, "seed": None}})
    {'generate': {'n': 10, 'seed': 1}}
    """
    out = dict(base)
    for key, value in over.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        elif isinstance(value, dict):
            pruned = merge({}, value)
            if pruned:
                out[key] = pruned
        else:
            out[key] = value
    return out


def build_config(model: type[M], path: Path | None, flags: dict[str, Any]) -> M:
    """The ``model`` config from the file at ``path`` (if any) with ``flags`` over it (``None``: not given)."""
    return validate_config(model, read_config_file(path) if path is not None else {}, flags, path)


def validate_config(model: type[M], data: dict[str, Any], flags: dict[str, Any], path: Path | None = None) -> M:
    """The ``model`` config from ``data`` (read from ``path``) with ``flags`` over it, or an error naming the
    option, what it must be, and the file it came from."""
    try:
        return model.model_validate(merge(data, flags))
    except ValidationError as exc:
        first = exc.errors()[0]
        names = [str(x) for x in first["loc"] if not isinstance(x, int)]  # list positions say nothing to a user
        where = ".".join(names) or "the config"
        source = f"{path}: " if path is not None else ""
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        if first["type"] == "literal_error" and names:
            raise KgsynthError(f"{source}invalid option {where}: unknown {names[-1]} {first['input']!r}{more}",
                               hint=f"known: {first.get('ctx', {}).get('expected', '')}") from None  # fmt: skip
        raise KgsynthError(
            f"{source}invalid option {where}: {first['msg']}{more}",
            hint="see `kgsynth COMMAND --help`; a config file groups options as `kgsynth config COMMAND` prints them",
        ) from None


def config_yaml(config: BaseModel) -> str:
    """The YAML text of ``config``, as :func:`build_config` reads it back (credentials in URLs removed)."""
    import yaml

    from kgsynth.graph.store.neo4j.connection import redact_uri

    data = config.model_dump(mode="json", by_alias=True)
    for section, key in (("teacher", "base_url"), ("graph", "neo4j")):
        value = (data.get(section) or {}).get(key)
        if key == "neo4j" and isinstance(value, dict) and value.get("uri"):
            value["uri"] = redact_uri(value["uri"])
        elif isinstance(value, str):
            data[section][key] = redact_uri(value)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)


def write_config(config: BaseModel, path: Path) -> None:
    """Write ``config`` to ``path`` atomically, as YAML that ``--config`` accepts."""
    atomic_write(path, config_yaml(config))


COMMAND_CONFIGS: dict[str, type[BaseModel]] = {
    "load": LoadConfig,
    "stats": StatsConfig,
    "export-graph": ExportGraphConfig,
    "generate": RunConfig,
    "export": ExportConfig,
    "focus": FocusConfig,
    "eval": EvalConfig,
}
"""The config model of every command that takes ``--config``."""
