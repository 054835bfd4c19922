"""MONDO exact-match mappings (SSSOM): the identity joins between OMIM, Orphanet and DO."""

from __future__ import annotations

import logging
from typing import ClassVar

from kgsynth.errors import SourceFormatError
from kgsynth.graph.model import GraphBuilder
from kgsynth.loaders.base import Loader, read_tsv

logger = logging.getLogger(__name__)

SSSOM_HEADER = ("subject_id", "subject_label", "predicate_id", "object_id", "object_label")


class MondoLoader(Loader):
    """Adds no nodes of its own: each exact match joins a MONDO id with an OMIM, Orphanet or DO id,
    and MONDO's label names the joined disease."""

    name = "mondo"
    title = "MONDO exact-match mappings to OMIM, Orphanet and DO (SSSOM)"
    licence = "CC BY 4.0"
    url = "https://mondo.monarchinitiative.org"
    subdir = "mondo"
    id_prefixes = ("MONDO",)
    files: ClassVar[dict[str, str]] = {
        "doid": "mondo_exactmatch_doid.sssom.tsv",
        "omim": "mondo_exactmatch_omim.sssom.tsv",
        "orphanet": "mondo_exactmatch_orphanet.sssom.tsv",
    }
    obtain = "Download mondo_exactmatch_{doid,omim,orphanet}.sssom.tsv from the MONDO repository's mappings."

    def load(self, builder: GraphBuilder) -> None:
        builder.register_source(self.info())
        for role in self.files:
            path = self.path(role)
            stream = builder.stream(f"{path.name} mappings", self.name)
            for lineno, f in read_tsv(path, columns=4, header=SSSOM_HEADER, comment="#", what="an SSSOM mapping"):
                stream.read += 1
                subject, label, predicate, obj = f[:4]
                if not subject.startswith("MONDO:") or ":" not in obj:
                    raise SourceFormatError(
                        path,
                        lineno,
                        "subject_id MONDO:nnnnnnn and a PREFIX:ID object_id",
                        found="\t".join(f[:4]),
                    )
                if predicate != "skos:exactMatch":
                    stream.dropped[f"predicate {predicate} is not an exact match"] += 1
                    continue
                stream.kept += 1
                builder.add_label(subject, label)
                builder.add_equivalence(subject, obj, source=self.name)
