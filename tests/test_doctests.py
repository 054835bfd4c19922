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


def test_the_walk_finds_the_subpackages_and_their_examples() -> None:
    with_examples = {"kgsynth.graph.index", "kgsynth.run.focus", "kgsynth.train", "kgsynth.run.card",
                     "kgsynth_trainers.recipe", "kgsynth_trainers.data", "kgsynth_trainers.mining"}  # fmt: skip
    assert with_examples <= set(MODULES)
    finder = doctest.DocTestFinder()
    for name in with_examples:
        assert any(test.examples for test in finder.find(importlib.import_module(name))), name


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_hold(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{module}: {result.failed} of {result.attempted} examples failed"
