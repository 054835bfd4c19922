"""Every docstring example in kgsynth and the trainers runs and holds (so that none rots unseen)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import kgsynth
import kgsynth_trainers


def _modules() -> list[str]:
    names: list[str] = []
    for package in (kgsynth, kgsynth_trainers):
        names.append(package.__name__)
        names += [m.name for m in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}.")]
    return sorted(name for name in names if not name.endswith(".__main__"))  # those run the command line


MODULES = _modules()


def test_the_walk_finds_the_subpackages() -> None:
    assert {"kgsynth.graph.index", "kgsynth.questions.verify", "kgsynth_trainers.recipe"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_hold(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{module}: {result.failed} of {result.attempted} examples failed"
