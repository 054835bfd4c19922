"""DrugCentral: drug targets (Entrez genes, joined with HPO's genes) and pharmacologic classes."""

from __future__ import annotations

import logging
from typing import ClassVar

from kgsynth.errors import SourceFormatError
from kgsynth.graph.model import GraphBuilder
from kgsynth.loaders.base import Loader, read_tsv

logger = logging.getLogger(__name__)

CLASS_PREFIX = {"CHEBI": "CHEBI", "MeSH": "MESH", "FDA": "NDFRT"}


class DrugCentralLoader(Loader):
    name = "drugcentral"
    title = "DrugCentral (drug targets, pharmacologic classes)"
    licence = "CC BY 4.0"
    url = "https://drugcentral.org"
    subdir = "drugcentral"
    files: ClassVar[dict[str, str]] = {
        "targets": "targets.tsv",
        "drug_classes": "drug-to-class.tsv",
        "classes": "classes.tsv",
    }
    obtain = "Download targets.tsv, drug-to-class.tsv and classes.tsv (dhimmel/drugcentral)."

    def load(self, builder: GraphBuilder) -> None:
        builder.register_source(self.info())
        path = self.path("targets")
        stream = builder.stream("targets.tsv drug targets", self.name)
        for lineno, f in read_tsv(
            path, columns=6, header=("GeneID", "drugbank_id", "drugbank_name"), what="a drug-target row"
        ):
            stream.read += 1
            gene, drugbank, drug, _pmids, _sources, actions = f[:6]
            if not gene.isdigit() or not drugbank.startswith("DB"):
                raise SourceFormatError(path, lineno, "a numeric GeneID and a DrugBank id", found="\t".join(f[:3]))
            builder.add_node(f"DRUGBANK:{drugbank}", "biolink:Drug", drug, source=self.name)
            builder.add_node(f"NCBIGene:{gene}", "biolink:Gene", "", source=self.name)
            builder.add_edge(
                f"DRUGBANK:{drugbank}",
                "biolink:interacts_with",
                f"NCBIGene:{gene}",
                source=self.name,
                stream=stream.stream,
                qualifiers={"action": actions or "unknown"},
            )

        classes: dict[str, tuple[str, str, str]] = {}
        cpath = self.path("classes")
        for lineno, f in read_tsv(
            cpath,
            columns=4,
            header=("class_id", "class_name", "class_source", "class_type"),
            what="a class row",
        ):
            class_id, name, source, kind = f[:4]
            if source not in CLASS_PREFIX:
                raise SourceFormatError(cpath, lineno, f"class_source one of {sorted(CLASS_PREFIX)}", found=source)
            curie = class_id if ":" in class_id else f"{CLASS_PREFIX[source]}:{class_id}"
            classes[class_id] = (curie, name, kind)

        dpath = self.path("drug_classes")
        member = builder.stream("drug-to-class.tsv class memberships", self.name)
        for lineno, f in read_tsv(
            dpath, columns=4, header=("drugbank_id", "drugbank_name", "class_id", "class_name"), what="a row"
        ):
            member.read += 1
            drugbank, drug, class_id, class_name = f[:4]
            if not drugbank.startswith("DB"):
                raise SourceFormatError(dpath, lineno, "a DrugBank id DBnnnnn", found=drugbank)
            if class_id not in classes:
                member.dropped["class id not in classes.tsv"] += 1
                continue
            curie, name, kind = classes[class_id]
            builder.add_node(f"DRUGBANK:{drugbank}", "biolink:Drug", drug, source=self.name)
            builder.add_node(curie, "biolink:OntologyClass", name or class_name, source=self.name)
            builder.add_edge(
                f"DRUGBANK:{drugbank}",
                "biolink:member_of",
                curie,
                source=self.name,
                stream=member.stream,
                qualifiers={"class_type": kind},
            )
