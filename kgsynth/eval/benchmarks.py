"""Question sets to evaluate on, read from benchmark files (`kgsynth.dataset.benchmark_files`), a run or an export.

A set is a list of `EvalItem`: the student's prompt (the same template the dataset rows use,
`kgsynth.questions.prompt.student_messages`), the gold letter or the short answer's names, and the
groups results are broken down by. Sets come from

- the shared benchmarks by name (`SHARED`: `medqa`, `medmcqa`, `mmlu_medical`, `pubmedqa`), found in
  `benchmarks/` beside the ontologies (`../shared/data/benchmarks`) or `$KGSYNTH_BENCHMARKS_DIR`;
- a user's file (JSON, JSONL, CSV or parquet): the question, the options (a list, a dict letter ->
  text, or lettered columns `A`, `B`, ... / `opa`, `opb`, ... / `option_a`, ...) and the answer (a
  letter or an option's text) are found by name (`FIELD_NAMES`) or named with `FieldMap` overrides
  (`--field question=COL`); without options an item is short-answer, judged against the answer
  and its `aliases`; at most `MAX_OPTIONS` options;
- a kgsynth generate run (its folder), or an exported dataset's split (`DIR:test`, `test` by default),
  whose items keep their type, hops and rarity for the breakdown.

A file that does not fit raises one `KgsynthError` naming the file, the record and the field.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from kgsynth.dataset.benchmark_files import (
    BENCHMARKS_ENV,
    QUESTION_FIELDS,
    Records,
    benchmarks_root,
    find_field,
    read_records,
)
from kgsynth.errors import KgsynthError
from kgsynth.models.base import Message
from kgsynth.questions.item import Item, Option
from kgsynth.questions.sample import rarity_bin
from kgsynth.run.layout import RUN_RECORD, SHARDS

logger = logging.getLogger(__name__)

EVAL_LETTERS = "ABCDEFGHIJ"
MAX_OPTIONS = len(EVAL_LETTERS)
FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "question": QUESTION_FIELDS,
    "options": ("options", "choices", "option", "candidates", "endings"),
    "answer": ("answer_idx", "answer_letter", "answer", "label", "gold", "correct_answer", "correct", "target"),
    "aliases": ("answer_aliases", "aliases"),
    "id": ("id", "item_id", "qid", "uid"),
}
FIELDS = tuple(FIELD_NAMES)
# Lettered option columns: "A", "opa", "option_a", "Option A", "choice_b", ... (the letter is group 1).
_LETTERED = re.compile(r"^(?:op(?:tion)?|choice)?[ _-]?([a-j])$", re.IGNORECASE)
_LETTER_ANSWER = re.compile(r"^\(?([A-Ja-j])\)?[.)]?$")
CLOSED = "closed"  # `EXPORT:split:closed` asks a kgsynth set without its facts


# -- reading files --------------------------------------------------------------------------------


def lettered_columns(fields: Iterable[str]) -> list[str]:
    """Option columns named by consecutive letters from A (`A`, `B`, ... or `opa`, `opb`, ...), in order.

    >>> lettered_columns(["question", "opb", "opa", "cop", "opc"])
    ['opa', 'opb', 'opc']
    """
    by_letter: dict[str, str] = {}
    for name in fields:
        match = _LETTERED.match(name)
        if match:
            by_letter.setdefault(match.group(1).upper(), name)
    columns = []
    for letter in EVAL_LETTERS:
        if letter not in by_letter:
            break
        columns.append(by_letter[letter])
    return columns if len(columns) >= 2 else []


# -- eval items -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalItem:
    """One question as a model is asked it, and what its answer is judged against
    (`kgsynth.questions.answers.judge`)."""

    id: str
    messages: tuple[Message, ...]
    format: Literal["mcq", "short"]
    letter: str | None  # the gold letter (None for short answers)
    aliases: tuple[str, ...] = ()  # the short answer's names
    letters: str = ""  # the option letters offered
    groups: tuple[tuple[str, str], ...] = ()  # what results are broken down by: (("type", "chain"), ...)
    options: tuple[str, ...] = ()  # the options' texts, in letter order (log-likelihood scoring)
    chains: tuple[
        tuple[str, ...], ...
    ] = ()  # an open-book item's chains in its facts, gold first (`kgsynth.questions.walk`)


@dataclass
class EvalSet:
    """A named set of items, and where it came from."""

    name: str
    source: str
    kind: Literal["benchmark", "file", "kgsynth"]
    items: list[EvalItem] = field(default_factory=list)


@dataclass(frozen=True)
class FieldMap:
    """Where a file keeps each part of a question; None = found by name (`FIELD_NAMES`).

    `options` is one column (a list or a dict) or several (one option per column, in letter order);
    `fixed_options` gives every item the same options (PubMedQA's yes / no / maybe); `answer_index_base`
    reads an integer answer as an option index counted from 0 or 1 (MedMCQA's `cop` counts from 1).
    """

    question: str | None = None
    options: tuple[str, ...] = ()
    answer: str | None = None
    aliases: str | None = None
    id: str | None = None
    fixed_options: tuple[str, ...] = ()
    answer_index_base: int | None = None
    group: str | None = None  # a column results are also broken down by (MMLU's subject)


def parse_field_overrides(values: Sequence[str]) -> dict[str, Any]:
    """`["question=stem", "options=A,B,C"]` -> FieldMap keyword arguments (`--field`)."""
    out: dict[str, Any] = {}
    for value in values:
        name, sep, column = value.partition("=")
        name = name.strip()
        if not sep or name not in FIELDS or not column.strip():
            raise KgsynthError(
                f"--field {value!r}: expected NAME=COLUMN with NAME one of {', '.join(FIELDS)}",
                hint="e.g. --field question=stem --field options=opa,opb,opc,opd",
            )
        columns = [c.strip() for c in column.split(",") if c.strip()]
        out[name] = tuple(columns) if name == "options" else columns[0]
    return out


def student_prompt(question: str, options: Sequence[str]) -> tuple[Message, ...]:
    """The student's prompt for a question and its options (none: a short-answer question)."""
    from kgsynth.questions.prompt import student_messages

    shell = Item.model_construct(
        question=question,
        options=[
            Option(letter=letter, curie="", text=text) for letter, text in zip(EVAL_LETTERS, options, strict=False)
        ],
        format="mcq" if options else "short",
    )
    return student_messages(shell)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from a CSV or parquet gap
        return ""
    return str(value).strip()


@dataclass(frozen=True)
class _Columns:
    question: str
    options: tuple[str, ...]  # one column: a list or dict; several: lettered columns
    answer: str
    aliases: str | None
    id: str | None


def _columns(records: Records, fields: FieldMap) -> _Columns:
    names = sorted({key for row in records.rows[:200] for key in row})
    if not names:
        raise KgsynthError(f"{records.path}: no records", hint="give a file with one question per record")

    def pick(part: str, override: str | None) -> str | None:
        if override is not None:
            if override not in names:
                raise KgsynthError(
                    f"{records.path}: no field {override!r} for the {part} (--field {part}=...)",
                    hint=f"the file's fields: {', '.join(names)}",
                )
            return override
        return find_field(names, FIELD_NAMES[part])

    question = pick("question", fields.question)
    if question is None:
        raise KgsynthError(
            f"{records.path}: no question field among {names}",
            hint=f"name it one of {', '.join(QUESTION_FIELDS)}, or --field question=COLUMN",
        )
    options: tuple[str, ...] = fields.options
    for column in options:
        pick("options", column)
    if not options and not fields.fixed_options:
        single = find_field(names, FIELD_NAMES["options"])
        options = (single,) if single else tuple(lettered_columns(names))
    answer = pick("answer", fields.answer)
    if answer is None:
        raise KgsynthError(
            f"{records.path}: no answer field among {names}",
            hint=f"name it one of {', '.join(FIELD_NAMES['answer'])}, or --field answer=COLUMN",
        )
    return _Columns(question, options, answer, pick("aliases", fields.aliases), pick("id", fields.id))


def _options(row: dict[str, Any], columns: _Columns, fields: FieldMap, where: str) -> list[str]:
    if fields.fixed_options:
        return list(fields.fixed_options)
    if not columns.options:
        return []
    if len(columns.options) == 1:
        name = columns.options[0]
        value = row.get(name)
        if isinstance(value, str) and value.strip().startswith(("[", "{")):
            with contextlib.suppress(ValueError):
                value = json.loads(value)  # a list or dict written into a CSV cell
        if isinstance(value, dict):
            keys = sorted(value, key=str)
            if [str(k).upper() for k in keys] != list(EVAL_LETTERS[: len(keys)]):
                raise KgsynthError(
                    f"{where}: field {name!r} is a dict whose keys {keys} are not the letters A, B, ...",
                    hint="key the options by letter, or give them as a list",
                )
            options = [_text(value[k]) for k in keys]
        elif isinstance(value, list | tuple):
            options = [_text(v) for v in value]
        else:
            raise KgsynthError(
                f"{where}: field {name!r} holds {type(value).__name__}, not a list or dict of options",
                hint="give the options as a list, a dict keyed by letter, or lettered columns",
            )
    else:
        options = [_text(row.get(name)) for name in columns.options]
        while options and not options[-1]:  # fewer options than columns in this row
            options.pop()
    if len(options) > MAX_OPTIONS:
        raise KgsynthError(
            f"{where}: field {columns.options[0]!r} has {len(options)} options, more than {MAX_OPTIONS}",
            hint="evaluation letters options A to J",
        )
    if len(options) < 2 or any(not option for option in options):
        raise KgsynthError(
            f"{where}: field {', '.join(columns.options)!r} has an empty option or fewer than two",
            hint="every multiple-choice question needs at least two non-empty options",
        )
    return options


def _gold_letter(value: Any, options: list[str], *, name: str, fields: FieldMap, where: str) -> str:
    letters = EVAL_LETTERS[: len(options)]
    if isinstance(value, int | float) and not isinstance(value, bool) and fields.answer_index_base is not None:
        index = int(value) - fields.answer_index_base
        if 0 <= index < len(options):
            return letters[index]
        raise KgsynthError(f"{where}: field {name!r} is {value}, not an option index from {fields.answer_index_base}")
    text = _text(value)
    match = _LETTER_ANSWER.match(text)
    if match and match.group(1).upper() in letters:
        return match.group(1).upper()
    from kgsynth.questions.answers import normalise_answer

    wanted = normalise_answer(text)
    hits = [letter for letter, option in zip(letters, options, strict=True) if normalise_answer(option) == wanted]
    if wanted and hits:
        return hits[0]
    hint = "give the answer as a letter or as the text of one option"
    if isinstance(value, int | float) and not isinstance(value, bool):
        hint += "; for an option index, --answer-index-base 0 or 1"
    raise KgsynthError(
        f"{where}: field {name!r} is {text!r}, neither one of the letters {letters} nor an option's text", hint=hint
    )


def _aliases(row: dict[str, Any], columns: _Columns, answer: str) -> tuple[str, ...]:
    names = [answer]
    value = row.get(columns.aliases) if columns.aliases else None
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip().startswith("[") else value.split("|")
        except ValueError:
            value = [value]
    for alias in value if isinstance(value, list | tuple) else []:
        if _text(alias) and _text(alias) not in names:
            names.append(_text(alias))
    return tuple(names)


def read_question_file(path: Path, *, fields: FieldMap | None = None, name: str | None = None) -> EvalSet:
    """The questions of one file as an evaluation set (see the module docstring for what a file may hold)."""
    fields = fields or FieldMap()
    if not path.exists():
        raise KgsynthError(f"benchmark file {path} does not exist")
    records = read_records(path)
    columns = _columns(records, fields)
    items = []
    for k, row in enumerate(records.rows):
        where = records.where(k)
        question = _text(row.get(columns.question))
        if not question:
            raise KgsynthError(f"{where}: field {columns.question!r} (the question) is missing or empty")
        options = _options(row, columns, fields, where)
        if columns.answer not in row or not _text(row.get(columns.answer)):
            raise KgsynthError(f"{where}: field {columns.answer!r} (the answer) is missing or empty")
        item_id = _text(row.get(columns.id)) if columns.id else ""
        groups = (("group", _text(row.get(fields.group))),) if fields.group else ()
        if options:
            letter = _gold_letter(row[columns.answer], options, name=columns.answer, fields=fields, where=where)
            items.append(
                EvalItem(
                    item_id or str(k),
                    student_prompt(question, options),
                    "mcq",
                    letter,
                    letters=EVAL_LETTERS[: len(options)],
                    groups=groups,
                    options=tuple(options),
                )
            )
        else:
            aliases = _aliases(row, columns, _text(row[columns.answer]))
            items.append(EvalItem(item_id or str(k), student_prompt(question, []), "short", None, aliases, "", groups))
    return EvalSet(name or path.stem, str(path), "file", items)


# -- the shared benchmarks ------------------------------------------------------------------------


@dataclass(frozen=True)
class SharedBenchmark:
    folder: str
    pattern: str
    fields: FieldMap
    about: str


SHARED: dict[str, SharedBenchmark] = {
    "medqa": SharedBenchmark(
        "medqa", "us_4_options_test.jsonl", FieldMap(answer="answer_idx"), "MedQA-USMLE test, 4 options (1,273)"
    ),
    "medmcqa": SharedBenchmark(
        "medmcqa", "dev.jsonl", FieldMap(answer="cop", answer_index_base=1), "MedMCQA dev (4,183)"
    ),
    "mmlu_medical": SharedBenchmark(
        "mmlu_medical", "*_test.csv", FieldMap(group="subject"), "MMLU test, 6 medical subjects (1,089)"
    ),
    "pubmedqa": SharedBenchmark(
        "pubmedqa",
        "test_set.json",
        FieldMap(question="QUESTION", answer="final_decision", fixed_options=("yes", "no", "maybe")),
        "PubMedQA PQA-L test, question only (no abstract), yes / no / maybe (500)",
    ),
}


def read_shared(name: str) -> EvalSet:
    """A shared benchmark by name (`SHARED`); MMLU's subjects become the `group` its results break down by."""
    root = benchmarks_root()
    if root is None or not (root / SHARED[name].folder).is_dir():
        raise KgsynthError(
            f"benchmark {name!r}: no shared benchmarks folder found",
            hint=f"set ${BENCHMARKS_ENV} to the folder holding {SHARED[name].folder}/",
        )
    spec = SHARED[name]
    files = sorted((root / spec.folder).glob(spec.pattern))
    result = EvalSet(name, str(root / spec.folder), "benchmark")
    for path in files:
        fields = spec.fields
        one = read_question_file(path, fields=replace(fields, group=None))
        subject = path.stem.removesuffix("_test")
        for item in one.items:
            groups = (("subject", subject),) if fields.group else ()
            result.items.append(
                EvalItem(
                    f"{subject}/{item.id}" if fields.group else item.id,
                    item.messages,
                    item.format,
                    item.letter,
                    item.aliases,
                    item.letters,
                    groups,
                    item.options,
                )
            )
    return result


def shared_subject(evalset: EvalSet, subject: str) -> EvalSet:
    """The items of one subject of a shared benchmark (`mmlu_medical:anatomy`)."""
    subjects = sorted({dict(item.groups).get("subject", "") for item in evalset.items} - {""})
    items = [item for item in evalset.items if dict(item.groups).get("subject") == subject]
    if not items:
        raise KgsynthError(f"benchmark {evalset.name!r} has no subject {subject!r}",
                           hint=f"subjects: {', '.join(subjects) or 'none (it has no subjects)'}")  # fmt: skip
    return EvalSet(f"{evalset.name}:{subject}", f"{evalset.source}:{subject}", evalset.kind, items)


# -- kgsynth runs and exports ---------------------------------------------------------------------


def eval_item(item: Item, *, closed: bool = False) -> EvalItem:
    """A kgsynth item as an evaluation item, from its `eval_row` (the prompt and judge columns the rewards use);
    `closed`: asked without its facts (`kgsynth.questions.item.without_context`), keeping the chains the facts hold
    as the candidates of its hop score."""
    from kgsynth.dataset.rows import eval_row
    from kgsynth.questions.item import without_context
    from kgsynth.questions.walk import candidate_chains, direction_pattern

    row = eval_row(without_context(item) if closed else item)
    messages = tuple({"role": m["role"], "content": m["content"]} for m in row["prompt"])
    groups: tuple[tuple[str, str], ...] = (
        ("type", row["type"]),
        ("format", row["format"]),
        ("hops", str(row["hops"])),
        ("rarity", rarity_bin(row["rarity"])),
    )
    pattern = direction_pattern(item)
    if pattern is not None:
        groups += (("direction", pattern),)
    return EvalItem(
        row["item_id"],
        messages,
        row["format"],
        row["answer_letter"],
        tuple(row["answer_aliases"]),
        row["option_letters"],
        groups,
        tuple(option.text for option in item.options),
        candidate_chains(item),
    )


def closed_book(evalset: EvalSet, items: list[Item]) -> EvalSet:
    """The same kgsynth items asked without their facts (`eval_item(closed=True)`), as `NAME:closed`."""
    return EvalSet(f"{evalset.name}:{CLOSED}", f"{evalset.source}:{CLOSED}", evalset.kind,
                   [eval_item(item, closed=True) for item in items])  # fmt: skip


def _with_export_schema(directory: Path, items: list[Item]) -> list[Item]:
    """Exported items with the schema that wrote them: the rows leave ``schema_name`` out (their prompt columns are
    worded already), and the export's record keeps the run's (`kgsynth.run.layout.EXPORT_RECORD`)."""
    import json

    from kgsynth.graph.schema import DEFAULT_SCHEMA
    from kgsynth.run.layout import EXPORT_RECORD

    record = directory / EXPORT_RECORD
    run = json.loads(record.read_text(encoding="utf-8")).get("run", {}) if record.is_file() else {}
    schema = (run.get("config") or {}).get("schema_name")
    if not schema or schema == DEFAULT_SCHEMA:
        return items
    return [item.model_copy(update={"schema_name": schema}) for item in items]


def read_kgsynth(directory: Path, split: str | None, *, closed: bool = False) -> EvalSet:
    """A generate run's items (`split` must be None), or an exported dataset's split (`test` by default);
    `closed`: the same items without the facts an open-book item shows (`closed_book`)."""
    from kgsynth.run.layout import EXPORT_SUMMARY, SPLITS, data_file

    if (directory / EXPORT_SUMMARY).is_file():
        split = split or "test"
        if split not in SPLITS:
            raise KgsynthError(f"{directory}:{split}: no split {split!r}", hint=f"splits: {', '.join(SPLITS)}")
        path = directory / data_file("items", split)
        if not path.is_file():
            raise KgsynthError(f"{directory} has no {data_file('items', split)}", hint="re-run kgsynth export")
        import pyarrow.parquet as pq

        from kgsynth.dataset.rows import item_from_row

        items = [item_from_row(row) for row in pq.read_table(path).to_pylist()]
        items = _with_export_schema(directory, items)
        evalset = EvalSet(f"{directory.name}:{split}", f"{directory}:{split}", "kgsynth", [eval_item(i) for i in items])
        return closed_book(evalset, items) if closed else evalset
    if (directory / RUN_RECORD).is_file() and (directory / SHARDS).is_dir():
        if split is not None:
            raise KgsynthError(
                f"{directory} is a generate run, which has no splits",
                hint=f"evaluate the whole run ({directory}) or export it and give EXPORT:{split}",
            )
        from kgsynth.run.journal import read_run_items

        items = read_run_items(directory)
        if not items:
            raise KgsynthError(f"{directory} holds no items", hint="run kgsynth generate into it first")
        evalset = EvalSet(directory.name, str(directory), "kgsynth", [eval_item(i) for i in items])
        return closed_book(evalset, items) if closed else evalset
    raise KgsynthError(
        f"{directory} is neither a kgsynth generate run nor an exported dataset",
        hint="give a generate --out folder, an export --out folder (DIR[:split]), or a file",
    )


def resolve_set(spec: str, *, fields: FieldMap | None = None) -> EvalSet:
    """The evaluation set `spec` names: a shared benchmark, a file, a run, or an export's split (`DIR:split`)."""
    path = Path(spec)
    if spec in SHARED and not path.exists():
        return read_shared(spec)
    head, sep, tail = spec.rpartition(":")
    if sep and tail == CLOSED and not path.exists():
        inner, inner_sep, split = head.rpartition(":")
        if inner_sep and Path(inner).is_dir() and not Path(head).exists():
            return read_kgsynth(Path(inner), split, closed=True)
        if Path(head).is_dir():
            return read_kgsynth(Path(head), None, closed=True)
        raise KgsynthError(f"benchmark {spec!r}: only kgsynth runs and exports can be asked closed-book",
                           hint="give RUN:closed or EXPORT:split:closed")  # fmt: skip
    if sep and head in SHARED and not path.exists():
        return shared_subject(read_shared(head), tail)
    if sep and not path.exists() and Path(head).is_dir():
        return read_kgsynth(Path(head), tail)
    if path.is_dir():
        return read_kgsynth(path, None)
    if path.is_file():
        return read_question_file(path, fields=fields)
    raise KgsynthError(
        f"benchmark {spec!r} is neither a shared benchmark nor a file or folder",
        hint=f"shared benchmarks: {', '.join(SHARED)}; or a JSON/JSONL/CSV/parquet file, "
        "a generate run, or an export folder with :split",
    )
