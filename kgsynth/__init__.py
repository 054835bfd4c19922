"""kgsynth: turn medical knowledge graphs into verifiable reasoning data, and train models on it."""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
