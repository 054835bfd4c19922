"""HPO annotation frequencies as shares of patients: what findings and phenotype keys are drawn from."""

from __future__ import annotations

import logging
import re

from kgsynth.graph.model import Graph

logger = logging.getLogger(__name__)

# HPO frequency terms -> the share of patients they stand for.
FREQUENCY = {
    "HP:0040280": 1.0,  # obligate
    "HP:0040281": 0.9,  # very frequent
    "HP:0040282": 0.55,  # frequent
    "HP:0040283": 0.17,  # occasional
    "HP:0040284": 0.025,  # very rare
    "HP:0040285": 0.0,  # excluded
}
_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")

_RATIO = re.compile(r"^(\d+)/(\d+)$")


def frequency_share(value: str | None) -> float:
    """An HPO frequency qualifier as a share in [0, 1] (0.5 when the source gives none).

    >>> frequency_share("3/4"), frequency_share("HP:0040281"), frequency_share("20%"), frequency_share(None)
    (0.75, 0.9, 0.2, 0.5)
    """
    if not value:
        return 0.5
    if value in FREQUENCY:
        return FREQUENCY[value]
    m = _RATIO.match(value)
    if m and int(m.group(2)) > 0:
        return int(m.group(1)) / int(m.group(2))
    m = _PERCENT.match(value)
    if m:
        return float(m.group(1)) / 100
    return 0.5


def edge_share(graph: Graph, edge: int) -> float:
    """The frequency share of a phenotype annotation edge (see :func:`frequency_share`)."""
    q = int(graph.qual[edge])
    return frequency_share(graph.qualifiers[q].get("frequency") if q >= 0 else None)
