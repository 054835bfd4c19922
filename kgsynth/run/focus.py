"""The loop back to the graph: which relations, metapaths, hops, question types and rarity bins a policy fails.

`derive_focus(rows)` reads the per-item pass rates that stage-2 mining writes (`passrates.jsonl`: one
JSON object per item with `type`, `hops`, `metapath` (relations joined by `>`), `rarity`, `k`,
`successes`, `pass_rate`) and returns, per dimension, each value's failure rate and a sampling weight:

    weight = smoothed failure rate of the value / overall failure rate, clipped to [min_weight, max_weight]

The failure rate is smoothed towards the overall one (`prior_items` pseudo-items), so a value seen on
two items does not get an extreme weight. A weight above 1 means "generate more of this". The same
rows give byte-identical JSON.

`kgsynth generate --focus focus.json` reads the file back strictly (:func:`read_focus`) and weights its
sampling by it: each draft (a walk with its proof, before assembly) is kept with probability
:func:`draft_weight` / :func:`weight_bound` (its metapath's weight, or the product of its relations' weights
when the metapath is not in the file, times its question type's and its start's rarity bin's weights), so
the drafts that reach assembly follow the unfocused distribution multiplied by the weights (rejection
sampling: a start's rarity bin is weighed in the joint draw, not only among one metapath's starts, whose
rarities often share one bin). Hops are fixed per run (`--hops`): their weights say which `--hops` to run.
The file's SHA-256 and weights go into the run's `config.json` (a resume with another file is refused),
its summary and its card.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kgsynth.errors import KgsynthError, SourceFormatError, validation_message
from kgsynth.files import atomic_write
from kgsynth.questions.sample import rarity_bin

logger = logging.getLogger(__name__)

FOCUS_VERSION = 1


class FocusConfig(BaseModel):
    """How failure rates become sampling weights."""

    model_config = ConfigDict(extra="forbid")

    prior_items: float = Field(default=4.0, ge=0.0, description="Pseudo-items smoothing each rate.")
    min_weight: float = Field(default=0.25, gt=0.0)
    max_weight: float = Field(default=4.0, gt=0.0)
    min_items: int = Field(default=1, ge=1, description="Values seen on fewer items are left out (weight 1).")


PASSRATES_FILE = "passrates.jsonl"  # what stage-2 mining writes beside its checkpoint, one PassRateRow a line


class PassRateRow(BaseModel):
    """One row of a pass-rate file: the contract between the trainers' mining, which writes it, and `derive_focus`,
    which reads it (checked on both sides)."""

    model_config = ConfigDict(extra="allow", strict=True)

    k: int = Field(gt=0, description="Rollouts sampled for the item.")
    successes: int = Field(ge=0, description="Rollouts judged correct (at most k).")
    type: str | None = None
    hops: int | str | None = None
    metapath: str | None = None
    rarity: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _at_most_k(self) -> PassRateRow:
        if self.successes > self.k:
            raise ValueError(f"successes ({self.successes}) exceeds k ({self.k})")
        return self


def read_pass_rates(path: Path) -> list[dict[str, Any]]:
    """The rows of a pass-rate file; a clear error naming the line that is not a pass-rate row (a field of the
    wrong type, ``k`` not positive, ``successes`` outside ``0..k``, a rarity outside ``[0, 1]``), or a file that
    holds none."""
    hint = "pass the passrates.jsonl beside a stage-2 run's checkpoint (kgsynth train grpo --stage 2)"
    if not path.is_file():
        raise SourceFormatError(path, None, "a passrates.jsonl file (written by kgsynth train grpo --stage 2)",
                                hint=hint)  # fmt: skip
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceFormatError(path, None, "UTF-8 text, one JSON object per line",
                                found=f"byte 0x{exc.object[exc.start]:02x} at offset {exc.start}",
                                hint=hint) from None  # fmt: skip
    except OSError as exc:
        raise KgsynthError(f"cannot read {path}: {exc.strerror or exc}", hint=hint) from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise SourceFormatError(path, number, "one JSON object per line", found=line, hint=hint) from None
        if not isinstance(row, dict):
            raise SourceFormatError(path, number, "a JSON object with k and successes", found=line, hint=hint)
        try:
            PassRateRow.model_validate(row)
        except ValidationError as exc:
            raise SourceFormatError(path, number, f"a pass-rate row ({validation_message(exc)})",
                                    found=line, hint=hint) from None  # fmt: skip
        rows.append(row)
    if not rows:
        raise SourceFormatError(path, None, "at least one pass-rate row, found none (an empty file)", hint=hint)
    return rows


def _values(row: Mapping[str, Any]) -> dict[str, list[str]]:
    metapath = row.get("metapath") or ""
    values = {
        "type": [str(row["type"])] if row.get("type") is not None else [],
        "hops": [str(row["hops"])] if row.get("hops") is not None else [],
        "metapath": [metapath] if metapath else [],
        "relation": sorted(set(metapath.split(">"))) if metapath else [],
        "rarity_bin": [rarity_bin(float(row["rarity"]))] if row.get("rarity") is not None else [],
    }
    return values


def derive_focus(rows: Iterable[Mapping[str, Any]], *, config: FocusConfig | None = None) -> dict[str, Any]:
    """Failure rates and sampling weights per dimension (see the module doc), most failed first.

    >>> rows = [{"type": "chain", "hops": 2, "metapath": "a>b", "rarity": 0.9, "k": 4, "successes": 0},
    ...         {"type": "chain", "hops": 2, "metapath": "a>c", "rarity": 0.1, "k": 4, "successes": 4}]
    >>> focus = derive_focus(rows, config=FocusConfig(prior_items=0))
    >>> focus["weights"]["relation"]
    {'b': 2.0, 'a': 1.0, 'c': 0.25}
    """
    config = config or FocusConfig()
    rows = list(rows)
    rollouts = sum(int(row["k"]) for row in rows)
    failures = sum(int(row["k"]) - int(row["successes"]) for row in rows)
    overall = failures / rollouts if rollouts else 0.0
    counts: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    for row in rows:
        for dimension, values in _values(row).items():
            for value in values:
                entry = counts[dimension][value]
                entry[0] += 1
                entry[1] += int(row["k"])
                entry[2] += int(row["k"]) - int(row["successes"])
    groups: dict[str, list[dict[str, Any]]] = {}
    weights: dict[str, dict[str, float]] = {}
    for dimension in ("relation", "metapath", "type", "hops", "rarity_bin"):
        entries: list[dict[str, Any]] = []
        for value, (items, k, failed) in counts.get(dimension, {}).items():
            if items < config.min_items:
                continue
            rate = failed / k
            smoothed = (failed + config.prior_items * overall) / (k + config.prior_items)
            weight = smoothed / overall if overall else 1.0
            weight = min(config.max_weight, max(config.min_weight, weight))
            entries.append({"value": value, "items": items, "rollouts": k, "failure_rate": round(rate, 6),
                            "weight": round(weight, 6)})  # fmt: skip
        entries.sort(key=lambda e: (-e["weight"], -e["items"], e["value"]))
        groups[dimension] = entries
        weights[dimension] = {e["value"]: e["weight"] for e in entries}
    return {
        "focus_version": FOCUS_VERSION,
        "items": len(rows),
        "rollouts": rollouts,
        "overall_failure_rate": round(overall, 6),
        "config": config.model_dump(),
        "weights": weights,
        "groups": groups,
    }


def write_focus(focus: Mapping[str, Any], path: Path) -> Path:
    """The focus as indented, key-sorted JSON (same focus, same bytes), written beside and moved into place (a
    failed write leaves the file that was there)."""
    return atomic_write(path, json.dumps(focus, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


DIMENSIONS = ("relation", "metapath", "type", "hops", "rarity_bin")
Weight = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


class FocusWeights(BaseModel):
    """The sampling weights of a focus file, per dimension (a value left out weighs 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    relation: dict[str, Weight] = Field(default_factory=dict)
    metapath: dict[str, Weight] = Field(default_factory=dict)
    type: dict[str, Weight] = Field(default_factory=dict)
    hops: dict[str, Weight] = Field(default_factory=dict)
    rarity_bin: dict[str, Weight] = Field(default_factory=dict)


class FocusFile(BaseModel):
    """A focus file as `kgsynth focus` writes it (`derive_focus`); read strictly by `generate --focus`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    focus_version: int = Field(ge=1, le=FOCUS_VERSION)
    items: int = Field(ge=0)
    rollouts: int = Field(ge=0)
    overall_failure_rate: float = Field(ge=0.0, le=1.0)
    config: FocusConfig
    weights: FocusWeights
    groups: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)


class Focus(BaseModel):
    """A read focus file: where it was, its SHA-256 and its weights (what a run records and samples by)."""

    model_config = ConfigDict(frozen=True)

    file: str
    sha256: str
    weights: FocusWeights
    bounds: tuple[float, float]  # the file's (min_weight, max_weight): what a relation product is clipped to

    def record(self) -> dict[str, Any]:
        """What the run's `config.json` and summary hold of the focus (the path is not part of it)."""
        return {"sha256": self.sha256, "weights": self.weights.model_dump()}


def read_focus(path: Path) -> Focus:
    """The focus file at ``path``, validated strictly: a bad file is one error naming the file and the field."""
    hint = "pass a focus file written by `kgsynth focus PASSRATES --out focus.json`"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise KgsynthError(f"cannot read the focus file {path}: {exc.strerror or exc}", hint=hint) from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KgsynthError(f"{path}: not a JSON focus file ({exc})", hint=hint) from None
    try:
        parsed = FocusFile.model_validate(data)
    except ValidationError as exc:
        raise KgsynthError(f"{path}: field {validation_message(exc)}", hint=hint) from None
    bounds = (parsed.config.min_weight, parsed.config.max_weight)
    return Focus(file=str(path), sha256=hashlib.sha256(raw).hexdigest(), weights=parsed.weights, bounds=bounds)


def metapath_weight(weights: FocusWeights, relations: list[str], *, bounds: tuple[float, float]) -> float:
    """The weight of a path with these relations (in order): its metapath's weight, or else the product of its
    distinct relations' weights clipped to ``bounds`` (the focus file's min and max weight).

    >>> w = FocusWeights(metapath={"a>b": 3.0}, relation={"a": 2.0, "c": 0.5})
    >>> metapath_weight(w, ["a", "b"], bounds=(0.25, 4.0)), metapath_weight(w, ["a", "c", "a"], bounds=(0.25, 4.0))
    (3.0, 1.0)
    """
    metapath = ">".join(relations)
    if metapath in weights.metapath:
        return weights.metapath[metapath]
    product = math.prod(weights.relation.get(r, 1.0) for r in sorted(set(relations)))
    return min(bounds[1], max(bounds[0], product))


def draft_weight(focus: Focus, *, relations: list[str], qtype: str, rarity: float) -> float:
    """A draft's focus weight: its metapath's (:func:`metapath_weight`) times its question type's times its start's
    rarity bin's."""
    w = focus.weights
    path = metapath_weight(w, relations, bounds=focus.bounds)
    return path * w.type.get(qtype, 1.0) * w.rarity_bin.get(rarity_bin(rarity), 1.0)


def weight_bound(focus: Focus, *, types: Iterable[str]) -> float:
    """No draft of these question types weighs more (what :func:`draft_weight` is divided by to keep a draft)."""
    w = focus.weights
    relations = math.prod(x for x in w.relation.values() if x > 1.0)
    paths = max([1.0, *w.metapath.values(), min(focus.bounds[1], max(focus.bounds[0], relations))])
    return paths * max(w.type.get(t, 1.0) for t in types) * max([1.0, *w.rarity_bin.values()])
