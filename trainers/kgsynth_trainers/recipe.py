"""Recipes: flat YAML read strictly into TRL's own config dataclass plus a small kgsynth section.

Every key of a recipe is either a field of the trainer's TRL config (`SFTConfig`, `GRPOConfig`) or a
field of its kgsynth section (`SFTSection`, `GRPOSection`: the dataset, the model, LoRA, rewards,
mining). Anything else, a value of the wrong type, or a missing required key is reported as one
`KgsynthError` naming the file, the key and what was expected -- before any model is loaded.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from kgsynth.errors import KgsynthError

logger = logging.getLogger(__name__)


class ModelSection(BaseModel):
    """The kgsynth keys every trainer reads: what to train on, from which model, how."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Base model: a Hub id, a folder, or the folder of `gguf_file`.")
    gguf_file: str | None = Field(None, description="A .gguf file inside `model` (dequantised on load).")
    init_from: str | None = Field(None, description="Start from this run: a saved model or a LoRA adapter folder.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    dataset: str = Field(description="An export folder (kgsynth export --out) or a Hub dataset id.")
    dataset_config: str
    dataset_split: str = "train"
    max_train_samples: int | None = Field(None, ge=1)
    lora: bool = True
    lora_r: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0)
    lora_target_modules: str | list[str] = "all-linear"
    merge: bool = Field(False, description="After training, merge the LoRA adapter and save a plain model.")
    torch_threads: int | None = Field(None, ge=1, description="torch.set_num_threads (the cores you really have).")


class SFTSection(ModelSection):
    """The kgsynth keys of an SFT recipe."""

    dataset_config: str = "sft"


class GRPOSection(ModelSection):
    """The kgsynth keys of a GRPO recipe: rewards by name, the stage, and stage-2 mining."""

    dataset_config: str = "grpo"
    items_config: str | None = Field("items", description="Config with item metadata for the pass-rate file.")
    rewards: list[str] = Field(default_factory=lambda: ["accuracy", "format", "path_faithfulness"], min_length=1)
    stage: Literal[1, 2] = 1
    mining_k: int = Field(8, ge=1, description="Rollouts per pool item.")
    mining_tau: float = Field(0.5, ge=0.0, le=1.0, description="Keep items whose pass rate is at most this.")
    mining_confirm_k: int = Field(
        0, ge=0, description="0: keep unsolved items; >0: roll out this many more and keep one only if one succeeds."
    )
    mining_success_reward: str = Field("accuracy", description="A rollout succeeds when this reward is 1.")
    mining_backend: Literal["transformers", "vllm"] = "transformers"
    mining_max_items: int | None = Field(None, ge=1, description="Mine only the first N pool items.")
    mining_batch_size: int = Field(8, ge=1, description="Prompts per generate call (transformers).")
    mining_temperature: float = Field(1.0, gt=0.0)
    mining_max_new_tokens: int | None = Field(None, ge=1, description="Default: the recipe's max_completion_length.")


S = TypeVar("S", bound=ModelSection)
C = TypeVar("C")


@dataclass(frozen=True)
class Recipe(Generic[S, C]):
    """A recipe read and checked: its file, the kgsynth section and the TRL config."""

    path: Path
    kgsynth: S
    trl: C
    values: dict[str, Any]  # the recipe's keys after overrides, as written (for the resolved config)


def read_yaml(path: Path) -> dict[str, Any]:
    """The recipe file's mapping; a clear error for a missing file, bad YAML or a non-mapping."""
    if not path.is_file():
        what = "is a folder, not a YAML file" if path.is_dir() else "does not exist"
        raise KgsynthError(f"recipe {path} {what}", hint="see trainers/recipes/<model>/<stage>.yaml")
    try:
        data = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as error:
        raise KgsynthError(f"recipe {path}: not UTF-8 text ({error.reason} at byte {error.start})",
                           hint="give a YAML recipe, e.g. trainers/recipes/<model>/<stage>.yaml") from None  # fmt: skip
    except OSError as error:
        raise KgsynthError(f"cannot read the recipe {path}: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise KgsynthError(f"recipe {where}: not valid YAML ({getattr(error, 'problem', error)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise KgsynthError(f"recipe {path}: expected a mapping of key: value, found {type(data).__name__}")
    return data


def apply_overrides(values: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """`values` with each `key=value` override applied (the value read as YAML: numbers, lists, null).

    >>> apply_overrides({"max_steps": 10}, ["max_steps=3", "rewards=[accuracy]", "output_dir=out/x"])
    {'max_steps': 3, 'rewards': ['accuracy'], 'output_dir': 'out/x'}
    """
    result = dict(values)
    for override in overrides:
        key, sep, text = override.partition("=")
        if not sep or not key.strip():
            raise KgsynthError(f"override {override!r} is not key=value", hint="e.g. max_steps=10")
        try:
            result[key.strip()] = yaml.safe_load(text) if text else None
        except yaml.YAMLError:
            result[key.strip()] = text
    return result


def load_recipe(path: Path, *, overrides: Sequence[str] = (), section: type[S], config: type[C]) -> Recipe[S, C]:
    """Read `path`, apply `overrides`, and check every key against `config` (a TRL dataclass) and `section`.

    All problems are reported together in one `KgsynthError`.
    """
    path = Path(path)
    values = apply_overrides(read_yaml(path), overrides)
    trl_fields = {field.name: field for field in dataclasses.fields(config) if field.init}  # type: ignore[arg-type]
    hints = typing.get_type_hints(config)
    section_keys = set(section.model_fields)
    problems: list[str] = []
    trl_values: dict[str, Any] = {}
    for key, value in values.items():
        if key in section_keys:
            continue
        if key not in trl_fields:
            close = difflib.get_close_matches(key, [*section_keys, *trl_fields], n=1)
            problems.append(
                f"key {key!r}: unknown; expected a field of {config.__name__} or of kgsynth's {section.__name__}"
                + (f" (did you mean {close[0]!r}?)" if close else "")
            )
            continue
        try:
            trl_values[key] = TypeAdapter(hints[key]).validate_python(value)
        except ValidationError:
            problems.append(f"key {key!r}: expected {_type_name(hints[key])}, found {value!r}")
            continue
        problem = _out_of_range(key, trl_values[key])
        if problem:
            problems.append(problem)
    try:
        kgsynth = section.model_validate({k: v for k, v in values.items() if k in section_keys})
    except ValidationError as error:
        for item in error.errors():
            key = ".".join(str(part) for part in item["loc"]) or "(recipe)"
            found = "nothing" if item["type"] == "missing" else repr(item.get("input"))
            problems.append(f"key {key!r}: {item['msg'].lower()}, found {found}")
        kgsynth = None
    if "output_dir" not in values:
        problems.append("key 'output_dir': required (the run folder: checkpoints, metrics, report)")
    if problems:
        raise _recipe_error(path, problems)
    try:
        trl = config(**trl_values)
    except (ValueError, TypeError) as error:
        raise _recipe_error(path, [f"{config.__name__} rejects these settings: {error}"]) from None
    assert kgsynth is not None
    return Recipe(path=path, kgsynth=kgsynth, trl=trl, values=values)


# TRL's numeric fields that accept any number but mean something only in a range (TRL itself reads a
# negative max_steps as "train by epochs", so max_steps=-3 would silently train num_train_epochs).
_RANGES: dict[str, tuple[str, Callable[[float], bool]]] = {
    "max_steps": ("-1 (train by num_train_epochs) or a positive number of steps", lambda v: v == -1 or v >= 1),
    "num_train_epochs": ("a positive number", lambda v: v > 0),
    "learning_rate": ("a positive number", lambda v: v > 0),
    "per_device_train_batch_size": ("a positive integer", lambda v: v >= 1),
    "per_device_eval_batch_size": ("a positive integer", lambda v: v >= 1),
    "gradient_accumulation_steps": ("a positive integer", lambda v: v >= 1),
    "warmup_steps": ("0 or more", lambda v: v >= 0),
    "warmup_ratio": ("between 0 and 1", lambda v: 0 <= v <= 1),
    "num_generations": ("2 or more (GRPO compares completions within a group)", lambda v: v >= 2),
    "max_completion_length": ("a positive number of tokens", lambda v: v >= 1),
}


def _out_of_range(key: str, value: Any) -> str | None:
    """The problem with a TRL numeric setting outside the range where it means something, or None."""
    if key not in _RANGES or not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    expected, ok = _RANGES[key]
    return None if ok(value) else f"key {key!r}: expected {expected}, found {value!r}"


def _recipe_error(path: Path, problems: list[str]) -> KgsynthError:
    listed = "\n".join(f"  - {problem}" for problem in problems)
    return KgsynthError(
        f"recipe {path}: {len(problems)} problem{'s' if len(problems) > 1 else ''}\n{listed}",
        hint="fix the recipe or the key=value override; the keys are TRL's config fields plus kgsynth's section "
        "(docs/training.md)",
    )


def _type_name(annotation: Any) -> str:
    text = str(annotation).replace("typing.", "").replace("<class '", "").replace("'>", "")
    return text.replace("NoneType", "None")


def recipe_error(path: Path, problem: str, *, hint: str | None = None) -> KgsynthError:
    """One problem with a recipe found after it was read (a dataset column, a reward name), as a user error."""
    return KgsynthError(f"recipe {path}: {problem}", hint=hint)
