"""The ``kgsynth`` command line. Heavy imports stay inside commands so that ``--help`` answers instantly.

Each command parses its flags (over its ``--config``), calls one library function and prints what it
did. The commands register on the one typer app (`kgsynth.cli.base.app`) in the order ``--help`` lists
them.
"""

# isort: off
from kgsynth.cli.base import app
from kgsynth.cli import graph, generate, dataset, evaluate  # noqa: F401 -- registers the commands, in this order

# isort: on

__all__ = ["app"]
