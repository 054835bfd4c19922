"""PharmacotherapyDB: curated drug-disease indications (disease modifying, symptomatic, non-indications)."""

from __future__ import annotations

import logging
from typing import ClassVar

from kgsynth.errors import SourceFormatError
from kgsynth.graph.model import GraphBuilder
from kgsynth.loaders.base import Loader, read_tsv

logger = logging.getLogger(__name__)

CATEGORY = {"DM": "disease modifying", "SYM": "symptomatic", "NOT": "non-indication"}


class PharmacotherapyDBLoader(Loader):
    name = "pharmacotherapydb"
    title = "PharmacotherapyDB 1.0 (curated indications)"
    licence = "CC0 1.0"
    url = "https://doi.org/10.15363/thinklab.d182"
    subdir = "pharmacotherapydb"
    files: ClassVar[dict[str, str]] = {"indications": "indications.tsv"}
    obtain = "Download indications.tsv from PharmacotherapyDB (dhimmel/indications)."

    def load(self, builder: GraphBuilder) -> None:
        builder.register_source(self.info())
        path = self.path("indications")
        stream = builder.stream("indications.tsv indications", self.name)
        header = ("doid_id", "drugbank_id", "disease", "drug", "category")
        for lineno, f in read_tsv(path, columns=5, header=header, what="an indication row"):
            stream.read += 1
            doid, drugbank, disease, drug, category = f[:5]
            if not doid.startswith("DOID:") or not drugbank.startswith("DB") or category not in CATEGORY:
                raise SourceFormatError(
                    path,
                    lineno,
                    "DOID:n, a DrugBank id DBnnnnn and a category DM, SYM or NOT",
                    found="\t".join(f[:5]),
                )
            builder.add_node(doid, "biolink:Disease", disease, source=self.name)
            builder.add_node(f"DRUGBANK:{drugbank}", "biolink:Drug", drug, source=self.name)
            builder.add_edge(
                f"DRUGBANK:{drugbank}",
                "biolink:treats",
                doid,
                source=self.name,
                stream=stream.stream,
                negated=category == "NOT",
                qualifiers={"indication_category": CATEGORY[category]},
            )
