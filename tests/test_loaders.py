"""Every loader on small fixtures: what it yields, and how it reports bad or missing input."""

from __future__ import annotations

import bz2
import gzip
import lzma
import shutil
from pathlib import Path

import pytest

from kgsynth.errors import MissingSourceFileError, SourceFormatError
from kgsynth.graph.model import Graph, GraphBuilder
from kgsynth.loaders import available_loaders, get_loader
from kgsynth.loaders.base import Loader
from kgsynth.loaders.obo import read_obo
from tests.conftest import FIXTURES, mini_directories

FILE_FORMATS = {"obo", "kgx", "primekg"}  # formats of a user's own graph (no bundled release)


@pytest.mark.parametrize("name", sorted(available_loaders()))
def test_every_registered_loader_keeps_the_contract(name: str, tmp_path: Path) -> None:
    cls = available_loaders()[name]
    assert issubclass(cls, Loader) and cls.name == name
    assert cls.title and cls.licence and cls.files and cls.obtain
    assert not cls.opt_in or not cls.commercial_use or name in FILE_FORMATS
    # An empty folder: a clear error naming the missing file and how to obtain it.
    with pytest.raises(MissingSourceFileError) as exc:
        cls(tmp_path).load(GraphBuilder())
    assert str(tmp_path) in str(exc.value) and "--from" in str(exc.value)


def _load(name: str, directory: Path) -> Graph:
    b = GraphBuilder()
    get_loader(name)(directory).load(b)
    return b.build(name=name)


@pytest.mark.parametrize("compress", [None, gzip.open, bz2.open, lzma.open])
def test_read_obo_detects_compression(tmp_path: Path, compress: object) -> None:
    text = (FIXTURES / "hpo" / "hp.obo").read_bytes()
    p = tmp_path / "hp.obo"
    if compress is None:
        p.write_bytes(text)
    else:
        with compress(p, "wb") as fh:  # type: ignore[operator]
            fh.write(text)
    header, terms = read_obo(p)
    terms_list = list(terms)
    assert header["data-version"] == "hp/releases/2025-01-16"
    assert len(terms_list) == 15 and sum(t.obsolete for t in terms_list) == 2
    seizure = next(t for t in terms_list if t.id == "HP:0001250")
    assert ("Fits", "EXACT", "layperson") in seizure.synonyms and seizure.is_a == ["HP:0000707"]


def test_hpo_loader_on_fixture() -> None:
    g = _load("hpo", FIXTURES / "hpo")
    streams = {s["stream"]: s for s in g.report["streams"]}
    terms = streams["hp.obo terms"]
    assert (terms["read"], terms["kept"]) == (15, 13)
    ann = streams["phenotype.hpoa annotations"]
    assert ann["read"] == 12 == ann["kept"] + sum(ann["dropped"].values())
    assert ann["dropped"]["endpoint not a node (unknown or obsolete id)"] == 1  # HP:0009998, no replacement
    seizure = g.node("HP:0001250")
    assert seizure.layperson == ["Fits"] and "Epileptic seizure" in seizure.synonyms
    alpha = g.resolve("OMIM:100001")
    # the obsolete HP:0009999 annotation followed replaced_by to HP:0000252
    e = [g.edge(i) for i in range(g.num_edges) if g.src[i] == alpha]
    assert any(x.object == "HP:0000252" for x in e)
    assert any(x.predicate == "biolink:has_mode_of_inheritance" and x.object == "HP:0000006" for x in e)
    neg = [x for x in e if x.negated]
    assert [(x.predicate, x.object) for x in neg] == [("biolink:has_phenotype", "HP:0000505")]
    assert g.node("ORPHA:558").rare and not g.node("OMIM:100002").rare
    assert g.node("NCBIGene:6323").name == "SCN1A"
    with_q = next(x for x in e if x.object == "HP:0001250")
    assert with_q.qualifiers["frequency"] == "HP:0040281" and with_q.licence.startswith("HPO")


def test_default_sources_join_on_fixture(mini_graph: Graph) -> None:
    g = mini_graph
    alpha = g.node("OMIM:100001")
    # OMIM:100001, ORPHA:558, DOID:1 joined through MONDO:0000001, named by MONDO's label
    assert alpha.id == "MONDO:0000001" and alpha.name == "alpha syndrome"
    assert {"OMIM:100001", "ORPHA:558", "DOID:1"} <= set(alpha.xrefs)
    assert alpha.rare
    # DOID:3 has two OMIM xrefs: ambiguous, not joined; the phenotypic series is only an xref
    delta = g.node("DOID:3")
    assert delta.id == "DOID:3" and "OMIMPS:100000" in delta.xrefs
    # the drug reaches phenotypes and genes across sources through its (joined) disease
    i = g.resolve("DRUGBANK:DB00001")
    treats = [g.edge(e) for e in range(g.num_edges) if g.src[e] == i]
    assert {(t.predicate, t.negated, t.object) for t in treats} == {
        ("biolink:treats", False, "MONDO:0000001"),
        ("biolink:treats", True, "OMIM:100002"),
    }
    assert g.node("DRUGBANK:DB00003").name == "Gammazole"
    assert g.node("NCBIGene:6323").name == "SCN1A"  # DrugCentral gene named by HPO
    assert g.node("HP:0000505").layperson == ["Poor vision"]
    assert "sider" in g.non_commercial_sources()
    # SIDER's UMLS side effect joined to the HPO term through its UMLS xref
    se = [g.edge(e) for e in range(g.num_edges) if g.relations[g.rel[e]] == "biolink:has_side_effect"]
    assert [(x.subject, x.object, x.qualifiers.get("frequency")) for x in se] == [
        ("DRUGBANK:DB00003", "HP:0001250", "5%")
    ]
    streams = {s["stream"]: s for s in g.report["streams"]}
    assert streams["HumanDO.tsv is_a"]["dropped"] == {"parent label names no DO term": 1}
    assert streams["drug-to-class.tsv class memberships"]["dropped"] == {"class id not in classes.tsv": 1}
    assert streams["meddra_all_se.tsv.gz side effects"]["dropped"] == {"STITCH compound without a DrugBank id": 1}
    for s in streams.values():
        assert s["read"] == s["kept"] + sum(s["dropped"].values()), s


# One bad line per source: (source, file, the line to append or a (line number, replacement)).
BAD_LINES = [
    ("hpo", "phenotype.hpoa", "OMIM:1\tX\t\tHP:0000118\tPMID:1\tPCS\t\t\t\t\tQ\tx", "aspect one of"),
    ("hpo", "phenotype.hpoa", "OMIM:1\tX\tHP:0000118", "12 tab-separated fields"),
    ("hpo", "genes_to_phenotype.txt", "abc\tX\tHP:1\tx\t-\tOMIM:1", "numeric ncbi_gene_id"),
    ("hpo", "hp.obo", "[Term]\nname: no id", "id: PREFIX:LOCAL"),
    ("doid", "HumanDO.tsv", '"NOTADOID"\t"x"\t"disease"', "DOID:nnnn"),
    ("doid", "allXREFinDO.tsv", '"DOID:1"\t"x"\t"noprefix"', "PREFIX:ID"),
    ("mondo", "mondo_exactmatch_doid.sssom.tsv", "DOID:1\tx\tskos:exactMatch\tMONDO:1", "MONDO:nnnnnnn"),
    ("pharmacotherapydb", "indications.tsv", "DOID:1\tDB00001\tx\ty\tMAYBE\t1\t1", "DM, SYM or NOT"),
    ("drugcentral", "targets.tsv", "x\tDB1\tn\t\t\t\t", "numeric GeneID"),
    ("hsdn", "symptoms-DO.tsv", "S\tD\tmany\t1.0\tD1\tD2\tDOID:1\td", "integer cooccurs"),
    ("mesh", "tree-numbers.tsv", "D1\tx\t123", "tree number"),
    ("hpo_layperson", "layperson-synonyms.tsv", 'HP:0000505\t"x"\t"y"', "HPO term IRI"),
    ("sider", "indications.tsv", "DB1\tx\t1\tnotastitch\tC\tm\tc\tPT\tC\tn", "STITCH id"),
]


@pytest.mark.parametrize(("source", "filename", "line", "expected"), BAD_LINES)
def test_malformed_line_names_file_and_line(
    tmp_path: Path, source: str, filename: str, line: str, expected: str
) -> None:
    directory = tmp_path / source
    shutil.copytree(mini_directories([source])[source], directory)
    path = directory / filename
    lines_before = path.read_text().count("\n")
    with path.open("a") as fh:
        fh.write(line + "\n")
    b = GraphBuilder()
    if source == "hpo_layperson":
        get_loader("hpo")(FIXTURES / "hpo").load(b)
    with pytest.raises(SourceFormatError) as exc:
        get_loader(source)(directory).load(b)
    err = exc.value
    assert err.path == str(path) and expected in str(err)
    assert err.line == lines_before + 1 or (filename == "hp.obo" and err.line is not None)


def test_kgx_loader(tmp_path: Path) -> None:
    (tmp_path / "nodes.tsv").write_text(
        "id\tcategory\tname\tsynonym\txref\tprovided_by\n"
        "MONDO:0007739\tbiolink:Disease\tHuntington disease\tHD|Huntington chorea\tOMIM:143100\tinfores:mondo\n"
        "HGNC:4851\tbiolink:Gene\tHTT\t\t\tinfores:hgnc\n"
        "HP:0002072\tbiolink:PhenotypicFeature\tChorea\t\t\tinfores:hpo\n"
    )
    (tmp_path / "edges.tsv").write_text(
        "id\tsubject\tpredicate\tobject\tprimary_knowledge_source\tnegated\tfrequency_qualifier\n"
        "e1\tHGNC:4851\tbiolink:gene_associated_with_condition\tMONDO:0007739\tinfores:omim\t\t\n"
        "e2\tMONDO:0007739\tbiolink:has_phenotype\tHP:0002072\tinfores:hpo-annotations\tFalse\tHP:0040281\n"
        "e3\tMONDO:0007739\tbiolink:has_phenotype\tHP:0002072\tinfores:other\tTrue\t\n"
    )
    g = _load("kgx", tmp_path)
    assert g.node("MONDO:0007739").synonyms == ["HD", "Huntington chorea"]
    edges = sorted(
        (e.subject, e.predicate, e.negated, e.source, e.qualifiers.get("frequency_qualifier")) for e in g.iter_edges()
    )
    assert edges == [
        ("HGNC:4851", "biolink:gene_associated_with_condition", False, "infores:omim", None),
        ("MONDO:0007739", "biolink:has_phenotype", False, "infores:hpo-annotations", "HP:0040281"),
        ("MONDO:0007739", "biolink:has_phenotype", True, "infores:other", None),
    ]
    (tmp_path / "edges.tsv").write_text("subject\tpredicate\tobject\nA:1\trelated\tB:1\n")
    with pytest.raises(SourceFormatError, match=r"edges.tsv:2: expected a biolink: predicate"):
        _load("kgx", tmp_path)


PRIMEKG_HEADER = "relation,display_relation,x_index,x_id,x_type,x_name,x_source,y_index,y_id,y_type,y_name,y_source\n"


def test_primekg_loader(tmp_path: Path) -> None:
    (tmp_path / "kg.csv").write_text(
        PRIMEKG_HEADER
        + "indication,indication,1,DB00215,drug,Citalopram,DrugBank,2,5090,disease,depression,MONDO\n"
        + "indication,indication,2,5090,disease,depression,MONDO,1,DB00215,drug,Citalopram,DrugBank\n"
        + "disease_phenotype_positive,phenotype present,2,5090,disease,depression,MONDO,3,716,effect/phenotype,"
        '"Depressivity, mood",HPO\n'
        + "disease_protein,associated with,2,5090,disease,depression,MONDO,4,6532,gene/protein,SLC6A4,NCBI\n"
        + "protein_protein,ppi,4,6532,gene/protein,SLC6A4,NCBI,5,1,gene/protein,A1BG,NCBI\n"
        + "protein_protein,ppi,5,1,gene/protein,A1BG,NCBI,4,6532,gene/protein,SLC6A4,NCBI\n"
    )
    g = _load("primekg", tmp_path)
    edges = sorted((e.subject, e.predicate, e.object) for e in g.iter_edges())
    assert edges == [
        ("DRUGBANK:DB00215", "biolink:treats", "MONDO:0005090"),
        ("MONDO:0005090", "biolink:has_phenotype", "HP:0000716"),
        ("NCBIGene:1", "biolink:interacts_with", "NCBIGene:6532"),
        ("NCBIGene:6532", "biolink:gene_associated_with_condition", "MONDO:0005090"),
    ]
    assert g.node("HP:0000716").name == "Depressivity, mood"
    stream = g.report["streams"][0]
    assert stream["read"] == 6 and stream["kept"] == 4
    with (tmp_path / "kg.csv").open("a") as fh:
        fh.write("indication,x,1,DB1,drug,X,DrugBank,2,1,planet,Mars,NASA\n")
    with pytest.raises(SourceFormatError, match=r"kg.csv:8: expected a node type"):
        _load("primekg", tmp_path)


def test_obo_loader_any_ontology(tmp_path: Path) -> None:
    p = tmp_path / "mini.obo.gz"
    with gzip.open(p, "wt") as fh:
        fh.write(
            "format-version: 1.4\n\n[Term]\nid: XO:1\nname: root\n\n[Term]\nid: XO:2\nname: leaf\n"
            'is_a: XO:1 {source="x"} ! root\n\n[Typedef]\nid: part_of\nname: part of\n'
        )
    b = GraphBuilder()
    get_loader("obo")(p).load(b)
    g = b.build()
    assert g.ids == ["XO:1", "XO:2"]
    assert [(e.subject, e.object) for e in g.iter_edges()] == [("XO:2", "XO:1")]
