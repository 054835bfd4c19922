"""Where the folders that ship inside the package (`prompts/`, `graph_schemas/`) are at run time.

In an installed wheel they live inside the package (`kgsynth/prompts`, `kgsynth/graph_schemas`, see
`[tool.hatch.build.targets.wheel.force-include]`); in a source checkout they sit at the top of the
repository, beside the `kgsynth/` folder.
"""

from __future__ import annotations

import importlib.resources
import logging
from functools import lru_cache
from pathlib import Path

import jinja2

logger = logging.getLogger(__name__)

_CHECKOUT_ROOT = Path(__file__).resolve().parent.parent


def _shipped_dir(name: str) -> Path:
    try:
        inside = Path(str(importlib.resources.files("kgsynth") / name))
    except (ModuleNotFoundError, TypeError, ValueError):
        # A namespace package (no __init__.py) has no single location to look in.
        inside = Path(__file__).resolve().parent / name
    if inside.is_dir():
        return inside
    return _CHECKOUT_ROOT / name


def prompts_dir() -> Path:
    """The folder of Jinja templates (`prompts/`), installed or in a checkout.

    >>> (prompts_dir() / "teacher").is_dir()
    True
    """
    return _shipped_dir("prompts")


def schemas_dir() -> Path:
    """The folder of graph schemas (`graph_schemas/`), installed or in a checkout."""
    return _shipped_dir("graph_schemas")


@lru_cache(maxsize=2)
def prompts_environment(keep_trailing_newline: bool = False) -> jinja2.Environment:
    """The Jinja environment over `prompts/`: undefined names are errors, not empty strings. Prompts drop a
    template's last newline; the card (a Markdown file) keeps it."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(prompts_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=keep_trailing_newline,
        autoescape=False,
    )
