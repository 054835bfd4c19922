"""The one reader of benchmark files: the records of a JSON, JSONL, CSV or parquet file, and where the shared
benchmarks are (`$KGSYNTH_BENCHMARKS_DIR`, else `benchmarks/` beside the ontologies).

Decontamination reads benchmarks' questions through it; evaluation (`kgsynth.eval.benchmarks`) builds its
question sets on it.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kgsynth.errors import KgsynthError

logger = logging.getLogger(__name__)

BENCHMARKS_ENV = "KGSYNTH_BENCHMARKS_DIR"
SUFFIXES = (".json", ".jsonl", ".csv", ".parquet")
# Benchmarks shipped as CSV without a header row: their column names.
HEADERLESS_CSV = {"mmlu_medical": ("question", "A", "B", "C", "D", "answer")}
# Names a question field goes by, most specific first (compared case-insensitively).
QUESTION_FIELDS = ("question", "question_text", "stem", "query", "problem", "prompt", "input", "sent1", "text")


def benchmarks_root() -> Path | None:
    """The shared benchmarks folder: `$KGSYNTH_BENCHMARKS_DIR`, else `benchmarks/` beside the ontologies."""
    env = os.environ.get(BENCHMARKS_ENV)
    if env:
        return Path(env)
    from kgsynth.loaders.base import data_root

    root = data_root()
    if root is not None and (root / "benchmarks").is_dir():
        return root / "benchmarks"
    return None


@dataclass
class Records:
    """The records of a file, and how to say where record k is (`where(k)`: 'line 3', 'row 2', ...)."""

    path: Path
    rows: list[dict[str, Any]]
    unit: str = "record"
    first: int = 1  # the number of the first record in `unit`s (a CSV header is line 1)

    def where(self, k: int) -> str:
        return f"{self.path}, {self.unit} {k + self.first}"


def read_records(path: Path) -> Records:
    """The records of a benchmark file (JSON, JSONL, CSV or parquet), as dicts.

    A JSON file holds a list of objects, an object holding one list of them, an object of objects
    (PubMedQA: `{pmid: {...}}`, each record then also gets its key as `id`), or columns as pandas'
    `to_json` writes them by default (`{field: {row: value}}`) or with `orient="split"`. A CSV in a folder
    named in `HEADERLESS_CSV` has no header row. A file that cannot be read (a folder, no permission, not
    UTF-8 text, not parquet) is one error naming it.
    """
    hint = "give a UTF-8 JSON, JSONL or CSV file, or a parquet file, of question records"
    if path.is_dir():
        raise KgsynthError(f"{path} is a folder, not a benchmark file", hint=hint)
    try:
        return _read_records(path)
    except UnicodeDecodeError as error:
        raise KgsynthError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})", hint=hint) from None
    except OSError as error:
        raise KgsynthError(f"cannot read {path}: {error.strerror or error}", hint=hint) from None
    except Exception as error:
        if not type(error).__module__.startswith("pyarrow"):
            raise
        raise KgsynthError(f"{path}: not a readable parquet file ({str(error).splitlines()[0]})", hint=hint) from None


def _read_records(path: Path) -> Records:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = []
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except ValueError as error:
                    raise KgsynthError(
                        f"{path}, line {number}: not JSON ({error})",
                        hint="a .jsonl file holds one JSON object per line",
                    ) from None
        return Records(path, rows, "line")
    if suffix == ".json":
        text = path.read_bytes().decode("utf-8")  # not UTF-8: read_records says so
        try:
            data = json.loads(text)
        except ValueError as error:
            raise KgsynthError(f"{path}: not JSON ({error})", hint="a .json file holds a list of question objects, "
                               "or an object of them") from None  # fmt: skip
        if isinstance(data, dict) and _column_oriented(data):
            data = _column_rows(data)
        if isinstance(data, dict):
            lists = [value for value in data.values() if isinstance(value, list)]
            if len(data) == 1 and lists:
                data = lists[0]
            else:
                data = [
                    {"id": key, **value} if isinstance(value, dict) and "id" not in value else value
                    for key, value in data.items()
                ]
        if not isinstance(data, list):
            raise KgsynthError(f"{path}: expected a list of objects", hint="give a JSON list of question objects")
        return Records(path, [record for record in data if isinstance(record, dict)], "record")
    if suffix == ".csv":
        headerless = HEADERLESS_CSV.get(path.parent.name)
        with path.open(encoding="utf-8", newline="") as fh:
            if headerless:
                return Records(path, [dict(zip(headerless, row, strict=False)) for row in csv.reader(fh)], "line")
            return Records(path, list(csv.DictReader(fh)), "line", first=2)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return Records(path, pq.read_table(path).to_pylist(), "row")
    raise KgsynthError(f"{path}: not a benchmark file", hint=f"give a file ending in one of {', '.join(SUFFIXES)}")


def _column_oriented(data: dict[str, Any]) -> bool:
    """`data` is a table by columns: pandas' `{"columns": [...], "data": [[...]]}` (orient="split"), or
    `{field: {row: value}}` (the default) whose outer keys name a question field and inner keys do not."""
    if isinstance(data.get("columns"), list) and isinstance(data.get("data"), list):
        return True
    if not data or not all(isinstance(value, dict) for value in data.values()):
        return False
    inner = {key for value in data.values() for key in value}
    return question_field(data) is not None and question_field(inner) is None


def _column_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of a column-oriented table (see `_column_oriented`), in row order."""
    if isinstance(data.get("columns"), list):
        columns = [str(c) for c in data["columns"]]
        return [dict(zip(columns, row, strict=False)) for row in data["data"] if isinstance(row, list)]
    order = list(dict.fromkeys(key for value in data.values() for key in value))
    return [{field: values[row] for field, values in data.items() if row in values} for row in order]


def question_field(fields: Iterable[str]) -> str | None:
    """The field holding the question, chosen by name (`QUESTION_FIELDS`), or None.

    >>> question_field(["id", "QUESTION", "CONTEXTS"])
    'QUESTION'
    """
    return find_field(fields, QUESTION_FIELDS)


def find_field(fields: Iterable[str], names: Sequence[str]) -> str | None:
    """The first of `names` (case-insensitively) among `fields`, as spelt in `fields`; or None."""
    by_name = {name.casefold(): name for name in fields}
    return next((by_name[name] for name in names if name in by_name), None)
