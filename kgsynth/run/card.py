"""The dataset card: ``README.md`` with Hub metadata, rendered from ``prompts/card/dataset_card.md.j2``.

``write_card(directory, CardContext(...))`` writes, into an exported dataset folder (or a generate run):

- ``README.md``: YAML front matter (the true licence of the edges the items use, see
  :mod:`kgsynth.graph.licences`; the ``configs:`` block mapping each config to its parquet files per split, so
  ``datasets.load_dataset(DIR, "grpo")`` works) and a body with the sources and versions, counts by
  type, hops and rarity, the audit table, teacher and verification statistics, dedup and
  decontamination counts and the exact configuration;
- ``rarity_hops.png``: the rarity-and-hops figure the card embeds (byte-identical for the same items);
- ``LICENSE.md`` when the licence is ``other`` over several licences: which licence covers which source.

Everything is read from the folder's layout (``data/<config>/<split>-*.parquet``, ``kgsynth_config.json``,
``export_summary.json``) and from the generate run (``config.json``, ``summary.json``,
``teacher/summary.json``); the items come from the ``items`` config unless given (or, for a run's own
card, from the run's shards).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kgsynth.errors import KgsynthError
from kgsynth.files import atomic_write
from kgsynth.graph.licences import COMBINED_LINK, DatasetLicence, dataset_licence
from kgsynth.questions.item import Item
from kgsynth.resources import prompts_environment
from kgsynth.run.journal import read_run_items
from kgsynth.run.layout import (
    CARD,
    CONFIGS,
    DATA,
    EXPORT_RECORD,
    EXPORT_SUMMARY,
    FIGURE,
    RUN_RECORD,
    SHARDS,
    SPLITS,
    SUMMARY,
    TEACHER,
)

logger = logging.getLogger(__name__)

TEMPLATE = "card/dataset_card.md.j2"
LICENCE_TEMPLATE = "card/licence.md.j2"


@dataclass(frozen=True)
class CardContext:
    """What a card is written from, beyond what the dataset folder itself holds.

    ``run``: the ``kgsynth generate`` folder the data came from (its ``config.json``, ``summary.json`` with
    an optional ``audit`` key, ``teacher/summary.json``); ``items``: the items the dataset holds (default:
    read back from ``data/items/*.parquet``); ``title``: the card's heading.
    """

    run: Path | None = None
    items: Sequence[Item] | None = None
    title: str | None = None


@dataclass(frozen=True)
class ItemFacts:
    """The few fields of an item the card counts and licenses by."""

    type: str
    format: str
    hops: int
    rarity: float
    licences: tuple[str, ...]
    sources: tuple[str, ...]
    non_commercial: bool
    prefixes: tuple[str, ...] = ()  # CURIE prefixes of the entities on its path and of its answer

    @classmethod
    def of(cls, item: Item) -> ItemFacts:
        return cls(
            type=item.type,
            format=item.format,
            hops=item.hops,
            rarity=item.rarity,
            licences=tuple(sorted({*item.licences, *(t.licence for t in item.path)})),
            sources=tuple(sorted({t.source for t in item.path})),
            non_commercial=item.non_commercial,
            prefixes=_prefixes([item.answer.curie, *(c for t in item.path for c in (t.subject, t.object))]),
        )


def _prefixes(curies: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({curie.partition(":")[0] for curie in curies if ":" in curie}))


def id_prefixes() -> dict[str, tuple[str, ...]]:
    """Source name -> the CURIE prefixes of the identifiers it contributes without edges (its loader's
    `id_prefixes`), for every registered loader that has some."""
    from kgsynth.loaders import available_loaders

    return {name: loader.id_prefixes for name, loader in available_loaders().items() if loader.id_prefixes}


@dataclass
class CardData:
    """Everything the template renders (built by :func:`card_data`)."""

    title: str
    licence: DatasetLicence
    facts: list[ItemFacts]
    configs: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # config -> split -> files
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # config -> split -> rows
    kg: dict[str, Any] = field(default_factory=dict)
    kg_non_commercial: list[str] = field(default_factory=list)  # non-commercial sources in the graph
    config: dict[str, Any] = field(default_factory=dict)
    run_summary: dict[str, Any] = field(default_factory=dict)
    teacher: dict[str, Any] = field(default_factory=dict)
    export_summary: dict[str, Any] = field(default_factory=dict)
    # config -> data file -> {num_bytes, checksum}: the content fingerprint `datasets` caches by
    checksums: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise KgsynthError(f"{path}: not valid JSON ({exc})", hint="re-run the step that wrote it") from None
    if not isinstance(data, dict):
        raise KgsynthError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def find_configs(directory: Path) -> dict[str, dict[str, list[str]]]:
    """``{config: {split: [relative parquet paths]}}`` of ``directory/data/<config>/<split>-*.parquet``."""
    out: dict[str, dict[str, list[str]]] = {}
    data = directory / DATA
    if not data.is_dir():
        return out
    for config_dir in sorted(p for p in data.iterdir() if p.is_dir()):
        splits: dict[str, list[str]] = {}
        for f in sorted(config_dir.glob("*.parquet")):
            split = f.name.split("-", 1)[0]
            splits.setdefault(split, []).append(f.relative_to(directory).as_posix())
        if splits:
            order = [s for s in SPLITS if s in splits] + sorted(s for s in splits if s not in SPLITS)
            out[config_dir.name] = {s: splits[s] for s in order}
    order = [c for c in CONFIGS if c in out] + sorted(c for c in out if c not in CONFIGS)
    return {c: out[c] for c in order}


def _facts_from_parquet(files: Iterable[Path]) -> list[ItemFacts]:
    import pyarrow.parquet as pq

    facts = []
    for f in files:
        table = pq.read_table(f)
        names = set(table.column_names)
        need = {"type", "format", "hops", "rarity", "licences", "path"}
        if not need <= names:
            raise KgsynthError(f"{f}: the items config lacks columns {', '.join(sorted(need - names))}",
                               hint="re-export the run with `kgsynth export`")  # fmt: skip
        for row in table.to_pylist():
            path = row["path"]
            if isinstance(path, str):  # a JSON-encoded column
                path = json.loads(path)
            facts.append(
                ItemFacts(
                    type=row["type"],
                    format=row["format"],
                    hops=int(row["hops"]),
                    rarity=float(row["rarity"]),
                    licences=tuple(sorted({*row["licences"], *(t["licence"] for t in path)})),
                    sources=tuple(sorted({t["source"] for t in path})),
                    non_commercial=bool(row.get("non_commercial", False)),
                    prefixes=_prefixes(
                        [row["answer"]["curie"], *(c for t in path for c in (t["subject"], t["object"]))]
                    ),
                )
            )
    return facts


def _rows(directory: Path, files: list[str]) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(directory / f).metadata.num_rows for f in files)


def _checksums(directory: Path, files: list[str]) -> dict[str, dict[str, Any]]:
    """Each file's size and SHA-256, as `datasets.DatasetInfo.download_checksums` records them."""
    out = {}
    for name in files:
        digest = hashlib.sha256()
        with (directory / name).open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        out[name] = {"num_bytes": (directory / name).stat().st_size, "checksum": digest.hexdigest()}
    return out


def _find_kg(record: Any) -> dict[str, Any]:
    """The first ``{"kg": {"sources": ...}}`` record inside a (nested) configuration."""
    if isinstance(record, dict):
        kg = record.get("kg")
        if isinstance(kg, dict) and "sources" in kg:
            return kg
        for value in record.values():
            found = _find_kg(value)
            if found:
                return found
    return {}


def card_data(directory: Path, context: CardContext) -> CardData:
    """Collect what the card says from ``directory`` and ``context`` (see the module docstring)."""
    configs = find_configs(directory)
    if context.items is not None:
        facts = [ItemFacts.of(it) for it in context.items]
    elif "items" in configs:
        facts = _facts_from_parquet(directory / f for files in configs["items"].values() for f in files)
    elif context.run is not None and (context.run / SHARDS).is_dir():
        facts = [ItemFacts.of(it) for it in read_run_items(context.run)]
    else:
        raise KgsynthError(f"{directory}: no items to describe (no data/items/*.parquet)",
                           hint="export the run first: kgsynth export RUN --out DIR")  # fmt: skip
    run_record = _read_json(context.run / RUN_RECORD) if context.run else {}
    config = _read_json(directory / EXPORT_RECORD) or run_record
    kg = _find_kg(run_record) or _find_kg(config)
    # A non-commercial source in the graph binds the data even where no evidence path uses its edges: its
    # nodes and identity joins shaped the candidate sets and names (opt-in, and flagged everywhere).
    nc_sources = [s for s in kg.get("sources", []) if not s.get("commercial_use", True)]
    licence = dataset_licence(
        [*(lic for f in facts for lic in f.licences), *(s["licence"] for s in nc_sources)],
        non_commercial=any(f.non_commercial for f in facts) or bool(nc_sources),
    )
    title = context.title or f"kgsynth dataset ({len(facts):,} items, KG {kg.get('name', '?')} {kg.get('version', '')})"
    teacher = _read_json(context.run / TEACHER / SUMMARY) if context.run else {}
    return CardData(
        title=title.strip(),
        licence=licence,
        facts=facts,
        configs=configs,
        rows={c: {s: _rows(directory, files) for s, files in splits.items()} for c, splits in configs.items()},
        kg=kg,
        kg_non_commercial=[s["name"] for s in nc_sources],
        config=config,
        run_summary=_read_json(context.run / SUMMARY) if context.run else {},
        teacher=teacher,
        export_summary=_read_json(directory / EXPORT_SUMMARY),
        checksums={
            c: _checksums(directory, [f for files in splits.values() for f in files]) for c, splits in configs.items()
        },
    )


def _size_category(n: int) -> str:
    for bound, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < bound:
            return name
    return "1M<n<10M"


def front_matter(data: CardData) -> dict[str, Any]:
    """The card's Hub metadata: licence fields, tags and the ``configs:`` block."""
    lic = data.licence
    meta: dict[str, Any] = {"license": lic.hub}
    if lic.hub == "other":
        meta["license_name"] = lic.name
        meta["license_link"] = lic.link
    if len(lic.texts) > 1 or lic.hub in ("other", "unknown"):
        meta["license_details"] = "; ".join(lic.texts) or "no edges"
    meta["language"] = ["en"]
    meta["pretty_name"] = data.title
    meta["size_categories"] = [_size_category(len(data.facts))]
    meta["task_categories"] = ["question-answering"]
    meta["tags"] = ["medical", "knowledge-graph", "synthetic", "kgsynth"] + (
        ["non-commercial"] if lic.non_commercial else []
    )
    if data.configs:
        meta["configs"] = [
            {
                "config_name": name,
                **({"default": True} if name == "grpo" else {}),
                "data_files": [{"split": split, "path": f"{DATA}/{name}/{split}-*.parquet"} for split in splits],
            }
            for name, splits in data.configs.items()
        ]
        # `datasets.load_dataset(DIR, config)` caches a local folder by its name, its config and a hash of
        # this metadata: the files' checksums make a re-export's rows a new cache entry, not the old rows.
        meta["dataset_info"] = [
            {"config_name": name, "download_checksums": data.checksums.get(name, {})} for name in data.configs
        ]
    return meta


def counts(
    facts: Sequence[ItemFacts], *, identifiers: dict[str, tuple[str, ...]] | None = None
) -> dict[str, dict[str, int]]:
    """Items by type/format/hops, by hops, by rarity decile and by source: of their edges, or of the
    identifiers they carry (`identifiers`: source -> CURIE prefixes, default `id_prefixes()`)."""
    identifiers = id_prefixes() if identifiers is None else identifiers
    rarity = Counter(min(int(f.rarity * 10), 9) for f in facts)
    by_source = Counter(s for f in facts for s in f.sources)
    for name, prefixes in identifiers.items():
        by_source[name] += sum(1 for f in facts if name not in f.sources and set(prefixes) & set(f.prefixes))
    return {
        "by_type_format_hops": dict(sorted(Counter(f"{f.type}/{f.format}/{f.hops}-hop" for f in facts).items())),
        "by_hops": {str(k): v for k, v in sorted(Counter(f.hops for f in facts).items())},
        "by_rarity": {f"{b / 10:.1f}-{(b + 1) / 10:.1f}": rarity.get(b, 0) for b in range(10)},
        "by_source": dict(sorted((name, n) for name, n in by_source.items() if n)),
    }


def draw_rarity_hops(facts: Sequence[ItemFacts]) -> bytes:
    """The rarity-and-hops figure as PNG bytes: rarity histogram stacked by hops, and items per hops and
    type. The same facts give the same bytes (Agg backend, no metadata, fixed size and fonts)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"font.family": "DejaVu Sans", "font.size": 9}):
        fig = Figure(figsize=(9.0, 3.4), dpi=100)
        FigureCanvasAgg(fig)
        left, right = fig.subplots(1, 2)
        hops = sorted({f.hops for f in facts})
        bins = [i / 10 for i in range(11)]
        series = [[f.rarity for f in facts if f.hops == h] for h in hops]
        if series:
            left.hist(series, bins=bins, stacked=True, label=[f"{h}-hop" for h in hops])
            left.legend(title="hops", frameon=False)
        left.set_xlabel("rarity of the start entity")
        left.set_ylabel("items")
        left.set_title("rarity, stacked by hops")
        types = sorted({f.type for f in facts})
        width = 0.8 / max(len(types), 1)
        for k, t in enumerate(types):
            per_hop = Counter(f.hops for f in facts if f.type == t)
            right.bar([h + (k - (len(types) - 1) / 2) * width for h in hops], [per_hop.get(h, 0) for h in hops],
                      width=width, label=t)  # fmt: skip
        right.set_xticks(hops)
        right.set_xlabel("hops")
        right.set_ylabel("items")
        right.set_title("items per hops and type")
        if types:
            right.legend(frameon=False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


FOCUS_STEERS = ("metapath", "relation", "type", "rarity_bin")  # what `generate --focus` weights within a run


def focus_toward(summary: dict[str, Any], *, top: int = 3) -> dict[str, list[tuple[str, float]]]:
    """What a focused run's sampling was weighted toward: per dimension it steers, the ``top`` values weighing
    more than 1, heaviest first (empty when the run was not focused).

    >>> focus_toward({"focus": {"weights": {"hops": {"3": 2.0}, "relation": {"a": 0.5, "b": 1.5, "c": 3.0}}}})
    {'relation': [('c', 3.0), ('b', 1.5)]}
    """
    weights = (summary.get("focus") or {}).get("weights") or {}
    out: dict[str, list[tuple[str, float]]] = {}
    for dimension in FOCUS_STEERS:
        heavy = sorted(
            ((v, w) for v, w in (weights.get(dimension) or {}).items() if w > 1.0), key=lambda x: (-x[1], x[0])
        )
        if heavy:
            out[dimension] = heavy[:top]
    return out


def render_card(data: CardData, *, figure: str | None = FIGURE) -> str:
    """The text of ``README.md`` for ``data``."""
    meta = yaml.safe_dump(front_matter(data), sort_keys=False, allow_unicode=True, width=1000)
    return (
        prompts_environment(keep_trailing_newline=True)
        .get_template(TEMPLATE)
        .render(
            front_matter=meta.rstrip("\n"),
            data=data,
            licence=data.licence,
            counts=counts(data.facts),
            focus_toward=focus_toward(data.run_summary),
            figure=figure,
            config_file=EXPORT_RECORD if (data.configs and data.config) else None,
            config_json=json.dumps(data.config, indent=1, sort_keys=True, ensure_ascii=False),
            tojson=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False),
        )
    )


def render_licence_file(data: CardData) -> str:
    """``LICENSE.md`` of a dataset whose edges come under several licences."""
    by_licence: dict[str, list[str]] = {}
    for s in data.kg.get("sources", []):
        by_licence.setdefault(s.get("licence", ""), []).append(s.get("name", "?"))
    template = prompts_environment(keep_trailing_newline=True).get_template(LICENCE_TEMPLATE)
    return template.render(licence=data.licence, by_licence=by_licence)


def write_card(directory: Path, context: CardContext | None = None) -> Path:
    """Write ``README.md`` (and its figure, and ``LICENSE.md`` when needed) into ``directory``; return the
    path of ``README.md``. Same folder and context -> byte-identical files."""
    context = context or CardContext()
    data = card_data(directory, context)
    atomic_write(directory / FIGURE, draw_rarity_hops(data.facts))
    if data.licence.link == COMBINED_LINK:
        atomic_write(directory / COMBINED_LINK, render_licence_file(data).encode("utf-8"))
    readme = directory / CARD
    atomic_write(readme, render_card(data).encode("utf-8"))
    logger.info("wrote %s (licence %s)", readme, data.licence.hub)
    return readme
