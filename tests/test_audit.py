"""`kgsynth audit`: each planted defect is found, a clean item is not flagged, and a real run is counted right.

The hand-made items use real entities of the default KG (`real_graph`), so the checks that read the
graph (HPO is_a, PharmacotherapyDB's indication categories) read the real thing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from kgsynth.graph.model import Graph
from kgsynth.questions.item import LETTERS, Answer, Constraint, Distractor, Item, Option, Triple
from kgsynth.run.audit import audit_items, normalize_name
from kgsynth.run.journal import Progress, ShardLog

# The defect metrics (counts); a clean item has zero in every one of them.
DEFECTS = (
    "raw_id_options",
    "raw_id_keys",
    "leaking_findings",
    "stems_naming_diagnosis",
    "synonym_distractors",
    "ancestor_distractors",
    "descendant_distractors",
    "bad_pattern_stems",
    "symptomatic_indications",
    "organ_system_keys",
    "mixed_option_casing",
    "circular_keys",
    "own_class_keys",
)


def kgsynth(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KGSYNTH_CACHE_DIR": str(cache), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "kgsynth.cli", *args], capture_output=True, text=True, env=env, timeout=600
    )


def triple(g: Graph, subject: str, predicate: str, obj: str) -> Triple:
    s, o = g.resolve(subject), g.resolve(obj)
    return Triple(subject=g.ids[s], subject_name=g.names[s], predicate=predicate, object=g.ids[o],
                  object_name=g.names[o], source="test", licence="test")  # fmt: skip


def aliases(g: Graph, curie: str) -> list[str]:
    i = g.resolve(curie)
    return list(dict.fromkeys([g.names[i], *g.synonyms[i], *g.layperson[i]]))


def make_item(
    g: Graph,
    ident: str,
    *,
    answer: str,
    wrong: list[str],
    path: list[Triple],
    question: str = "Which of the following fits best?",
    texts: dict[str, str] | None = None,
    constraints: list[Constraint] | None = None,
    qtype: str = "chain",
) -> Item:
    """An MCQ item with the answer at A and ``wrong`` as distractors (option text: the graph's name with
    a capital initial, unless ``texts`` says otherwise)."""
    texts = texts or {}
    ids = [answer, *wrong]
    names = [g.names[g.resolve(c)] for c in ids]
    options = [
        Option(letter=LETTERS[k], curie=c, text=texts.get(c, names[k][:1].upper() + names[k][1:]))
        for k, c in enumerate(ids)
    ]
    start = {"entity": path[0].subject}
    entities = list(dict.fromkeys([t.subject for t in path] + [t.object for t in path] + [answer]))
    return Item(
        id=ident,
        question=question,
        options=options,
        answer=Answer(letter="A", curie=answer, name=options[0].text, aliases=aliases(g, answer)),
        type=qtype,  # type: ignore[arg-type]
        format="mcq",
        hops=len(path),
        path=path,
        constraints=constraints or [Constraint(description="start", kind="start", candidates_after=1, args=start)],
        distractors=[
            Distractor(curie=o.curie, name=o.text, letter=o.letter, failed_constraint=0, rule="negative_evidence")
            for o in options[1:]
        ],
        rarity=0.5,
        template_id="test",
        kg_version=g.version,
        seed=0,
        rationale="",
        licences=["test"],
        entity_aliases={c: aliases(g, c) for c in entities},
    )


def vignette(g: Graph, ident: str, disease: str, findings: list[str], wrong: list[str], **kw: Any) -> Item:
    path = [triple(g, disease, "biolink:has_phenotype", p) for p in findings]
    constraints = [
        Constraint(description=f"has {p}", kind="has_phenotype", candidates_after=1, args={"phenotype": p})
        for p in findings
    ]
    question = "A patient presents with " + ", ".join(t.object_name.lower() for t in path) + ". Diagnosis?"
    return make_item(g, ident, answer=disease, wrong=wrong, path=path, question=question, constraints=constraints,
                     qtype="vignette", **kw)  # fmt: skip


def disease_modifying_edge(g: Graph) -> tuple[str, str]:
    part = g.relation_slice("biolink:treats")
    for e in range(part.start, part.stop):
        edge = g.edge(e)
        if edge.qualifiers.get("indication_category") == "disease modifying":
            return edge.subject, edge.object
    raise AssertionError("the default KG has no disease-modifying indication")


def first_edge(g: Graph, relation: str) -> tuple[str, str]:
    part = g.relation_slice(relation)
    return g.ids[int(g.src[part.start])], g.ids[int(g.dst[part.start])]


TOURETTE, ASTHMA = "MONDO:0007661", "MONDO:0004979"
MARFAN, CF = "MONDO:0007947", "MONDO:0009061"
ECHOLALIA, AGGRESSION, ASTHMA_HP = "HP:0010529", "HP:0000718", "HP:0002099"
VSD, SEPTUM, PERIMEMBRANOUS_VSD = "HP:0001629", "HP:0001671", "HP:0011682"


def planted(g: Graph) -> dict[str, tuple[Item, dict[str, int]]]:
    """Items each with one planted defect, and the defect counts the audit must report for it alone."""
    clean = vignette(g, "clean", TOURETTE, [ECHOLALIA, AGGRESSION], [MARFAN, CF])
    drug, dm_disease = disease_modifying_edge(g)
    member, klass = first_edge(g, "biolink:member_of")
    gene_path = [triple(g, TOURETTE, "biolink:has_phenotype", ECHOLALIA)]
    vsd_path = [triple(g, TOURETTE, "biolink:has_phenotype", ECHOLALIA)]
    return {
        "clean": (clean, {}),
        "clean disease-modifying chain": (
            make_item(
                g, "dm", answer=dm_disease, wrong=[MARFAN, CF], path=[triple(g, drug, "biolink:treats", dm_disease)]
            ),
            {},
        ),
        "raw identifier option": (
            make_item(g, "rawid", answer="NCBIGene:1813", wrong=["NCBIGene:496", "NCBIGene:2898"], path=gene_path),
            {"raw_id_options": 1},
        ),
        "raw identifier key": (
            make_item(g, "rawkey", answer="NCBIGene:496", wrong=["NCBIGene:1813", "NCBIGene:2898"], path=gene_path),
            {"raw_id_options": 1, "raw_id_keys": 1},
        ),
        "finding names the diagnosis": (
            vignette(g, "leak", ASTHMA, [ASTHMA_HP, AGGRESSION], [MARFAN, CF]),
            {"leaking_findings": 1, "stems_naming_diagnosis": 1},
        ),
        "cross-vocabulary synonym distractor": (
            make_item(g, "synonym", answer="CHEBI:50177", wrong=["MESH:D003879", "MESH:D000982"], path=gene_path),
            {"synonym_distractors": 1, "mixed_option_casing": 1},  # "Dermatologic Agents" is title case
        ),
        "ancestor and descendant distractors": (
            make_item(g, "hierarchy", answer=VSD, wrong=[SEPTUM, PERIMEMBRANOUS_VSD, ASTHMA_HP], path=vsd_path),
            {"ancestor_distractors": 1, "descendant_distractors": 1},
        ),
        "which X is a X stem": (
            make_item(
                g,
                "stem",
                answer=MARFAN,
                wrong=[CF, ASTHMA],
                path=gene_path,
                question="Which drug class is a drug class that includes a drug for asthma?",
                texts={CF: "cystic fibrosis"},
            ),
            {"bad_pattern_stems": 1, "mixed_option_casing": 1},
        ),
        "knowledge-graph stem": (
            make_item(
                g,
                "kgstem",
                answer=MARFAN,
                wrong=[CF, ASTHMA],
                path=gene_path,
                question="Following the knowledge graph from Timolol, name a condition.",
            ),
            {"bad_pattern_stems": 1},
        ),
        "symptomatic indication": (
            make_item(
                g,
                "sym",
                answer=TOURETTE,
                wrong=[MARFAN, CF],
                path=[triple(g, "DRUGBANK:DB00502", "biolink:treats", TOURETTE)],
            ),
            {"symptomatic_indications": 1},
        ),
        "key restating its path": (
            make_item(
                g,
                "circular",
                answer=ASTHMA_HP,
                wrong=[ECHOLALIA, VSD],
                path=[triple(g, ASTHMA, "biolink:has_phenotype", ASTHMA_HP)],
            ),
            {"circular_keys": 1},
        ),
        "the start drug's own class as key": (
            make_item(
                g,
                "ownclass",
                answer=klass,
                wrong=[MARFAN, CF],
                path=[triple(g, member, "biolink:member_of", klass)],
                texts={MARFAN: "A class", CF: "B class", klass: "C class"},
            ),
            {"own_class_keys": 1},
        ),
        "organ-system key": (
            make_item(g, "organ", answer="HP:0001626", wrong=[ECHOLALIA, ASTHMA_HP], path=vsd_path),
            {"organ_system_keys": 1},
        ),
    }


@pytest.fixture(scope="module")
def cases(real_graph: Graph) -> dict[str, tuple[Item, dict[str, int]]]:
    return planted(real_graph)


@pytest.mark.parametrize(
    "case",
    [
        "clean",
        "clean disease-modifying chain",
        "raw identifier option",
        "raw identifier key",
        "finding names the diagnosis",
        "cross-vocabulary synonym distractor",
        "ancestor and descendant distractors",
        "which X is a X stem",
        "knowledge-graph stem",
        "symptomatic indication",
        "key restating its path",
        "the start drug's own class as key",
        "organ-system key",
    ],
)
def test_each_planted_defect_is_found_and_nothing_else(real_graph: Graph, cases: dict, case: str) -> None:
    item, expected = cases[case]
    metrics = audit_items([item], graph=real_graph)["metrics"]
    assert {k: metrics[k] for k in DEFECTS} == {k: expected.get(k, 0) for k in DEFECTS}


def test_own_class_is_judged_from_the_start_entity_not_the_first_triple(real_graph: Graph) -> None:
    g = real_graph
    part = g.relation_slice("biolink:member_of")
    haloperidol = g.resolve("DRUGBANK:DB00502")
    klass = g.ids[int(g.dst[part][g.src[part] == haloperidol][0])]
    path = [
        triple(g, "DRUGBANK:DB00502", "biolink:treats", TOURETTE),
        triple(g, "DRUGBANK:DB00502", "biolink:member_of", klass),
    ]
    item = make_item(g, "from-disease", answer=klass, wrong=[MARFAN, CF], path=path)
    for start, expected in ((TOURETTE, 0), ("DRUGBANK:DB00502", 1)):
        stated = Constraint(description="start", kind="start", candidates_after=1, args={"entity": start})
        audited = item.model_copy(update={"constraints": [stated]})
        assert audit_items([audited], graph=g)["metrics"]["own_class_keys"] == expected


def test_indication_categories_and_spread(real_graph: Graph, cases: dict) -> None:
    items = [item for item, _ in cases.values()]
    audit = audit_items(items, graph=real_graph)
    m = audit["metrics"]
    assert (m["symptomatic_indications"], m["disease_modifying_indications"]) == (1, 1)
    # 2 vignettes over 2 diagnoses; 13 items over 11 keys (MARFAN and TOURETTE twice each)
    assert m["vignettes"] == 2 and m["top10_diagnosis_share"] == 1.0
    assert m["top10_key_share"] == round(12 / 13, 4) and audit["details"]["top_keys"][MARFAN] == 2
    assert m["letter_imbalance"] == pytest.approx(3.0)  # every key at A: A = 4x the mean of A-D
    assert audit["skipped"] == {}


def test_without_the_graph_graph_checks_are_skipped_not_zero(cases: dict) -> None:
    items = [item for item, _ in cases.values()]
    audit = audit_items(items)
    m = audit["metrics"]
    for key in ("ancestor_distractors", "descendant_distractors", "symptomatic_indications", "own_class_keys"):
        assert m[key] is None and key in audit["skipped"]
    assert m["leaking_findings"] == 1 and m["synonym_distractors"] == 1 and m["raw_id_options"] == 2


def test_normalisation_joins_vocabularies_but_not_different_classes() -> None:
    assert normalize_name("Cytochrome P450 3A Inducers") != normalize_name("Cytochrome P450 3A4 Inducers")
    assert normalize_name("Anti-Inflammatory Agents") == normalize_name("anti-inflammatory drugs")
    assert normalize_name("Antipruritics") != normalize_name("dermatologic drug")


def write_run(tmp_path: Path, items: list[Item], g: Graph) -> Path:
    run = tmp_path / "run"
    (run / "jsonl").mkdir(parents=True)
    record = {"kg": {"name": g.name, "version": g.version, "sources": [s.model_dump() for s in g.sources],
                     "non_commercial_sources": []}}  # fmt: skip
    (run / "config.json").write_text(json.dumps(record))
    (run / "summary.json").write_text(json.dumps({"items": len(items)}))
    (run / "README.md").write_text("# a card\n")
    shards = ShardLog(run / "jsonl", [])
    shards.append(0, [it.model_dump_json() + "\n" for it in items])
    (run / "progress.json").write_text(Progress(accepted=len(items), shards=shards.records()).model_dump_json())
    return run


def test_cli_writes_summary_and_card_and_fails_on_thresholds(real_graph: Graph, cases: dict, tmp_path: Path) -> None:
    run = write_run(tmp_path, [item for item, _ in cases.values()], real_graph)
    r = kgsynth("audit", str(run), "--no-graph", "--fail-on", "leaking_findings=1", "--fail-on", "raw_id_options=2",
                cache=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "leaking_findings" in r.stdout and "not checked" in r.stdout
    card = (run / "README.md").read_text()
    assert card.startswith("# a card\n") and card.count("## Audit") == 1 and "| leaking_findings | 1 |" in card
    summary = json.loads((run / "summary.json").read_text())
    assert summary["items"] == len(cases) and summary["audit"]["metrics"]["synonym_distractors"] == 1
    before = {p: p.read_bytes() for p in (run / "README.md", run / "summary.json")}
    r = kgsynth("audit", str(run), "--no-graph", "--json", "--fail-on", "leaking_findings=0", cache=tmp_path)
    assert r.returncode == 1
    assert "leaking_findings = 1 exceeds 0" in r.stderr and "Traceback" not in r.stderr
    assert json.loads(r.stdout)["metrics"]["leaking_findings"] == 1
    assert {p: p.read_bytes() for p in before} == before  # a second audit rewrites the same bytes
    r = kgsynth("audit", str(run), "--no-graph", "--fail-on", "organ_system_keys=0", cache=tmp_path)
    assert r.returncode == 1 and "not checked" in r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fail-on", "leaking_findings"], "expected KEY=NUMBER"),
        (["--fail-on", "no_such_metric=1"], "no such audit metric"),
    ],
)
def test_cli_bad_input_is_a_clear_error(real_graph: Graph, cases: dict, tmp_path: Path, args, message) -> None:
    run = write_run(tmp_path, [cases["clean"][0]], real_graph)
    r = kgsynth("audit", str(run), "--no-graph", *args, cache=tmp_path)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


def test_cli_torn_tail_is_told_from_an_edit_and_a_missing_run_is_a_clear_error(
    real_graph: Graph, cases: dict, tmp_path: Path
) -> None:
    r = kgsynth("audit", str(tmp_path / "nowhere"), "--no-graph", cache=tmp_path)
    assert r.returncode == 2 and "no generated run" in r.stderr
    run = write_run(tmp_path, [cases["clean"][0]], real_graph)
    shard = run / "jsonl" / "items-00000.jsonl"
    committed = shard.read_bytes()
    with shard.open("a") as fh:
        fh.write('{"id": "torn')  # what a run killed mid-write leaves after its last commit
    r = kgsynth("audit", str(run), "--no-graph", "--json", cache=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "torn tail a killed run left" in r.stderr and "changed after it was committed" not in r.stderr
    assert json.loads(r.stdout)["metrics"]["items"] == 1
    assert shard.read_bytes() == committed + b'{"id": "torn'  # left for the run's resume to cut
    edited = committed.replace(b'"letter":"A"', b'"letter":"B"', 1)  # an edit of a committed line
    assert edited != committed
    shard.write_bytes(edited)
    r = kgsynth("audit", str(run), "--no-graph", cache=tmp_path)
    assert r.returncode == 2 and "items-00000.jsonl was changed after it was committed" in r.stderr
    assert "Traceback" not in r.stderr


def test_real_run_counts_agree_with_an_independent_recount(real_graph: Graph, cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "gen"
    r = kgsynth("generate", "--n", "200", "--hops", "2", "--no-compare-uniform", "--out", str(out), cache=cache_dir)
    assert r.returncode == 0, r.stderr
    r = kgsynth("audit", str(out), "--json", cache=cache_dir)
    assert r.returncode == 0, r.stderr
    audit = json.loads(r.stdout)
    m = audit["metrics"]
    assert audit["skipped"] == {} and audit["graph"]["version"] == real_graph.version
    items = [Item.model_validate_json(line) for p in sorted((out / "jsonl").glob("*.jsonl")) for line in p.open()]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["audit"] == audit
    assert m["items"] == len(items) == 200
    curie = re.compile(r"^[A-Za-z][\w.-]*:\S+$")
    assert m["raw_id_options"] == sum(bool(curie.match(o.text)) for it in items for o in it.options)
    assert audit["details"]["distractor_rules"] == summary["distractor_rules"]
    assert audit["details"]["gold_letters"] == summary["gold_letter_counts"]
    keys = Counter(it.answer.curie for it in items)
    assert m["top10_key_share"] == round(sum(c for _, c in keys.most_common(10)) / len(items), 4)
    treats = [it for it in items if any(t.predicate == "biolink:treats" for t in it.path)]
    assert audit["details"]["items_through_treats"] == len(treats)
    assert m["symptomatic_indications"] + m["disease_modifying_indications"] >= len(treats) > 0
    for key, examples in audit["examples"].items():
        assert m.get(key, 1), key  # an example is only given for a defect that was counted
        assert all(e.split(":")[0].split(" ")[0] in {it.id for it in items} for e in examples)


def _tiny_item(ident: str, start: str, answer: str, wrong: list[str]) -> Item:
    ids = [answer, *wrong]
    return Item(
        id=ident, question="Which?", options=[Option(letter=LETTERS[k], curie=c, text=c) for k, c in enumerate(ids)],
        answer=Answer(letter="A", curie=answer, name=answer), type="chain", format="mcq", hops=1, path=[],
        constraints=[Constraint(description="start", kind="start", candidates_after=1, args={"entity": start})],
        distractors=[Distractor(curie=c, name=c, letter=LETTERS[k + 1], failed_constraint=0, rule="r")
                     for k, c in enumerate(wrong)],
        rarity=0.0, template_id="t", kg_version="v", seed=0, rationale="", licences=[],
    )  # fmt: skip


def test_association_and_popularity_shortcuts_on_a_hand_checked_graph() -> None:
    """Two components: S-K-M, and a hub A (5 neighbours) beside T-X-Y. From S only K and M are reachable;
    from T, A is one step away and Y two. Item 1: key K is most associated, A most popular. Item 2: key Y,
    but A (a distractor) is more associated and more popular. Item 3: key A, first by both."""
    from kgsynth.graph.model import GraphBuilder, SourceInfo

    b = GraphBuilder()
    b.register_source(SourceInfo(name="s", title="s", licence="CC0"))
    for n in ("S", "K", "M", "A", "B", "C", "P1", "P2", "P3", "P4", "T", "X", "Y"):
        b.add_node(f"D:{n}", "biolink:Disease", n, source="s")
    b.stream("x", "s")
    for s, o in (("S", "K"), ("K", "M"), ("A", "P1"), ("A", "P2"), ("A", "P3"), ("A", "P4"), ("B", "P1"),
                 ("C", "P2"), ("T", "A"), ("T", "X"), ("X", "Y")):  # fmt: skip
        b.add_edge(f"D:{s}", "biolink:subclass_of", f"D:{o}", source="s", stream="x")
    g = b.build()
    items = [
        _tiny_item("1", "D:S", "D:K", ["D:A", "D:B", "D:C"]),
        _tiny_item("2", "D:T", "D:Y", ["D:A", "D:B", "D:C"]),
        _tiny_item("3", "D:T", "D:A", ["D:Y", "D:B", "D:C"]),
    ]
    m = audit_items(items, graph=g)["metrics"]
    assert m["association_shortcut_rate"] == round(2 / 3, 4)
    assert m["popularity_shortcut_rate"] == round(1 / 3, 4)
    assert m["key_alone_in_area"] == 0 and m["non_therapeutic_options"] == 0  # no organ system, no class
    assert audit_items(items[:1], graph=g)["metrics"]["association_shortcut_rate"] == 1.0
    assert audit_items(items[1:2], graph=g)["metrics"]["association_shortcut_rate"] == 0.0


def test_non_therapeutic_options_and_key_alone_in_area(real_graph: Graph) -> None:
    g = real_graph
    arrhythmia, hypertension, cns, infection = "MESH:D000889", "MESH:D000959", "MESH:D002491", "MESH:D000890"
    contrast, solvents = "MESH:D003287", "MESH:D012997"  # Specialty Uses of Chemicals, not a therapeutic use
    start = [triple(g, "DRUGBANK:DB00502", "biolink:treats", TOURETTE)]
    clean = make_item(g, "clean-classes", answer=arrhythmia, wrong=[hypertension, cns, infection], path=start)
    dirty = make_item(g, "dirty-classes", answer=arrhythmia, wrong=[contrast, solvents, cns], path=start)
    m = audit_items([clean], graph=g)["metrics"]
    assert (m["non_therapeutic_options"], m["key_alone_in_area"]) == (0, 0)  # two cardiovascular options
    m = audit_items([dirty], graph=g)["metrics"]
    assert (m["non_therapeutic_options"], m["key_alone_in_area"]) == (2, 1)  # the only cardiovascular option
