"""``python -m kgsynth.cli``: the same command line as ``kgsynth``."""

from kgsynth.cli import app

app(prog_name="kgsynth")
