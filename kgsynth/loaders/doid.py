"""The Human Disease Ontology (DO): terms, hierarchy, cross-references and the rare-disease slim."""

from __future__ import annotations

import logging
from typing import ClassVar

from kgsynth.errors import SourceFormatError
from kgsynth.graph.model import GraphBuilder, normalize_curie
from kgsynth.loaders.base import Loader, read_tsv
from kgsynth.loaders.obo import read_obo

logger = logging.getLogger(__name__)

# DO xref prefixes that name the same disease in another namespace kgsynth joins on.
JOIN_PREFIXES = ("MIM", "ORDO", "MESH")


class DOIDLoader(Loader):
    name = "doid"
    title = "Human Disease Ontology (terms, is_a, xrefs, DO rare slim)"
    licence = "CC0 1.0"
    url = "https://disease-ontology.org"
    subdir = "doid"
    files: ClassVar[dict[str, str]] = {
        "terms": "HumanDO.tsv",
        "xrefs": "allXREFinDO.tsv",
        "rare_slim": "DO_rare_slim.obo",
    }
    obtain = "Download the DO release reports (HumanDO.tsv, allXREFinDO.tsv, DO_rare_slim.obo) from the DO repository."

    def load(self, builder: GraphBuilder) -> None:
        builder.register_source(self.info())
        terms_path = self.path("terms")
        terms = builder.stream("HumanDO.tsv terms", self.name)
        isa = builder.stream("HumanDO.tsv is_a", self.name)
        by_label: dict[str, str] = {}
        parents: list[tuple[str, str]] = []
        seen: set[str] = set()
        for lineno, (doid, label, parent, *_) in read_tsv(
            terms_path,
            columns=3,
            header=("id", "label", "subClassOf"),
            strip_quotes=True,
            what="a DO term row",
        ):
            if not doid.startswith("DOID:"):
                raise SourceFormatError(terms_path, lineno, "a DOID:nnnn id", found=doid)
            if doid not in seen:  # a term with several parents has one row per parent
                seen.add(doid)
                terms.read += 1
                terms.kept += 1
            by_label[label] = doid
            builder.add_node(doid, "biolink:Disease", label, source=self.name)
            if parent:
                parents.append((doid, parent))
        for doid, parent_label in parents:
            isa.read += 1
            parent_id = by_label.get(parent_label)
            if parent_id is None:
                isa.dropped["parent label names no DO term"] += 1
                continue
            builder.add_edge(doid, "biolink:subclass_of", parent_id, source=self.name, stream=isa.stream)

        xref_path = self.path("xrefs")
        xrefs = builder.stream("allXREFinDO.tsv xrefs", self.name)
        for lineno, (doid, _label, xref, *_) in read_tsv(
            xref_path, columns=3, header=("id", "label", "xref"), strip_quotes=True, what="a DO xref row"
        ):
            xrefs.read += 1
            if ":" not in xref:
                raise SourceFormatError(xref_path, lineno, "an xref PREFIX:ID", found=xref)
            if not builder.has_node(doid):
                xrefs.dropped["DO id not among the terms"] += 1
                continue
            xrefs.kept += 1
            prefix, _, local = xref.partition(":")
            if prefix == "MIM" and local.startswith("PS"):
                # An OMIM phenotypic series groups many diseases: an xref, never an identity.
                builder.add_node(doid, "biolink:Disease", "", source=self.name, xrefs=[f"OMIMPS:{local[2:]}"])
                continue
            target = normalize_curie(xref)
            builder.add_node(doid, "biolink:Disease", "", source=self.name, xrefs=[target])
            if prefix in JOIN_PREFIXES:
                builder.add_equivalence(doid, target, source=self.name)

        slim = builder.stream("DO_rare_slim.obo rare diseases", self.name)
        _, rare_terms = read_obo(self.path("rare_slim"))
        for term in rare_terms:
            slim.read += 1
            if term.obsolete or not builder.has_node(term.id):
                slim.dropped["obsolete or not among the DO terms"] += 1
                continue
            slim.kept += 1
            builder.add_node(
                term.id,
                "biolink:Disease",
                term.name,
                source=self.name,
                synonyms=[s for s, scope, _ in term.synonyms if scope == "EXACT"],
                rare=True,
            )
