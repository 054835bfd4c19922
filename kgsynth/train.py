"""Training, found through the ``kgsynth.trainers`` entry-point group; the core never imports a trainer.

A trainer is a function `train(recipe: Path, overrides: Sequence[str]) -> Path` (the run folder it
wrote), registered under a name in the group. kgsynth's own (`sft`, `grpo`) live in the separate
`trainers/` package (`kgsynth_trainers`), installed with the heavy extras, and are registered exactly
as a third party's would be. Loading an entry point imports only the trainer's module, whose heavy
imports (torch, TRL) happen when it trains.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path

from kgsynth.errors import KgsynthError, UnknownNameError

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "kgsynth.trainers"
INSTALL_HINT = "install kgsynth's trainers: `pip install -e trainers/` from the repository (or `make train`)"

Trainer = Callable[[Path, Sequence[str]], Path]


def trainer_names() -> list[str]:
    """The names registered in the `kgsynth.trainers` group (nothing is imported)."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def get_trainer(name: str) -> Trainer:
    """The trainer registered as `name`; a clear error saying how to install one when none is."""
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    if not found:
        raise KgsynthError(f"no trainer is installed, so there is no trainer {name!r}", hint=INSTALL_HINT)
    if name not in found:
        raise UnknownNameError("trainer", name, list(found))
    try:
        trainer = found[name].load()
    except ImportError as error:
        raise KgsynthError(
            f"trainer {name!r} ({found[name].value}) cannot be imported: {error}", hint=INSTALL_HINT
        ) from None
    if not callable(trainer):
        raise KgsynthError(f"trainer {name!r} ({found[name].value}) is not a function")
    return trainer


def recipe_overrides(
    overrides: Sequence[str], *, stage: int | None = None, init_from: Path | None = None, merge: bool | None = None
) -> list[str]:
    """`key=value` overrides, with the command line's `--stage`, `--from` and `--merge` as recipe keys.

    >>> recipe_overrides(["max_steps=3"], stage=2, init_from=Path("out/stage1"))
    ['max_steps=3', 'stage=2', 'init_from=out/stage1']
    """
    result = list(overrides)
    for value in result:
        if "=" not in value:
            raise KgsynthError(f"override {value!r} is not key=value", hint="e.g. max_steps=10 output_dir=out/sft")
    if stage is not None:
        result.append(f"stage={stage}")
    if init_from is not None:
        result.append(f"init_from={init_from}")
    if merge is not None:
        result.append(f"merge={str(merge).lower()}")
    return result
