"""Export: a generate run as a dataset folder that TRL and `datasets` load as it is.

`export_run(run, out, config=ExportConfig())` reads the run's items, drops duplicates
(`kgsynth.dataset.dedup`) and copies of benchmark questions (`kgsynth.dataset.decontam`), splits the rest
(`kgsynth.dataset.split`) and writes, into `out`:

- `data/<config>/<split>-00000-of-00001.parquet` for the configs `sft`, `grpo` and `items` (rows from
  `kgsynth.dataset.rows`) and the splits `train`, `validation`, `test`;
- `README.md`: the dataset card (`kgsynth.run.card`), whose `configs:` block maps each config to its files,
  so `datasets.load_dataset(out, "grpo")` works;
- `kgsynth_config.json`: this export's configuration and the run's;
- `export_summary.json`: rows per config and split, what dedup, decontamination and the split dropped, and
  each split's direction patterns (`kgsynth.questions.walk.direction_counts`: which hops walk against the stored edge).

The run is read through its journal (`kgsynth.run.journal.read_run_items`: an edited, cut or deleted shard is
refused). The folder is written into a partial folder beside `out` (`kgsynth.graph.store.partial`) and moved
into place at the end, so a failed export leaves a previous one intact; an `out` holding anything an
export does not write is refused, never emptied. The same run and options give byte-identical files.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kgsynth.dataset.decontam import DecontamConfig, decontaminate, load_benchmarks
from kgsynth.dataset.dedup import DedupConfig, dedup
from kgsynth.dataset.rows import FEATURES, SftChain, grpo_row, item_row, sft_row
from kgsynth.dataset.split import SplitConfig, SplitResult, split_items
from kgsynth.errors import KgsynthError
from kgsynth.graph.store.partial import make_partial, remove_stale_partials, swap_in
from kgsynth.questions.item import Item
from kgsynth.questions.walk import direction_counts
from kgsynth.run.journal import write_error
from kgsynth.run.layout import (
    CARD,
    CONFIGS,
    EXPORT_RECORD,
    EXPORT_SUMMARY,
    RUN_RECORD,
    SPLITS,
    TEACHER,
    TEACHER_RESULTS,
    data_file,
)

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


class ExportConfig(BaseModel):
    """Everything that says how a run is exported (the `kgsynth export` options)."""

    model_config = ConfigDict(extra="forbid")

    split: SplitConfig = Field(default_factory=SplitConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    decontam: DecontamConfig = Field(default_factory=DecontamConfig)
    sft_chain: SftChain = Field(
        default="rationale",
        description="the sft chain of an item the teacher kept none for: its templated rationale, "
        "or its path as a terse chain of names (A → B → C)",
    )
    allow_empty_split: bool = Field(
        default=False, description="write a train, validation or test split that holds no items (else an error)"
    )


def read_teacher_chains(run: Path) -> dict[str, list[tuple[int, str]]]:
    """The verified chains the teacher kept for each item of `run` (`teacher/results.jsonl`), if any."""
    path = run / TEACHER / TEACHER_RESULTS
    chains: dict[str, list[tuple[int, str]]] = {}
    if not path.is_file():
        return chains
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            try:
                record = json.loads(line)
            except ValueError:
                raise KgsynthError(f"{path}, line {number}: not JSON", hint="re-run the teacher step") from None
            kept = [(s["index"], s["text"]) for s in record.get("samples", []) if s.get("kept") and s.get("text")]
            if kept:
                chains[record["item_id"]] = kept
    return chains


def build_rows(
    items: list[Item], chains: dict[str, list[tuple[int, str]]], *, sft_chain: SftChain = "rationale"
) -> dict[str, list[dict[str, Any]]]:
    """The rows of every config for `items`: one per item, and for `sft` one per kept teacher chain
    (the item's templated rationale, or its path as names, when the teacher kept none: `sft_chain`)."""
    sft: list[dict[str, Any]] = []
    for item in items:
        kept = chains.get(item.id)
        if kept:
            sft += [sft_row(item, chain=text, sample=index) for index, text in kept]
        else:
            sft.append(sft_row(item, fallback=sft_chain))
    return {"sft": sft, "grpo": [grpo_row(item) for item in items], "items": [item_row(item) for item in items]}


def write_parquet(rows: list[dict[str, Any]], config: str, path: Path) -> None:
    """`rows` as one parquet file with the config's features (so an empty split keeps its schema)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    features = FEATURES[config]()
    table = pa.Table.from_pylist(rows, schema=features.arrow_schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def write_readme(directory: Path, run: Path) -> None:
    """The dataset card, with the `configs:` block that maps each config to its files."""
    from kgsynth.run.card import CardContext, write_card

    write_card(directory, CardContext(run=run))


def _read_run(run: Path) -> tuple[list[Item], dict[str, Any]]:
    from kgsynth.run.journal import read_run_items

    items = read_run_items(run)  # every shard checked against the run's journal before a row is built
    if not items:
        raise KgsynthError(f"{run} holds no items", hint="run `kgsynth generate` into it first")
    return items, json.loads((run / RUN_RECORD).read_text(encoding="utf-8"))


def export_files() -> frozenset[str]:
    """Every file an export writes, relative to its folder (the card's figure and licence file included)."""
    from kgsynth.graph.licences import COMBINED_LINK
    from kgsynth.run.layout import FIGURE

    data = {data_file(name, split) for name in CONFIGS for split in SPLITS}
    return frozenset({CARD, EXPORT_RECORD, EXPORT_SUMMARY, FIGURE, COMBINED_LINK, *data})


def check_out(out: Path) -> None:
    """Refuse an `out` that an export may not replace: a file, or a folder holding anything an export does
    not write (an export is replaced whole, so those files would be lost)."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise KgsynthError(f"--out {out} is not a folder", hint="give a new or empty folder, or an earlier export")
    if not out.exists():
        return
    ours = export_files()
    foreign = sorted(
        str(path.relative_to(out))
        for path in out.rglob("*")
        if (path.is_symlink() or not path.is_dir()) and str(path.relative_to(out)) not in ours
    )
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise KgsynthError(
            f"--out {out} holds files an export does not write: {shown}",
            hint="give a new or empty folder, or move those files away; kgsynth never deletes what it did not write",
        )


def _dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def export_run(
    run: Path, out: Path, *, config: ExportConfig | None = None, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Export the generate run in `run` into the dataset folder `out` (see the module docstring); return
    the export summary."""
    config = config or ExportConfig()
    step = progress or (lambda _: None)
    check_out(out)
    items, run_config = _read_run(run)
    questions = load_benchmarks(config.decontam)
    step("dedup")
    unique = dedup(items, config=config.dedup)
    step("decontamination")
    clean = decontaminate(unique.kept, questions, config=config.decontam)
    step("split")
    splits = split_items(clean.kept, config=config.split)
    chains = read_teacher_chains(run)

    asked = {"train": 1.0, "validation": config.split.validation_size, "test": config.split.test_size}
    for name in SPLITS:
        if not splits.splits[name] and asked[name] > 0 and not config.allow_empty_split:
            raise KgsynthError(
                f"the {name} split would be empty ({splits.counts()}; {len(clean.kept)} items after dedup and "
                "decontamination)",
                hint="generate more items, change --validation-size/--test-size or --split-by, or pass "
                "--allow-empty-split; nothing was written",
            )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(out.parent)  # only folders named as ours, left by a process that has ended
        tmp = make_partial(out.parent)
    except OSError as exc:
        raise write_error(exc, out) from None
    try:
        step("write")
        rows_written, sources = _write_rows(tmp, splits, chains, sft_chain=config.sft_chain)
        summary = {
            "format": FORMAT_VERSION,
            "items_in_run": len(items),
            "dedup": {"kept": len(unique.kept), "dropped": unique.counts()},
            "decontamination": {"kept": len(clean.kept), "benchmarks": clean.counts()},
            "split": splits.counts(),
            "directions": {split: direction_counts(splits.splits[split]) for split in SPLITS},
            "rows": rows_written,
            "sft_chain_source": dict(sorted(sources.items())),
        }
        (tmp / EXPORT_SUMMARY).write_text(_dumps(summary), encoding="utf-8")
        record = {"export": config.model_dump(mode="json"), "run": run_config}
        (tmp / EXPORT_RECORD).write_text(_dumps(record), encoding="utf-8")
        step("card")
        write_readme(tmp, run)
        check_out(out)  # again: a file put into `out` while the export ran is not lost either
        swap_in(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_error(exc, out) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("exported %s -> %s: %s", run, out, summary["split"])
    return summary


def _write_rows(
    directory: Path, splits: SplitResult, chains: dict[str, list[tuple[int, str]]], *, sft_chain: SftChain
) -> tuple[dict[str, dict[str, int]], Counter[str]]:
    """Every config's rows of every split as parquet in `directory`; the rows per config and split, and
    where the sft chains came from."""
    rows_written: dict[str, dict[str, int]] = {name: {} for name in CONFIGS}
    sources: Counter[str] = Counter()
    for split in SPLITS:
        rows = build_rows(splits.splits[split], chains, sft_chain=sft_chain)
        sources.update(row["chain_source"] for row in rows["sft"])
        for name in CONFIGS:
            write_parquet(rows[name], name, directory / data_file(name, split))
            rows_written[name][split] = len(rows[name])
    return rows_written, sources
