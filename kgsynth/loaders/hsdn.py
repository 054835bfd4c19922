"""HSDN: symptom-disease co-occurrence in the literature (MeSH symptoms, DO diseases)."""

from __future__ import annotations

import logging
from typing import ClassVar

from kgsynth.errors import SourceFormatError
from kgsynth.graph.model import GraphBuilder
from kgsynth.loaders.base import Loader, read_tsv

logger = logging.getLogger(__name__)

HEADER = (
    "symptom_name",
    "disease_name",
    "cooccurs",
    "tfidf_score",
    "disease_id",
    "symptom_id",
    "doid_code",
    "doid_name",
)


class HSDNLoader(Loader):
    """Literature co-occurrence is association, not curation: it is loaded under its own predicate
    (``biolink:occurs_together_in_literature_with``), which no question asks about by default."""

    name = "hsdn"
    title = "Human Symptoms-Disease Network (literature co-occurrence)"
    licence = "CC0 1.0"
    url = "https://doi.org/10.1038/ncomms5212"
    subdir = "hsdn"
    files: ClassVar[dict[str, str]] = {"edges": "symptoms-DO.tsv"}
    obtain = "Download symptoms-DO.tsv (dhimmel/hsdn)."

    def load(self, builder: GraphBuilder) -> None:
        builder.register_source(self.info())
        path = self.path("edges")
        stream = builder.stream("symptoms-DO.tsv co-occurrences", self.name)
        for lineno, f in read_tsv(path, columns=8, header=HEADER, what="a symptom-disease row"):
            stream.read += 1
            symptom, _disease, cooccurs, tfidf, _mesh_disease, symptom_id, doid, doid_name = f[:8]
            try:
                qualifiers = {"cooccurs": int(cooccurs), "tfidf": round(float(tfidf), 4)}
            except ValueError:
                raise SourceFormatError(
                    path,
                    lineno,
                    "an integer cooccurs and a numeric tfidf_score",
                    found=f"{cooccurs}\t{tfidf}",
                ) from None
            if not doid.startswith("DOID:") or not symptom_id.startswith("D"):
                raise SourceFormatError(path, lineno, "a MeSH symptom id Dnnnnnn and a DOID", found="\t".join(f))
            builder.add_node(doid, "biolink:Disease", doid_name, source=self.name)
            builder.add_node(f"MESH:{symptom_id}", "biolink:PhenotypicFeature", symptom, source=self.name)
            builder.add_edge(
                doid,
                "biolink:occurs_together_in_literature_with",
                f"MESH:{symptom_id}",
                source=self.name,
                stream=stream.stream,
                qualifiers=qualifiers,
            )
