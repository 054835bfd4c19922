"""PrimeKG's ``kg.csv`` (the KG MedReason grounds on), mapped to Biolink categories and predicates."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import ClassVar

from kgsynth.errors import SourceFormatError
from kgsynth.graph.model import GraphBuilder
from kgsynth.loaders.base import Loader, read_csv

logger = logging.getLogger(__name__)

COLUMNS = (
    "relation", "display_relation", "x_index", "x_id", "x_type", "x_name", "x_source",
    "y_index", "y_id", "y_type", "y_name", "y_source",
)  # fmt: skip

CATEGORY = {
    "gene/protein": "biolink:Gene",
    "drug": "biolink:Drug",
    "effect/phenotype": "biolink:PhenotypicFeature",
    "disease": "biolink:Disease",
    "biological_process": "biolink:BiologicalProcess",
    "molecular_function": "biolink:MolecularActivity",
    "cellular_component": "biolink:CellularComponent",
    "exposure": "biolink:ChemicalExposure",
    "pathway": "biolink:Pathway",
    "anatomy": "biolink:AnatomicalEntity",
}

# PrimeKG relation -> (Biolink predicate, negated, subject type). Rows listed the other way round
# (PrimeKG stores most edges in both directions) are turned to face the subject type, then merged.
RELATION: dict[str, tuple[str, bool, str | None]] = {
    "indication": ("biolink:treats", False, "drug"),
    "contraindication": ("biolink:contraindicated_in", False, "drug"),
    "off-label use": ("biolink:applied_to_treat", False, "drug"),
    "disease_phenotype_positive": ("biolink:has_phenotype", False, "disease"),
    "disease_phenotype_negative": ("biolink:has_phenotype", True, "disease"),
    "disease_protein": ("biolink:gene_associated_with_condition", False, "gene/protein"),
    "drug_protein": ("biolink:interacts_with", False, "drug"),
    "drug_effect": ("biolink:has_side_effect", False, "drug"),
    "protein_protein": ("biolink:interacts_with", False, None),
    "drug_drug": ("biolink:interacts_with", False, None),
    "phenotype_protein": ("biolink:gene_associated_with_condition", False, "gene/protein"),
    "exposure_disease": ("biolink:correlated_with", False, "exposure"),
}

_PADDED = {"HPO": ("HP", 7), "MONDO": ("MONDO", 7), "GO": ("GO", 7), "UBERON": ("UBERON", 7)}
_PREFIX = {"NCBI": "NCBIGene", "DrugBank": "DRUGBANK", "REACTOME": "REACT", "CTD": "MESH",
           "MONDO_grouped": "MONDOGROUP"}  # fmt: skip


def primekg_curie(source: str, local: str) -> str:
    """A PrimeKG (source, id) pair as a CURIE: ``("HPO", "1250")`` -> ``HP:0001250``.

    >>> primekg_curie("MONDO", "8019")
    'MONDO:0008019'
    """
    if source in _PADDED:
        prefix, width = _PADDED[source]
        return f"{prefix}:{local.zfill(width)}" if local.isdigit() else f"{prefix}:{local}"
    return f"{_PREFIX.get(source, source)}:{local}"


class PrimeKGLoader(Loader):
    name = "primekg"
    title = "PrimeKG kg.csv (user-supplied)"
    licence = "CC BY 4.0 (PrimeKG; its sources' licences apply)"
    url = "https://github.com/mims-harvard/PrimeKG"
    in_default = False
    files: ClassVar[dict[str, str]] = {"kg": "kg.csv"}
    obtain = "Download kg.csv from PrimeKG's Harvard Dataverse record."

    def __init__(self, directory: str | Path | None = None) -> None:
        if directory is not None and Path(directory).is_file():
            p = Path(directory)
            directory, self.files = p.parent, {"kg": p.name}  # type: ignore[misc]
        super().__init__(directory)

    def load(self, builder: GraphBuilder) -> None:
        builder.register_source(self.info())
        path = self.path("kg")
        stream = builder.stream("kg.csv edges", self.name)
        types: dict[str, tuple[str, int]] = {}  # node -> (its PrimeKG type, the line that first gave it)
        for lineno, row in read_csv(path, header=COLUMNS, what="a PrimeKG edge"):
            stream.read += 1
            rel, _display, _xi, x_id, x_type, x_name, x_src, _yi, y_id, y_type, y_name, y_src = row
            for t in (x_type, y_type):
                if t not in CATEGORY:
                    raise SourceFormatError(path, lineno, f"a node type one of {sorted(CATEGORY)}", found=t)
            x = primekg_curie(x_src, x_id)
            y = primekg_curie(y_src, y_id)
            for node, t in ((x, x_type), (y, y_type)):
                first = types.setdefault(node, (t, lineno))
                if first[0] != t:
                    raise SourceFormatError(
                        path,
                        lineno,
                        f"node {node} to keep the type {first[0]!r} it has on line {first[1]}",
                        found=t,
                        hint="one id names one node: fix the type (or the id) on one of the two lines",
                    )
            builder.add_node(x, CATEGORY[x_type], x_name, source=self.name)
            builder.add_node(y, CATEGORY[y_type], y_name, source=self.name)
            # Relations kgsynth has no directed reading for (PrimeKG lists hierarchies in both
            # directions, so parent and child cannot be told apart) stay symmetric related_to edges.
            predicate, negated, subject_type = RELATION.get(rel, ("biolink:related_to", False, None))
            if subject_type is not None and x_type != subject_type and y_type == subject_type:
                x, y = y, x
            elif subject_type is None and x > y:
                x, y = y, x  # symmetric: one direction, merged with its twin
            builder.add_edge(
                x,
                predicate,
                y,
                source=self.name,
                stream=stream.stream,
                negated=negated,
                qualifiers={"primekg_relation": rel},
            )
