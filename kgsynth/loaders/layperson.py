"""HPO layperson synonyms: plain-language names of phenotypes, for patient-voice question wording."""

from __future__ import annotations

import logging
import re
from typing import ClassVar

from kgsynth.errors import SourceFormatError
from kgsynth.graph.model import GraphBuilder
from kgsynth.loaders.base import Loader, read_tsv

logger = logging.getLogger(__name__)

_IRI = re.compile(r"^<http://purl\.obolibrary\.org/obo/HP_(\d{7})>$")


class LaypersonLoader(Loader):
    """Adds synonyms to HPO terms already in the graph; load it after ``hpo``."""

    name = "hpo_layperson"
    title = "HPO layperson synonyms"
    licence = "HPO licence (free to use with attribution)"
    url = "https://hpo.jax.org"
    subdir = "hpo"
    files: ClassVar[dict[str, str]] = {"synonyms": "layperson-synonyms.tsv"}
    obtain = "Export layperson-synonyms.tsv from the HPO repository (SPARQL over hp.owl layperson synonyms)."

    def load(self, builder: GraphBuilder) -> None:
        builder.register_source(self.info())
        path = self.path("synonyms")
        stream = builder.stream("layperson-synonyms.tsv synonyms", self.name)
        for lineno, f in read_tsv(
            path,
            columns=3,
            header=("?term", "?term_label", "?layperson"),
            strip_quotes=True,
            what="a synonym row",
        ):
            stream.read += 1
            m = _IRI.match(f[0])
            if not m:
                raise SourceFormatError(
                    path, lineno, "an HPO term IRI <http://purl.obolibrary.org/obo/HP_nnnnnnn>", found=f[0]
                )
            curie = f"HP:{m.group(1)}"
            if not builder.has_node(curie):
                stream.dropped["HPO term not in the graph (obsolete, or hpo not loaded)"] += 1
                continue
            stream.kept += 1
            builder.add_node(curie, "biolink:PhenotypicFeature", "", source=self.name, layperson=[f[2]])
